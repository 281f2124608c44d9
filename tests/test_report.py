"""The demo's report page: every stage with its time, figures, tables and images, safe HTML, written atomically."""
from walt3d_studio.report import write_report


def test_report_lists_every_stage_with_figures_tables_and_images(tmp_path):
    steps = [{"stage": "mining", "summary": "41 frames, 3 tracks <usable>", "seconds": 2.5,
              "figures": {"mined": 12}},
             {"stage": "evaluation", "summary": "AP by occlusion", "seconds": 1.0,
              "table": {"header": ["occlusion", "AP mask"], "rows": [["0-20%", 0.5]]},
              "images": [("plots/occlusion.png", "AP mask against occlusion")]}]
    out = write_report(tmp_path / "report.html", "Demo", steps, total_seconds=210.0)
    text = out.read_text()
    assert text.count("<h2>") == 2 and "3.5 min in all" in text
    assert "&lt;usable&gt;" in text and "<usable>" not in text          # summaries are escaped
    assert "<li>mined: 12</li>" in text and "<td class=n>0.500</td>" in text and "<td>0-20%</td>" in text
    assert "<img src='plots/occlusion.png'" in text
    assert [p.name for p in tmp_path.iterdir()] == ["report.html"]    # no temp file left beside it


def test_report_shows_cpu_time_per_stage_and_in_all(tmp_path):
    steps = [{"stage": "training", "summary": "2 runs", "seconds": 300.0, "cpu_seconds": 120.5},
             {"stage": "evaluation", "summary": "AP", "seconds": 60.0, "cpu_seconds": 30.0}]
    text = write_report(tmp_path / "report.html", "Demo", steps, total_seconds=360.0,
                        total_cpu_seconds=150.5).read_text()
    assert "6.0 min in all (2.5 min of CPU time)" in text
    assert "<th class=n>CPU seconds</th>" in text and "<td class=n>120.5</td>" in text
    assert "300.0 s, 120.5 s CPU" in text

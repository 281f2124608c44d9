"""The Quick start's main job: the demo project built from the bundled footage."""
from walt3d_studio.cli import main
from walt3d_studio.store import Project


def test_demo_builds_a_calibrated_mined_project_and_rebuilds_in_place(tmp_path, capsys):
    assert main(["--quiet", "demo", "--project-only", str(tmp_path)]) == 0
    assert main(["--quiet", "demo", "--project-only", str(tmp_path)]) == 0  # running it again rebuilds, not fails
    out = capsys.readouterr().out
    assert "parking-lot: mined 41 frames" in out
    with Project.open(tmp_path / "demo.walt3d", readonly=True) as p:
        info = {c["name"]: c for c in p.info()["cameras"]}
    assert info["parking-lot"]["frames"] == 41 and info["top-down"]["frames"] == 377
    for cam in info.values():
        assert cam["calibration"] is not None and cam["backgrounds"] and cam["detections"] > 0


def test_demo_refuses_to_replace_a_project_it_did_not_build(tmp_path, capsys):
    Project.create(tmp_path / "demo").close()
    assert main(["demo", str(tmp_path)]) == 2
    assert "is not a demo project" in capsys.readouterr().err
    assert (tmp_path / "demo.walt3d" / "project.sqlite").exists()


def test_rebuilding_the_demo_keeps_a_project_people_worked_in(tmp_path, capsys):
    from walt3d_studio.store.detections import detection_table, label_detections

    assert main(["--quiet", "demo", "--project-only", str(tmp_path)]) == 0
    with Project.open(tmp_path / "demo.walt3d") as p:
        t = detection_table(p)
        label_detections(p, t.id[:3].tolist(), "O", who="alice")
    assert main(["demo", "--project-only", str(tmp_path)]) == 0
    assert "held people's work; it was moved to" in capsys.readouterr().out
    kept = list(tmp_path.glob("demo.walt3d.previous-*"))
    assert len(kept) == 1
    with Project.open(kept[0], readonly=True) as p:  # alice's labels are all there
        assert p.conn.execute("SELECT COUNT(*) FROM labels WHERE who = 'alice'").fetchone()[0] == 3
    with Project.open(tmp_path / "demo.walt3d", readonly=True) as p:  # and the new demo starts clean
        assert p.conn.execute("SELECT COUNT(*) FROM labels").fetchone()[0] == 0

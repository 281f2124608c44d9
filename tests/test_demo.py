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

"""The `walt3d` command on the ground-floor subcommands, as a user types them."""
import json

import pytest

from walt3d_studio.cli import main

from conftest import GIF, REPO

LINES = REPO / "resources" / "demo" / "parking-lot-person-bicycle-car.lines.json"


def run(*args):
    return main(["--quiet", *map(str, args)])


def test_init_import_calibrate_background_info(tmp_path, capsys):
    site = tmp_path / "site.walt3d"
    assert run("init", tmp_path / "site", "--camera", "north", "--tz", "Europe/Berlin") == 0
    assert run("add-source", site, GIF, "--start", "2024-05-01T07:59:00") == 0
    assert run("calibrate", site, "--lines", LINES, "--save", tmp_path / "cam.json") == 0
    assert "focal length 420.6 px" in capsys.readouterr().out
    assert run("background", site) == 0
    capsys.readouterr()
    assert run("info", site, "--json") == 0
    info = json.loads(capsys.readouterr().out)
    cam = info["cameras"][0]
    assert cam["name"] == "north" and cam["frames"] == 41 and cam["size"] == [480, 270]
    assert cam["time_span"][0] == pytest.approx(1714543140.0)  # 07:59 in Berlin (CEST) is 05:59 UTC
    assert cam["backgrounds"] == [{"window": "h07", "n_frames": 41}]
    assert cam["calibration"]["K"][0][0] == pytest.approx(420.6, abs=0.1)
    saved = json.loads((tmp_path / "cam.json").read_text())
    assert saved["d"] == pytest.approx(cam["calibration"]["d"])
    assert run("info", site) == 0
    assert "time span 2024-05-01T07:59:00+02:00" in capsys.readouterr().out


def test_user_errors_exit_2_with_a_message_and_no_traceback(tmp_path, capsys):
    site = tmp_path / "site.walt3d"
    run("init", site, "--camera", "c")
    (tmp_path / "bad.json").write_text('{"K": 3')
    assert run("calibrate", site, "--load", tmp_path / "bad.json") == 2
    err = capsys.readouterr().err
    assert "not valid JSON" in err and "Traceback" not in err
    assert run("background", site) == 2
    assert "no frames yet" in capsys.readouterr().err
    assert run("info", tmp_path / "nowhere") == 2
    assert "not a WALT3D Studio project" in capsys.readouterr().err
    with pytest.raises(Exception):
        main(["--debug", "info", str(tmp_path / "nowhere")])  # --debug shows the traceback


def test_quiet_before_or_after_a_subcommand_means_quiet():
    """`walt3d --quiet fit vehicles P` and `walt3d fit vehicles P --quiet` both hide the progress bars (a
    subcommand's own --quiet used to reset the global one to False)."""
    from walt3d_studio.cli import build_parser

    ap = build_parser()
    for kind in ("vehicles", "people"):
        assert ap.parse_args(["--quiet", "fit", kind, "p.walt3d"]).quiet is True
        assert ap.parse_args(["fit", kind, "p.walt3d", "--quiet"]).quiet is True
        assert ap.parse_args(["fit", kind, "p.walt3d"]).quiet is False

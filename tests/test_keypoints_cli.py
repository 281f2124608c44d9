"""`walt3d keypoints ...` end to end on a small synthetic project."""
import json

from test_keypoints_synth import synthetic_scene
from walt3d_studio.cli import main
from walt3d_studio.store import Project
from walt3d_studio.store import keypoints as ks


def test_keypoints_commands(tmp_path, capsys):
    p, cam, dets, truth = synthetic_scene(tmp_path, 10, mirror_cars=True)
    for d in dets[:8]:
        ks.set_human_keypoints(p, d, truth[d])
    root = str(p.root)
    p.close()
    ckpt = tmp_path / "kp.pt"

    assert main(["--quiet", "keypoints", "train", root, "--epochs", "2", "--out", str(ckpt)]) == 0
    out = capsys.readouterr().out
    assert "saved" in out and "held-out" in out and ckpt.exists()

    assert main(["--quiet", "keypoints", "predict", root, "--model", str(ckpt)]) == 0
    assert "Stored keypoint proposals for 2 object(s)" in capsys.readouterr().out

    assert main(["--quiet", "keypoints", "eval", root, "--model", str(ckpt), "--split", "all"]) == 0
    out = capsys.readouterr().out
    assert "all split, 8 object(s)" in out
    assert "PCK@0.1 all" in out and "PCK@0.1 visible" in out and "PCK@0.1 occluded" in out

    exp = tmp_path / "ds" / "kp.json"
    assert main(["--quiet", "keypoints", "export", root, str(exp)]) == 0
    assert "Wrote 8 annotation(s) on 8 image(s)" in capsys.readouterr().out
    assert len(json.loads(exp.read_text())["annotations"]) == 8
    assert main(["keypoints", "import", root, str(exp)]) == 0
    assert "0 detection(s) updated, 8 unchanged" in capsys.readouterr().out

    cf = tmp_path / "cf" / "seq" / "gt"
    cf.mkdir(parents=True)
    (cf / "a.txt").write_text("1,2,1,1,1\n3,4,2,1,7\n")
    assert main(["keypoints", "import", root, str(tmp_path / "cf"), "--carfusion"]) == 0
    out = capsys.readouterr().out
    assert "seq/gt/a.txt:2: visibility 7 is neither 1 (visible) nor 2 (occluded)" in out

    (tmp_path / "junk.pt").write_text("hello")
    assert main(["keypoints", "predict", root, "--model", str(tmp_path / "junk.pt")]) == 2
    err = capsys.readouterr().err
    assert "error: junk.pt is not a WALT3D keypoint checkpoint" in err and "Traceback" not in err

    with Project.open(root, readonly=True) as q:
        assert ks.queue_counts(q) == ks.QueueCounts(8, 2)

"""The review panel says when a detection was joined from parts, and why a car with an undecided piece over it was
not mined (issue 12, parts.py), on the rendered scene of tests/test_mining_parts.py."""
from __future__ import annotations

from walt3d_studio.store.detections import detection_table, verdict_reasons


def test_selection_text_names_the_join_and_the_piece_above(make_window, tmp_path):
    from test_mining_parts import _project

    from walt3d_studio.gui.review import install_review
    from walt3d_studio.mining.mine import mine

    p, cam, _, _, _ = _project(tmp_path)
    with p:
        mine(p, cam)
        dt = detection_table(p, camera_id=cam)
        reasons = verdict_reasons(p, [int(v) for v in dt.id])
        ids = list(p.frame_table(cam).ids)
    joined = next(i for i in range(len(dt)) if dt.mined[i] and "joined_parts" in reasons[int(dt.id[i])]["flags"])
    above = next(i for i in range(len(dt)) if "part_above" in reasons[int(dt.id[i])]["flags"]
                 and dt.verdict[i] == "rejected")  # the car standing still
    w = make_window()
    rc = install_review(w)
    assert w.open_project(p.root)
    w.settle()
    for i, flag, words in ((joined, "joined_parts", "<b>Unoccluded</b> (rule [joined_parts]; joined with a piece "
                                                    "above it moving with it over"),
                           (above, "part_above", "(rule [part_above]; a piece above it may be its "
                                                 "roof or windscreen")):
        w.timeline.set_position(ids.index(int(dt.frame_id[i])))
        w.settle()
        rc.select_detection(int(dt.id[i]))
        text = rc.panel.selection_label.text()
        assert f"Detection {int(dt.id[i])} here" in text and flag in text and words in text, text


def test_selection_text_says_which_detection_the_nearer_car_touches(make_window, tmp_path):
    """A queue: the far car's bottom edge 3 px above the near car's top. The far one is occluded (contact), the
    near one is not mined ("touching"), and the panel names the detection behind it and why."""
    from test_mining_scenes import Obj, coco_results, make_project, write_json

    from walt3d_studio.gui.review import install_review
    from walt3d_studio.mining.mine import MineSettings, mine

    objs = [Obj("rect", (200, 40, 40), (60, 34), (100, 40), (0, 2)),   # far: bottom row 73
            Obj("rect", (40, 40, 200), (64, 40), (98, 77), (0, 2))]    # near: top row 77
    p, cam, _, truth = make_project(tmp_path, objs, 6)
    with p:
        write_json(tmp_path / "dets.json", coco_results(truth, 320, 240, objs))
        mine(p, cam, MineSettings(detector="import", import_path=str(tmp_path / "dets.json")))
        dt = detection_table(p, camera_id=cam)
        reasons = verdict_reasons(p, [int(v) for v in dt.id])
        ids = list(p.frame_table(cam).ids)
    near = [i for i in range(len(dt)) if dt.box[i][1] > 70]
    far = [i for i in range(len(dt)) if dt.box[i][1] < 70]
    assert all(dt.rule_verdict[i] == "occluded" for i in far)
    assert all(dt.rule_verdict[i] == "rejected" and "touching" in reasons[int(dt.id[i])]["flags"] for i in near)
    i = near[2]
    behind = next(j for j in far if dt.frame_id[j] == dt.frame_id[i])
    w = make_window()
    rc = install_review(w)
    assert w.open_project(p.root)
    w.settle()
    w.timeline.set_position(ids.index(int(dt.frame_id[i])))
    w.settle()
    rc.select_detection(int(dt.id[i]))
    text = rc.panel.selection_label.text()
    assert f"detection {int(dt.id[behind])} behind it comes within 6 px of its top" in text, text
    assert "<b>Rejected</b> (rule [touching]" in text, text  # the verdict's name says no more than it knows

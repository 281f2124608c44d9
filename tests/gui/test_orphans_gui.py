"""The review panel's "Orphaned edits" filter: lists a person's labels that a re-run found no match for; picking
one goes to its old frame; re-attach to the selected object and discard are undoable."""
from __future__ import annotations

import pytest

from test_mining_scenes import Obj, coco_results, make_project, write_json
from walt3d_studio.mining.mine import MineSettings, mine
from walt3d_studio.store.detections import detection_table, label_detections

OBJS = [Obj("rect", (220, 40, 40), (40, 26), (20, 150), (12, -3), "car"),
        Obj("ellipse", (40, 40, 200), (16, 36), (250, 60), (-6, 4), "person")]


def _project_with_orphans(tmp_path):
    p, cam, _, truth = make_project(tmp_path, OBJS, 5)
    exact = MineSettings(detector="import", import_path=str(write_json(tmp_path / "r.json",
                                                                       coco_results(truth, 320, 240, OBJS))))
    with p:
        mine(p, cam, exact)
        dt = detection_table(p, camera_id=cam)
        people = [int(i) for i in dt.id[dt.category == "person"][:2]]
        label_detections(p, people, "O", who="ann")
        mine(p, cam, MineSettings(detector_options={"threshold": 40}), replace=True)  # sees no person: orphans
        mine(p, cam, exact, replace=True)  # the people are back; the orphans wait for a person
        return p.root, cam


@pytest.mark.slow
def test_orphaned_edits_filter_reattach_discard_undo(qtbot, make_window, tmp_path):
    from walt3d_studio.gui.review import install_review

    root, cam = _project_with_orphans(tmp_path)
    w = make_window()
    rc = install_review(w)
    assert w.open_project(root)
    w.settle()
    box = rc.orphans
    assert box.toggle.text() == "Orphaned edits (2)" and not box.list.isVisible()
    box.toggle.setChecked(True)
    assert box.list.isVisible() and box.list.count() == 2
    assert "occlusion O on person detection" in box.list.item(0).text()
    # picking one goes to its old frame
    box.list.setCurrentRow(0)
    w.settle()
    frame = box.orphans[0].frame_id
    assert int(w.reader.table.ids[w.timeline.position]) == frame
    xs, ys = box.old_box.getData()  # its old box, drawn on its frame
    x, y, bw, bh = box.orphans[0].box
    assert box.old_box.isVisible() and (xs.min(), ys.min(), xs.max(), ys.max()) == (
        x - 0.5, y - 0.5, x + bw - 0.5, y + bh - 0.5)
    assert not box.attach_button.isEnabled()  # nothing selected in the frame yet
    person = next(d["id"] for d in rc.frame_dets if d["category"] == "person")
    rc.select_detection(person)
    assert box.attach_button.isEnabled()
    box.attach_button.click()
    w.settle()

    def label():
        t = detection_table(w.project, camera_id=cam)
        return t.label[list(t.id).index(person)]

    assert label() == "O" and box.list.count() == 1 and box.toggle.text() == "Orphaned edits (1)"
    w.undo()
    assert label() is None and box.list.count() == 2
    w.redo()
    assert label() == "O" and box.list.count() == 1
    box.list.setCurrentRow(0)
    box.discard_button.click()
    assert box.list.count() == 0 and box.toggle.text() == "Orphaned edits (0)"
    w.undo()
    assert box.list.count() == 1


def test_mine_again_question_counts_what_the_rerun_touches(tmp_path):
    from walt3d_studio.gui.review.mining_jobs import replace_question
    p, cam, _, truth = make_project(tmp_path, OBJS, 3)
    with p:
        assert replace_question(p, cam) is None  # nothing mined: nothing to ask
        mine(p, cam, MineSettings(detector="import", import_path=str(write_json(
            tmp_path / "r.json", coco_results(truth, 320, 240, OBJS)))))
        dt = detection_table(p, camera_id=cam)
        label_detections(p, [int(dt.id[0])], "U", who="ann")
        text = replace_question(p, cam)
        assert len(detection_table(p, camera_id=cam)) == 6  # asking writes nothing
    assert "6 detections in 2 tracks, with 1 occlusion label(s), 0 human keypoint set(s), 0 3D fit(s)" in text
    assert "carried over to the matching new detections" in text and "Orphaned edits" in text

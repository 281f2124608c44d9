"""Errors a user can cause are shown (message + hint), nothing is lost and the window keeps working."""
import numpy as np
from PySide6.QtCore import Qt

from .gui_helpers import GIF, press, wait_job, write_frames


def _ready(qtbot, window, tmp_path):
    window.new_project(tmp_path / "p")
    how, value = wait_job(qtbot, window.add_sources([str(GIF)]))
    assert how == "finished", value


def _still_works(qtbot, window, n_frames=41):
    press(qtbot, window, Qt.Key_Home)
    press(qtbot, window, Qt.Key_Right)
    assert window.timeline.position == 1 and window.timeline.count == n_frames
    assert np.array_equal(window.frame_view.image, window.reader.frame(1))
    assert window.act_compute_bg.isEnabled()


def test_bad_sources_show_message_and_keep_state(qtbot, window, tmp_path, dialogs):
    import cv2

    _ready(qtbot, window, tmp_path)
    empty = tmp_path / "empty"
    empty.mkdir()
    mixed = tmp_path / "mixed"
    write_frames(mixed, n=2, size=(64, 48))
    cv2.imwrite(str(mixed / "cam_20240501_090000.png"), np.zeros((10, 20, 3), np.uint8))
    garbage = tmp_path / "broken.mp4"
    garbage.write_bytes(b"\x00not a video" * 100)
    other_size = tmp_path / "small"
    write_frames(other_size, n=2, size=(32, 24))
    cases = [(empty, "holds no images"), (mixed, "different sizes"), (garbage, "Cannot open the video"),
             (other_size, "has 32x24 frames but camera")]
    for path, words in cases:
        how, err = wait_job(qtbot, window.add_sources([str(path)]))
        assert how == "failed"
        text, hint = dialogs[-1]
        assert words in text and hint, (text, hint)
        _still_works(qtbot, window)
    assert len(dialogs) == len(cases)
    assert len(window.project.sources(window.camera_id)) == 1


def test_bad_calibration_file(qtbot, window, tmp_path, dialogs):
    _ready(qtbot, window, tmp_path)
    bad = tmp_path / "camera.json"
    bad.write_text("{ not json")
    assert not window.load_calibration(bad)
    assert "not valid JSON" in dialogs[-1][0] and dialogs[-1][1]
    from walt3d_studio.camera import Camera

    Camera.looking_at_ground((640, 480), 500, 20, 5).save(tmp_path / "wrong_size.json")
    assert not window.load_calibration(tmp_path / "wrong_size.json")
    assert "640x480" in dialogs[-1][0]
    assert window.calibration is None and window.project.calibration(window.camera_id) is None
    _still_works(qtbot, window)


def test_open_non_project_keeps_current(qtbot, window, tmp_path, dialogs):
    _ready(qtbot, window, tmp_path)
    root = window.project.root
    (tmp_path / "nothing").mkdir()
    assert not window.open_project(tmp_path / "nothing")
    assert "not a WALT3D Studio project" in dialogs[-1][0]
    assert window.project is not None and window.project.root == root
    _still_works(qtbot, window)
    assert not window.new_project(tmp_path / "p")  # exists and not empty
    assert "already exists" in dialogs[-1][0]
    _still_works(qtbot, window)


def test_second_window_gets_lock_error(qtbot, make_window, tmp_path, dialogs):
    first = make_window()
    _ready(qtbot, first, tmp_path)
    second = make_window()
    assert not second.open_project(first.project.root)
    text, hint = dialogs[-1]
    assert "already open" in text and hint
    assert second.project is None
    _still_works(qtbot, first)
    # once the first closes it, the second can open it
    root = first.project.root
    first.close_project()
    assert second.open_project(root) and second.timeline.count == 41


def test_no_project_add_source(qtbot, window, dialogs, tmp_path):
    assert window.add_sources([str(GIF)]) is None
    assert "No project is open" in dialogs[-1][0]


def test_unexpected_exception_in_job_is_shown(qtbot, window, dialogs):
    from walt3d_studio.gui.errors import show_error

    job = window.jobs.start(lambda ctx: 1 / 0, "Broken")
    job.failed.connect(lambda e: show_error(window, e))
    how, err = wait_job(qtbot, job)
    assert how == "failed" and isinstance(err, ZeroDivisionError)
    assert "ZeroDivisionError" in dialogs[-1][0]

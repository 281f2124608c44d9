"""Background > Compute as a child job, and B showing the stored median of the window covering the frame."""
import os
import signal

import numpy as np
import pytest
from PySide6.QtCore import Qt

from .gui_helpers import GIF, press, wait_job, write_frames


def _project_with(qtbot, window, tmp_path, paths):
    window.new_project(tmp_path / "p")
    how, value = wait_job(qtbot, window.add_sources([str(p) for p in paths]))
    assert how == "finished", value


def test_compute_all_frames_then_toggle_with_b(qtbot, window, tmp_path):
    from walt3d_studio.background import to_display

    _project_with(qtbot, window, tmp_path, [GIF])
    progress = []
    job = window.compute_background(None)
    job.progress.connect(lambda d, t, m: progress.append((d, t)))
    # a child process: its camera is locked (no second background), the rest of the app stays usable
    assert job in window.process_jobs.jobs and job.pid and job.pid != os.getpid()
    assert not window.act_compute_bg.isEnabled() and window.act_add_folder.isEnabled()
    assert "Background of" in window.lock_reason(window.camera_id)
    how, keys = wait_job(qtbot, job)
    assert how == "finished" and keys == ["all"]
    assert window.lock_reason(window.camera_id) is None
    assert not list((window.project.root / "shards").glob("*"))  # the shard folder is gone once stored
    assert progress and progress[-1][0] == progress[-1][1]
    assert window.act_compute_bg.isEnabled()

    press(qtbot, window, Qt.Key_Right)
    frame = window.reader.frame(1)
    press(qtbot, window, Qt.Key_B)
    assert window.show_background and window.act_background.isChecked()
    median = window.project.load_background(window.camera_id, "all")
    expect = to_display(median)
    assert np.array_equal(window.frame_view.image, expect)
    assert not np.array_equal(expect, frame)
    assert window.frame_view.banner.isVisible()
    assert window.frame_view.banner.text() == "Background (window all, 41 frames)"
    # on screen: a rendered pixel has the median's colour
    view = window.frame_view
    qtbot.wait(20)
    img = view.grab().toImage()
    for x, y in [(100, 200), (400, 60)]:
        c = img.pixelColor(view.widget_pos_of_pixel(x, y))
        assert max(abs(c.red() - int(expect[y, x, 0])), abs(c.green() - int(expect[y, x, 1])),
                   abs(c.blue() - int(expect[y, x, 2]))) <= 16
    # moving keeps showing the background; B again shows frames
    press(qtbot, window, Qt.Key_End)
    assert np.array_equal(window.frame_view.image, expect)
    press(qtbot, window, Qt.Key_B)
    assert not window.show_background and not window.frame_view.banner.isVisible()
    assert np.array_equal(window.frame_view.image, window.reader.frame(40))


def test_hour_windows_pick_the_window_of_the_frame(qtbot, window, tmp_path):
    from walt3d_studio.background import to_display

    a = write_frames(tmp_path / "morning", n=3, stamp="20240501_0700")
    write_frames(tmp_path / "later", n=4, stamp="20240501_0900")
    _project_with(qtbot, window, tmp_path, [tmp_path / "morning", tmp_path / "later"])
    how, keys = wait_job(qtbot, window.compute_background(1))
    assert how == "finished" and keys == ["h07", "h09"]
    window.set_show_background(True)
    assert window.frame_view.banner.text() == "Background (window h07, 3 frames)"
    assert np.array_equal(window.frame_view.image, to_display(np.median(np.stack(a), axis=0)))
    press(qtbot, window, Qt.Key_End)
    assert window.frame_view.banner.text() == "Background (window h09, 4 frames)"


def test_b_without_background_says_so(qtbot, window, tmp_path):
    _project_with(qtbot, window, tmp_path, [GIF])
    press(qtbot, window, Qt.Key_B)
    assert not window.show_background
    assert "Background > Compute" in window.statusBar().currentMessage()


def _many_frames(folder, n=160, size=(480, 360)):
    """JPEG frames one second apart: enough work that the child is surely mid-run when it is held."""
    import cv2

    folder.mkdir()
    rng = np.random.default_rng(0)
    w, h = size
    for i in range(n):
        img = rng.integers(0, 255, (h, w, 3), dtype=np.uint8)
        cv2.imwrite(str(folder / f"cam_20240501_08{i // 60:02d}{i % 60:02d}.jpg"), img)


def test_cancel_background_from_jobs_panel_keeps_nothing(qtbot, window, tmp_path):
    """Cancel from the Jobs panel while the child computes: it unwinds, nothing is stored, no shard is left."""
    from walt3d_studio.store.runs import list_runs

    _many_frames(tmp_path / "many")
    _project_with(qtbot, window, tmp_path, [tmp_path / "many"])
    runs_before = len(list_runs(window.project))
    for _attempt in range(3):  # a loaded machine may let the child finish before it is held: start it again
        job = window.compute_background(None)
        qtbot.waitUntil(lambda: job.done > 0 or not job.active, timeout=60000)  # at work, handlers installed
        if job.active:
            os.killpg(job.pid, signal.SIGSTOP)  # hold it mid-run so the cancel surely lands before it is done
        if job.active and job.done < job.total:
            break
        if job.active:
            os.killpg(job.pid, signal.SIGCONT)
        wait_job(qtbot, job)
        with window.project.transaction() as c:  # back to no background for the next attempt
            c.execute("DELETE FROM backgrounds")
        runs_before = len(list_runs(window.project))
    else:
        pytest.fail("the background child finished three times before it could be held")
    assert job.state == "running"
    window.jobs_panel.show()
    panel = window.jobs_panel
    panel.tree.setCurrentItem(panel._items[id(job)])
    assert panel.selected_job() is job and panel.cancel_button.isEnabled()
    qtbot.mouseClick(panel.cancel_button, Qt.LeftButton)
    os.killpg(job.pid, signal.SIGCONT)
    how, _ = wait_job(qtbot, job)
    assert how == "cancelled" and job.state == "cancelled"
    assert window.project.backgrounds(window.camera_id) == [] and window.display.backgrounds == []
    assert not list((window.project.root / "shards").glob("*"))
    assert len(list_runs(window.project)) == runs_before  # the read-only child records nothing
    assert window.act_compute_bg.isEnabled() and window.lock_reason(window.camera_id) is None


def test_background_child_crash_reports_and_keeps_nothing(qtbot, window, tmp_path, dialogs):
    _project_with(qtbot, window, tmp_path, [GIF])
    job = window.compute_background(None)
    qtbot.waitUntil(lambda: job.pid is not None and job.state == "running", timeout=30000)
    os.killpg(job.pid, signal.SIGKILL)
    how, err = wait_job(qtbot, job)
    assert how == "failed" and "was killed or crashed" in err.message
    assert any("was killed or crashed" in text for text, _ in dialogs)
    assert window.project.backgrounds(window.camera_id) == []

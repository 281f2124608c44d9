"""The main window end to end: create a project, import footage, scrub with keys, check pixels on screen."""
import numpy as np
from PySide6.QtCore import Qt

from .gui_helpers import GIF, decode_all, press, wait_job, write_frames


def _import(qtbot, window, paths, camera_id=None):
    job = window.add_sources([str(p) for p in paths], camera_id)
    assert job is not None
    how, value = wait_job(qtbot, job)
    assert how == "finished", value
    return value


def test_new_project_import_gif_and_scrub_with_keys(qtbot, window, tmp_path, dialogs):
    assert window.new_project(tmp_path / "site")
    assert (tmp_path / "site.walt3d" / "project.sqlite").exists()
    assert window.windowTitle().startswith("site")
    _import(qtbot, window, [GIF])
    frames = decode_all(GIF)
    tl = window.timeline
    assert tl.count == len(frames) == 41
    assert tl.position == 0
    # the image shown is the decoded frame, exactly
    assert np.array_equal(window.frame_view.image, frames[0])
    assert window.frame_label.text() == "Frame 0 / 41"

    press(qtbot, window, Qt.Key_Right)
    assert tl.position == 1
    assert window.frame_label.text() == "Frame 1 / 41"
    assert np.array_equal(window.frame_view.image, frames[1])

    t1 = tl.table.times[1]
    press(qtbot, window, Qt.Key_PageDown)
    assert tl.position == tl.table.position_at_time(t1 + 1.0) > 1
    assert window.frame_label.text() == f"Frame {tl.position} / 41"
    press(qtbot, window, Qt.Key_PageUp)
    assert tl.position == 1

    press(qtbot, window, Qt.Key_End)
    assert tl.position == 40
    assert window.frame_label.text() == "Frame 40 / 41"
    assert np.array_equal(window.frame_view.image, frames[40])
    press(qtbot, window, Qt.Key_Left)
    assert tl.position == 39
    press(qtbot, window, Qt.Key_Home)
    assert tl.position == 0
    # the GIF has no capture time: the demo convention is the file time; the label is ISO in the camera zone
    from walt3d_studio.gui.timeline import format_time
    assert window.time_label.text() == format_time(tl.table.times[0], tl.tz, tl.ms)
    assert "T" in window.time_label.text()
    assert dialogs == []


def test_image_folder_pixels_on_screen(qtbot, window, tmp_path):
    frames = write_frames(tmp_path / "folder", n=4, size=(64, 48))
    window.new_project(tmp_path / "p")
    _import(qtbot, window, [tmp_path / "folder"])
    press(qtbot, window, Qt.Key_Right)
    shown = window.frame_view.image
    assert np.array_equal(shown, frames[1])
    # frames are 1 s apart (file-name stamps): capture time in the status bar
    assert window.time_label.text().endswith("08:00:01" + window.time_label.text()[19:])
    qtbot.wait(50)
    view = window.frame_view
    grabbed = view.grab().toImage()
    for x, y in [(15, 15), (3, 30), (60, 40), (30, 5)]:
        pos = view.widget_pos_of_pixel(x, y)
        c = grabbed.pixelColor(pos)
        expect = frames[1][y, x]
        assert abs(c.red() - int(expect[0])) <= 12 and abs(c.green() - int(expect[1])) <= 12 \
            and abs(c.blue() - int(expect[2])) <= 12, (x, y, c.getRgb(), expect)


def test_hover_shows_pixel_and_rgb(qtbot, window, tmp_path):
    frames = write_frames(tmp_path / "folder", n=2)
    window.new_project(tmp_path / "p")
    _import(qtbot, window, [tmp_path / "folder"])
    window.frame_view.hovered.emit(12, 14)
    r, g, b = frames[0][14, 12]
    assert window.pixel_label.text() == f"x 12  y 14  RGB {r} {g} {b}"
    window.frame_view.hovered.emit(-1, -1)
    assert window.pixel_label.text() == ""


def test_hover_maps_mouse_to_pixel(qtbot, window, tmp_path):
    write_frames(tmp_path / "folder", n=2)
    window.new_project(tmp_path / "p")
    _import(qtbot, window, [tmp_path / "folder"])
    view = window.frame_view
    got = []
    view.hovered.connect(lambda x, y: got.append((x, y)))
    qtbot.mouseMove(view.viewport(), view.widget_pos_of_pixel(40, 7))
    qtbot.wait(20)
    assert got and got[-1] == (40, 7)


def test_two_cameras_and_picker(qtbot, window, tmp_path):
    write_frames(tmp_path / "a", n=3, size=(64, 48))
    write_frames(tmp_path / "b", n=5, size=(32, 24))
    window.new_project(tmp_path / "p")
    _import(qtbot, window, [tmp_path / "a"])
    cam2 = window.new_camera("second")
    assert window.camera_id == cam2 and window.timeline.count == 0
    _import(qtbot, window, [tmp_path / "b"])
    assert window.camera_combo.count() == 2 and window.camera_combo.isEnabled()
    assert window.timeline.count == 5 and window.frame_view.image.shape == (24, 32, 3)
    window.camera_combo.setCurrentIndex(0)
    assert window.timeline.count == 3 and window.frame_view.image.shape == (48, 64, 3)


def test_several_sources_per_camera(qtbot, window, tmp_path):
    write_frames(tmp_path / "day1", n=3, stamp="20240501_0800")
    write_frames(tmp_path / "day2", n=2, stamp="20240502_0800")
    window.new_project(tmp_path / "p")
    _import(qtbot, window, [tmp_path / "day1", tmp_path / "day2"])
    assert window.timeline.count == 5
    assert len(window.project.sources(window.camera_id)) == 2


def test_drop_folder_adds_source(qtbot, window, tmp_path):
    from PySide6.QtCore import QMimeData, QPointF, QUrl
    from PySide6.QtGui import QDropEvent

    write_frames(tmp_path / "folder", n=3)
    window.new_project(tmp_path / "p")
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(tmp_path / "folder"))])
    ev = QDropEvent(QPointF(100, 100), Qt.CopyAction, mime, Qt.LeftButton, Qt.NoModifier)
    window.dropEvent(ev)
    job = window._adding_job()  # the import runs as a child process (View > Jobs)
    assert job is not None and job.args[0] == "add-source"
    assert wait_job(qtbot, job)[0] == "finished"
    assert window.timeline.count == 3


def test_open_recent_and_reopen(qtbot, make_window, tmp_path):
    w = make_window()
    write_frames(tmp_path / "folder", n=3)
    w.new_project(tmp_path / "p")
    _import(qtbot, w, [tmp_path / "folder"])
    root = str(w.project.root)
    w.close_project()
    assert w.project is None and w.timeline.count == 0 and w.frame_view.image is None
    assert w.recent_projects()[0] == root
    w._fill_recent_menu()
    w.recent_menu.actions()[0].trigger()
    assert w.project is not None and str(w.project.root) == root
    assert w.timeline.count == 3


def test_playback_advances_and_pauses(qtbot, window, tmp_path):
    window.new_project(tmp_path / "p")
    _import(qtbot, window, [GIF])
    tl = window.timeline
    assert 12 <= tl.fps <= 13  # the GIF's real rate (12.5 fps)
    press(qtbot, window, Qt.Key_K)
    assert tl.is_playing
    qtbot.waitUntil(lambda: tl.position >= 3, timeout=3000)
    press(qtbot, window, Qt.Key_K)
    assert not tl.is_playing
    p = tl.position
    qtbot.wait(200)
    assert tl.position == p
    assert np.array_equal(window.frame_view.image, window.reader.frame(p))


def test_playback_skips_frames_when_drawing_lags(qtbot, window, tmp_path, monkeypatch):
    import time

    window.new_project(tmp_path / "p")
    _import(qtbot, window, [GIF])
    shown = []
    slow = window._show_current

    def lagging(pos):
        time.sleep(0.2)  # 5 fps of drawing for a 12.5 fps source
        shown.append(pos)
        slow(pos)

    window.timeline.position_changed.disconnect(window._show_current)
    window.timeline.position_changed.connect(lagging)
    window.timeline.play()
    qtbot.waitUntil(lambda: not window.timeline.is_playing, timeout=8000)
    assert shown[-1] == 40
    assert len(shown) < 30  # frames were skipped, not queued
    assert max(np.diff(shown)) >= 2


def test_video_jumps_load_in_background_newest_first(qtbot, window, tmp_path):
    from .gui_helpers import MP4

    window.new_project(tmp_path / "p")
    _import(qtbot, window, [MP4])
    frames = decode_all(MP4)
    n = len(frames)
    assert window.timeline.count == n
    decoded = []
    load = window.display._loader.fn
    window.display._loader.fn = lambda req: decoded.append(req[1]) or load(req)
    targets = [n - 1, 5, 300, 120, 250, 200]
    for p in targets:  # like a slider drag: the playhead moves faster than a seek decodes
        window.timeline.set_position(p)
        assert window.frame_label.text() == f"Frame {p} / {n}"  # the status bar follows at once
    window.settle()
    assert window.display.shown_pos == 200
    assert np.array_equal(window.frame_view.image, frames[200])
    assert decoded[-1] == 200 and len(decoded) < len(targets)  # stale positions were dropped
    press(qtbot, window, Qt.Key_Right)  # a step forward decodes on, in place
    assert np.array_equal(window.frame_view.image, frames[201])


def test_zoom_then_fit_with_f_and_double_click(qtbot, window, tmp_path):
    write_frames(tmp_path / "folder", n=2, size=(64, 48))
    window.new_project(tmp_path / "p")
    _import(qtbot, window, [tmp_path / "folder"])
    vb = window.frame_view.vb

    def shows_whole_frame():
        (x0, x1), (y0, y1) = vb.viewRange()
        return x0 <= -0.5 + 1e-6 and x1 >= 63.5 - 1e-6 and y0 <= -0.5 + 1e-6 and y1 >= 47.5 - 1e-6

    assert shows_whole_frame()
    vb.scaleBy((0.25, 0.25))
    assert not shows_whole_frame()
    press(qtbot, window, Qt.Key_F)
    assert shows_whole_frame()
    vb.scaleBy((0.25, 0.25))
    view = window.frame_view
    qtbot.mouseDClick(view.viewport(), Qt.LeftButton, pos=view.widget_pos_of_pixel(30, 20))
    assert shows_whole_frame()

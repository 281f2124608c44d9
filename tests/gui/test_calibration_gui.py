"""Calibration in the window: load/save camera.json, overlays (G), and the draw-lines tool."""
import math

import numpy as np
from PySide6.QtCore import Qt

from .gui_helpers import GIF, press, wait_job


def _gif_project(qtbot, window, tmp_path):
    window.new_project(tmp_path / "p")
    how, value = wait_job(qtbot, window.add_sources([str(GIF)]))
    assert how == "finished", value


def _camera():
    from walt3d_studio.camera import Camera

    return Camera.looking_at_ground((480, 270), focal_px=420.0, pitch_deg=12.0, height_m=6.0, roll_deg=2.0)


def test_load_calibration_shows_horizon_and_grid(qtbot, window, tmp_path):
    _gif_project(qtbot, window, tmp_path)
    cam = _camera()
    cam.save(tmp_path / "camera.json")
    assert window.load_calibration(tmp_path / "camera.json")
    assert window.project.calibration(window.camera_id) is not None  # stored in the project
    x, y = window.frame_view.horizon_item.getData()
    seg = cam.horizon_segment()
    assert np.allclose(np.c_[x, y], seg)
    gx, gy = window.frame_view.grid_item.getData()
    segs = cam.ground_grid_segments(spacing=1.0)
    assert len(gx) == 2 * len(segs) > 20 and np.allclose(gx, segs.reshape(-1, 2)[:, 0])
    assert window.frame_view.horizon_item.isVisible()
    press(qtbot, window, Qt.Key_G)
    assert not window.frame_view.horizon_item.isVisible() and not window.frame_view.grid_item.isVisible()
    press(qtbot, window, Qt.Key_G)
    assert window.frame_view.grid_item.isVisible()
    # the horizon is drawn where the camera says: a rendered pixel on it has the overlay colour
    view = window.frame_view
    mid = seg.mean(axis=0)
    qtbot.wait(20)
    c = view.grab().toImage().pixelColor(view.widget_pos_of_pixel(*mid))
    assert c.red() > 200 and c.green() > 150 and c.blue() < 120, c.getRgb()
    # save round-trips
    assert window.save_calibration(tmp_path / "out.json")
    from walt3d_studio.camera import Camera
    assert np.allclose(Camera.load(tmp_path / "out.json").K, cam.K)


def test_calibration_survives_reopen(qtbot, make_window, tmp_path):
    w = make_window()
    _gif_project(qtbot, w, tmp_path)
    w.set_calibration(_camera())
    root = w.project.root
    w.close_project()
    w.open_project(root)
    assert w.calibration is not None and len(w.frame_view.horizon_item.getData()[0]) == 2


def _ground_lines(cam):
    """Two lines of one ground direction (A), two of the perpendicular one (B), and a 5 m reference."""
    a = np.array([math.sin(math.radians(35)), math.cos(math.radians(35))])
    b = np.array([a[1], -a[0]])
    c0 = np.array([0.0, 18.0])

    def px(p, q):
        return cam.world_to_pixels(np.array([[*p, 0.0], [*q, 0.0]]))

    lines_a = [px(c0 + s * b - 4 * a, c0 + s * b + 4 * a) for s in (-3, 3)]
    lines_b = [px(c0 + s * a - 4 * b, c0 + s * a + 4 * b) for s in (-3, 3)]
    ref = px(c0 - 2.5 * a, c0 + 2.5 * a)
    return lines_a, lines_b, ref


def test_calibrate_by_lines_tool(qtbot, window, tmp_path):
    _gif_project(qtbot, window, tmp_path)
    truth = _camera()
    lines_a, lines_b, ref = _ground_lines(truth)
    window.start_calibration_tool()
    tool = window.calibration_tool
    assert tool.isVisible() and window.frame_view.vb.tool is tool
    assert not tool.compute_button.isEnabled()
    for name, seg in zip(["A1", "A2", "B1", "B2", "ref"], [*lines_a, *lines_b, ref]):
        assert tool.current == name
        tool.set_segment(name, seg)
        tool._advance()
    assert tool.current is None and tool.compute_button.isEnabled()
    tool.length.setValue(5.0)
    cam = tool.compute()
    assert cam is not None
    assert abs(cam.focal - 420.0) < 2.0 and abs(cam.d - 6.0) < 0.1
    stored = window.project.calibration(window.camera_id)
    assert stored is not None and abs(stored.d - cam.d) < 1e-9
    assert len(window.frame_view.horizon_item.getData()[0]) == 2
    assert "focal length" in tool.result.text()
    tool.close_tool()
    assert window.frame_view.vb.tool is None and not tool.isVisible()


def test_tool_draws_lines_with_the_mouse(qtbot, window, tmp_path):
    _gif_project(qtbot, window, tmp_path)
    window.start_calibration_tool()
    tool, view = window.calibration_tool, window.frame_view
    qtbot.wait(20)
    vp = view.viewport()
    # two clicks make a line
    qtbot.mouseClick(vp, Qt.LeftButton, pos=view.widget_pos_of_pixel(100, 200))
    qtbot.mouseClick(vp, Qt.LeftButton, pos=view.widget_pos_of_pixel(180, 120))
    seg = tool.segments["A1"]
    assert seg is not None and np.allclose(seg, [[100, 200], [180, 120]], atol=1.5)
    assert tool.current == "A2"
    # a drag makes the next one
    from PySide6.QtCore import QEvent, QPointF
    from PySide6.QtGui import QMouseEvent
    from PySide6.QtWidgets import QApplication

    qtbot.mousePress(vp, Qt.LeftButton, pos=view.widget_pos_of_pixel(300, 250))
    for t in np.linspace(0.1, 1, 6):
        p = QPointF(view.widget_pos_of_pixel(300 + 60 * t, 250 - 100 * t))
        QApplication.sendEvent(vp, QMouseEvent(QEvent.MouseMove, p, vp.mapToGlobal(p), Qt.NoButton,
                                               Qt.LeftButton, Qt.NoModifier))
    qtbot.mouseRelease(vp, Qt.LeftButton, pos=view.widget_pos_of_pixel(360, 150))
    seg = tool.segments["A2"]
    assert seg is not None and np.allclose(seg, [[300, 250], [360, 150]], atol=2.0), seg


def test_calibration_error_keeps_lines(qtbot, window, tmp_path, dialogs):
    _gif_project(qtbot, window, tmp_path)
    window.start_calibration_tool()
    tool = window.calibration_tool
    parallel = [[[10, 10], [200, 10]], [[10, 50], [200, 50]]]  # parallel in the image: VP at infinity
    for name, seg in zip(["A1", "A2", "B1", "B2", "ref"],
                         [*parallel, [[50, 60], [60, 250]], [[300, 60], [250, 250]], [[100, 100], [120, 200]]]):
        tool.set_segment(name, seg)
    assert tool.compute() is None
    assert dialogs and "parallel" in dialogs[-1][0] and dialogs[-1][1]
    assert all(s is not None for s in tool.segments.values())  # nothing lost
    assert window.project.calibration(window.camera_id) is None
    assert "Not calibrated" in tool.result.text()

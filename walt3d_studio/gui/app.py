"""`walt3d-studio [PROJECT] [--screenshot FILE [--frame N] [--background]]`: the desktop app's entry point.

Imports stay light until the window is up (no torch/vtk/smplx here); `--screenshot` renders the whole
window offscreen-capable (QT_QPA_PLATFORM=offscreen), saves a PNG and exits, for docs and checks.
"""
from __future__ import annotations

import argparse
import sys


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="walt3d-studio", description="WALT3D Studio desktop app.")
    ap.add_argument("project", nargs="?", help="a NAME.walt3d project folder to open")
    ap.add_argument("--screenshot", metavar="FILE", help="save a PNG of the whole window and exit")
    ap.add_argument("--frame", type=int, default=0, help="frame to show (with --screenshot; default 0)")
    ap.add_argument("--camera", help="camera name to show (default: the first)")
    ap.add_argument("--background", action="store_true", help="show the median background instead of the frame")
    ap.add_argument("--size", default="1280x820", help="window size WxH (default 1280x820)")
    ap.add_argument("--panel", choices=("composites", "3d", "3d-camera"),
                    help="open this panel large (with --screenshot: show it); 3d-camera: the 3D view through the "
                         "calibrated camera")
    return ap


def make_app(argv: list[str]):
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance() or QApplication(argv)
    app.setOrganizationName("WALT3D")
    app.setApplicationName("WALT3D Studio")
    return app


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    args = build_parser().parse_args(argv)
    app = make_app([sys.argv[0]])
    from .errors import install_excepthook, set_interactive
    from .main_window import MainWindow

    headless = bool(args.screenshot)
    set_interactive(not headless)  # a modal dialog would wait forever in a headless run
    if headless:
        _quiet_offscreen_warnings()
    else:
        install_excepthook()
    win = MainWindow(remember_recent=not headless)
    try:
        w, h = (int(v) for v in args.size.lower().split("x"))
        win.resize(w, h)
    except ValueError:
        pass
    win.show()
    ok = True
    if args.project:
        ok = win.open_project(args.project)
        if ok and args.camera:
            ok = _select_camera_by_name(win, args.camera)
        if ok:
            win.timeline.set_position(args.frame)
            if args.background:
                win.set_show_background(True)
            if args.panel == "composites":
                from .composites import show_composites

                show_composites(win)
            elif args.panel in ("3d", "3d-camera"):
                from .viewport import show_viewport

                show_viewport(win, camera_mode=args.panel == "3d-camera")
    if headless:
        return _screenshot(app, win, args.screenshot) if ok else 2
    return app.exec()


def _quiet_offscreen_warnings() -> None:
    """The offscreen platform warns about window hints it ignores; keep headless output to real problems."""
    from PySide6.QtCore import qInstallMessageHandler

    def handler(kind, context, message):
        if "propagateSizeHints" not in message:
            print(message, file=sys.stderr)

    qInstallMessageHandler(handler)


def _select_camera_by_name(win, name: str) -> bool:
    from ..errors import Walt3DError
    from .errors import show_error

    try:
        win.select_camera(win.project.camera(name).id)
    except Walt3DError as e:
        show_error(win, e)
        return False
    return True


def _screenshot(app, win, path: str) -> int:
    """Let layouts settle, fit the frame, render the whole window (later panels included) and save it."""
    for _ in range(3):
        app.processEvents()
    win.settle()  # the frame at the playhead is decoded and shown
    win.frame_view.fit()
    app.processEvents()
    ok = win.grab().save(path)
    win.close()
    app.processEvents()
    if not ok:
        print(f"error: could not write {path}", file=sys.stderr)
        return 1
    print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())

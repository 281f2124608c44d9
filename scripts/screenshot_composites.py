"""Screenshots of the Composites review dock, one per layer, into docs/screenshots/ (QT_QPA_PLATFORM=offscreen).

    PYTHONPATH=.:tests QT_QPA_PLATFORM=offscreen .venv/bin/python scripts/screenshot_composites.py
Uses the synthetic composites of the export tests (a car partly hidden by a person, with a WALT2D twin), then the
real compositor's output on the exact-truth project of its tests (calibrated camera: depth, normals, instances and
the wireframes of the fits, WALT3D beside its WALT2D twin), and the export dialog.
"""
from __future__ import annotations

import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]


def main() -> int:
    from export_scene import give_frames, make_project
    from walt3d_studio.gui.app import make_app
    from walt3d_studio.gui.composites import show_composites
    from walt3d_studio.gui.composites.layers import LAYERS
    from walt3d_studio.gui.main_window import MainWindow
    from PySide6.QtCore import QSettings

    out = ROOT / "docs" / "screenshots"
    tmp = Path(tempfile.mkdtemp())
    p = make_project(tmp / "shots.walt3d", n_per_split=3, twins=True, look="painted")
    give_frames(p, tmp / "frames")
    p.close()
    app = make_app(sys.argv[:1])
    win = MainWindow(QSettings(str(tmp / "s.ini"), QSettings.IniFormat), remember_recent=False)
    win.resize(1280, 1000)
    win.show()
    win.open_project(tmp / "shots.walt3d")
    dock = show_composites(win)
    dock.setFloating(True)
    dock.resize(1250, 720)
    for _ in range(5):
        app.processEvents()
    dock.show_current()
    for name in LAYERS:
        if name == "wireframes":  # this scene's camera has no calibration: its wireframes are the compositor's below
            continue
        for other in LAYERS:
            dock.set_layer(other, other == name)
        app.processEvents()
        dock._on_hover(35, 20)
        dock.grab().save(str(out / f"composites-{name}.png"))
        print(out / f"composites-{name}.png")
    for other in LAYERS:
        dock.set_layer(other, other in ("visible", "amodal", "boxes", "keypoints"))
    dock._on_hover(12, 20)
    dock.grab().save(str(out / "composites.png"))
    print(out / "composites.png")
    # the real compositor on the exact-truth project of its tests: rendered depth and normals, WALT2D's errors
    from composite_project import build, mesh_fn
    from walt3d_studio.composite.make import CompositeSettings, make_composites
    from walt3d_studio.composite.splits import split_tracks

    p, _ = build(tmp / "real")
    split_tracks(p, "track", 0.25, 0.25, seed=0)
    for m in ("walt3d", "walt2d"):
        make_composites(p, settings=CompositeSettings(method=m, n=4, seed=3, objects_per_image=(4, 6)),
                        mesh_fn=mesh_fn)
    give_frames(p, tmp / "real_frames")
    root = p.root
    p.close()
    win.open_project(root)
    dock.refresh()
    for name, on in (("compositor", ("visible", "amodal", "boxes", "keypoints")), ("compositor-depth", ("depth",)),
                     ("compositor-normals", ("normals",)), ("compositor-instances", ("instances",)),
                     ("compositor-wireframes", ("wireframes", "amodal"))):
        for other in LAYERS:
            dock.set_layer(other, other in on)
        app.processEvents()
        dock.grab().save(str(out / f"composites-{name}.png"))
        print(out / f"composites-{name}.png")
    # File > Export dataset… (also the dock's button): the options of the one-click export
    from walt3d_studio.gui.composites.export_action import ExportDialog

    dlg = ExportDialog(win)
    dlg.path.setText("/data/datasets/walt3d-north")
    dlg.methods["walt2d"].setChecked(True)
    dlg.show()
    app.processEvents()
    dlg.grab().save(str(out / "composites-export-dialog.png"))
    print(out / "composites-export-dialog.png")
    dlg.close()
    win.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())

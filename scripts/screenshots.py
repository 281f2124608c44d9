"""Regenerate every screenshot in docs/screenshots/ headless (run before each release, so docs never drift).

    QT_QPA_PLATFORM=offscreen python scripts/screenshots.py [--out docs/screenshots] [--only NAME ...]

Builds the demo project from the bundled GIF in a temporary folder (import, median background, the demo
calibration, mining with the built-in detector), then drives the real window the way a person would and saves:
main-window.png, background.png, review.png, review-dark.png, occluders.png, keypoint-editor.png,
calibration.png, help-keys.png. A full run (no --only) then runs the other panels' screenshot scripts, so one
command makes every GUI screenshot: composites*.png (scripts/screenshot_composites.py) and jobs-panel.png
(scripts/screenshot_jobs_panel.py). Figures drawn from a project with 3D fits are made by their own scripts from
such a project (FIGURES below). Look at the images after running it.
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
GIF = REPO / "resources" / "footage" / "parking-lot-person-bicycle-car.gif"
DEMO = REPO / "resources" / "demo"
SIZE = (1280, 820)


def build_demo(root: Path) -> Path:
    from walt3d_studio.background_job import compute_backgrounds
    from walt3d_studio.camera import Camera
    from walt3d_studio.mining.mine import mine
    from walt3d_studio.store import Project

    with Project.create(root) as p:
        cam = p.add_camera("parking-lot", "UTC")
        p.add_source(GIF, cam)
        compute_backgrounds(p, cam, hours_per_window=None)
        p.set_calibration(cam, Camera.load(DEMO / "parking-lot-person-bicycle-car.camera.json"))
        mine(p, cam)
        return p.root


class Shots:
    def __init__(self, app, project: Path, out: Path, settings_dir: Path):
        self.app, self.project, self.out, self.settings_dir = app, project, out, settings_dir
        self.saved: list[Path] = []

    def pump(self, n: int = 5) -> None:
        for _ in range(n):
            self.app.processEvents()

    def window(self, dark: bool = False):
        from PySide6.QtCore import QSettings

        from walt3d_studio.gui.main_window import MainWindow

        settings = QSettings(str(self.settings_dir / f"settings-{'dark' if dark else 'light'}.ini"),
                             QSettings.IniFormat)
        settings.setValue("dark_theme", dark)
        w = MainWindow(settings, remember_recent=False)
        w.resize(*SIZE)
        w.show()
        assert w.open_project(self.project), "could not open the demo project"
        w.settle()
        self.pump()
        return w

    def save(self, widget, name: str) -> None:
        self.pump()
        path = self.out / name
        if not widget.grab().save(str(path)):
            raise SystemExit(f"error: could not write {path}")
        self.saved.append(path)
        print(path)

    def label_demo(self, w) -> None:
        """Labels as a person would have made them: the car U, the pedestrian O, three cyclist detections."""
        rc = w.review
        rc.select_track(3)
        rc.label_track("U")
        rc.select_track(1)
        rc.label_track("O")
        rc.select_track(2)
        for pos in (0, 1, 2):
            rc.go_to(pos)
            w.settle()
            rc.label_detection("U")

    # -- the shots ----------------------------------------------------------------------------
    def main_window(self):
        w = self.window()
        w.timeline.set_position(12)
        w.settle()
        w.frame_view.fit()
        self.save(w, "main-window.png")
        w.set_show_background(True)
        self.save(w, "background.png")
        w.close()

    def review(self, dark: bool = False):
        w = self.window(dark)
        w.set_overlays_visible(False)
        self.label_demo(w)
        w.review.select_track(3)
        w.timeline.set_position(12)
        w.settle()
        w.frame_view.fit()
        self.save(w, "review-dark.png" if dark else "review.png")
        w.theme.set_dark(False)  # the app-wide palette goes back for the next window
        w.close()

    def occluders(self):
        w = self.window()
        w.set_overlays_visible(False)
        w.review.select_track(3)
        w.timeline.set_position(12)
        w.settle()
        tool = w.review.mining.paint_occluders()
        tool.paint_stroke([(240, 40), (240, 230)], size=12)
        tool.paint_stroke([(60, 120), (110, 110)], size=20)
        w.frame_view.fit()
        self.save(w, "occluders.png")
        w.review.mining.occluder_tool.close_tool()
        w.close()

    def keypoint_editor(self):
        w = self.window()
        ed = w.keypoint_editor.open_editor()
        ed.settle()
        self.pump(10)
        det = ed.detection
        if det is not None:  # a few points placed, so markers, the diagram and the list show states
            x, y, bw, bh = det.box
            for fx, fy in ((0.2, 0.85), (0.8, 0.85), (0.25, 0.2)):
                ed.place(x + fx * bw, y + fy * bh)
            ed.show_in_frame()
            w.settle()
        self.save(w, "keypoint-editor.png")
        w.close()

    def calibration(self):
        from walt3d_studio.calibration import load_lines_file

        w = self.window()
        w.set_overlays_visible(False)
        w.timeline.set_position(8)
        w.settle()
        w.start_calibration_tool()
        tool = w.calibration_tool
        lines = load_lines_file(DEMO / "parking-lot-person-bicycle-car.lines.json")
        la, lb, (ref, length) = lines["lines_a"], lines["lines_b"], lines["reference"][0]
        tool.draw_segment("A1", la[0])
        tool.draw_segment("A2", la[1])
        tool.draw_segment("B1", lb[0])
        tool.draw_segment("ref", ref)
        tool.length.setValue(length)
        tool.select_slot("B2")  # the one still to draw: no label for it on the frame
        w.frame_view.fit()
        self.save(w, "calibration.png")
        tool.close_tool()
        w.close()

    def help_keys(self):
        w = self.window()
        dlg = w.help.show_keys()
        dlg.resize(900, 900)
        self.pump(10)
        self.save(dlg, "help-keys.png")
        dlg.close()
        w.close()


# other GUI screenshot scripts (script, its outputs): run by a full run
OTHER_SCRIPTS = (("screenshot_composites.py", ("composites.png", "composites-visible.png", "composites-amodal.png",
                                               "composites-boxes.png", "composites-keypoints.png",
                                               "composites-depth.png", "composites-normals.png",
                                               "composites-instances.png", "composites-compositor.png",
                                               "composites-compositor-depth.png",
                                               "composites-compositor-normals.png",
                                               "composites-compositor-instances.png",
                                               "composites-compositor-wireframes.png",
                                               "composites-export-dialog.png")),
                 ("screenshot_jobs_panel.py", ("jobs-panel.png",)),
                 ("screenshot_fit_job.py", ("fit-job.png", "fit-job-done.png")))
# figures that need a project with 3D fits: `python SCRIPT PROJECT --out docs/screenshots`
FIGURES = {"vehicle-fit-*.png": "scripts/vehicle_fit_screenshots.py",
           "people_fit_demo.png": "scripts/people_fit_figure.py",
           # `python SCRIPT PROJECT [CAMERA] [OUT.png]`: fits-overlay.png (parking-lot), -top-down.png (top-down)
           "fits-overlay*.png": "scripts/screenshot_fits_overlay.py",
           # `python SCRIPT PROJECT [CAMERA] [OUT_DIR]`: the 3D dock (orbit, through the camera, needs review)
           "viewport-3d*.png": "scripts/screenshot_viewport.py",
           "composite-feather-gain.png": "bench/figure_feather_gain.py",
           "composites-contact-sheet.png": "bench/figure_contact_sheet.py",
           # needs ../shared/data/footage/road-queues-bridge.avi (not shipped): `PYTHONPATH=. python SCRIPT`
           "mined-road-contact-sheet.png": "bench/figure_mined_road.py",
           "review-cut-off.png": "scripts/screenshot_cut_off.py",  # needs the road clip too
           "demo-report.png": "scripts/report_screenshot.py",   # of demo-out/report.html after `walt3d demo`
           # `walt3d-studio --screenshot OUT --panel 3d|3d-camera PROJECT` on a fitted demo project
           "viewport-3d*.png": "walt3d_studio/gui/app.py",
           # made by hand with orphaned edits in a re-mined project; no script regenerates it yet
           "review-orphaned-edits.png": None}

SHOTS = ("main_window", "review", "review_dark", "occluders", "keypoint_editor", "calibration", "help_keys")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", default=str(REPO / "docs" / "screenshots"), help="folder for the PNGs")
    ap.add_argument("--only", nargs="*", choices=SHOTS, help="just these shots")
    args = ap.parse_args(argv)
    from PySide6.QtWidgets import QApplication

    from walt3d_studio.gui.errors import set_interactive

    app = QApplication.instance() or QApplication([sys.argv[0]])
    set_interactive(False)  # no modal dialogs in a headless run
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        project = build_demo(tmp / "demo.walt3d")
        shots = Shots(app, project, out, tmp)
        for name in args.only or SHOTS:
            if name == "review_dark":
                shots.review(dark=True)
            else:
                getattr(shots, name)()
    if args.only is None:
        return run_other_scripts(out)
    return 0


def run_other_scripts(out: Path) -> int:
    """The other panels' screenshot scripts, each in its own process (they make their own QApplication)."""
    import subprocess

    env = dict(os.environ, QT_QPA_PLATFORM="offscreen",
               PYTHONPATH=os.pathsep.join([str(REPO), str(REPO / "tests"), os.environ.get("PYTHONPATH", "")]))
    default = out.resolve() == (REPO / "docs" / "screenshots").resolve()
    rc = 0
    for script, _outputs in OTHER_SCRIPTS:
        argv = [sys.executable, str(REPO / "scripts" / script)]
        if script == "screenshot_jobs_panel.py":
            argv.append(str(out / "jobs-panel.png"))
        elif script == "screenshot_fit_job.py":
            argv.append(str(out))
        elif not default:
            print(f"skipped {script}: it writes to docs/screenshots only")
            continue
        r = subprocess.run(argv, env=env, cwd=str(REPO))
        if r.returncode != 0:
            print(f"error: {script} failed ({r.returncode})", file=sys.stderr)
            rc = 1
    return rc


if __name__ == "__main__":
    sys.exit(main())

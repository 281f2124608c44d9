"""The main window: menus, the open project, and the wiring between store, frame view, timeline and jobs.

The window holds the one `Project` object of this process (its file lock is per open, so jobs reuse it).
While a job runs, every action that writes to the project is disabled: the job is the only writer.
Views read what they show from the store; the only state kept here is what is on screen.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
from PySide6.QtCore import QSettings, Signal
from PySide6.QtGui import QAction, QKeySequence, QUndoStack
from PySide6.QtWidgets import (QComboBox, QFileDialog, QInputDialog, QLabel, QMainWindow, QMenu, QVBoxLayout,
                               QWidget)

from ..errors import BadInputError, Walt3DError
from ..timelapse import VIDEO_EXTS
from . import keymap
from .errors import show_error
from .frame_view import CameraDisplay, FrameView
from .jobs import Job, JobPanel, JobRunner
from .timeline import Timeline
from .tools import active_stack

MAX_RECENT = 8
HOURS_CHOICES = ["1 hour per window", "2 hours per window", "3 hours per window", "4 hours per window",
                 "6 hours per window", "12 hours per window", "All frames (one background)"]


class MainWindow(QMainWindow):
    camera_changed = Signal(object)  # the camera shown (id or None): panels that work per camera follow it

    def __init__(self, settings: QSettings | None = None, remember_recent: bool = True):
        super().__init__()
        self.settings = settings or QSettings()
        self.remember_recent = remember_recent  # off for headless runs (--screenshot): leave the user's list
        self.project = None
        self.camera_id: int | None = None
        self.calibration = None  # Camera of the current camera, or None
        self._hover = (-1, -1)
        self.calibration_tool = None

        self.jobs = JobRunner(self)
        # One undo history for every panel's edits; each command writes one transaction, and commands
        # belong to the project they edited, so the stack is cleared when the project changes.
        self.undo_stack = QUndoStack(self)
        from .context import PanelContext

        # what the panels share (project, camera, frame, selection, jobs, store-changed): they subscribe to it
        self.context = PanelContext(self)
        self.frame_view = FrameView()
        self.display = CameraDisplay(self.frame_view, self)
        self.display.displayed.connect(lambda _: self._on_hover(*self._hover))
        self.display.failed.connect(self._on_frame_failed)
        self.frame_view.setAcceptDrops(False)  # drops go up to the window
        self.frame_view.viewport().setAcceptDrops(False)
        self.timeline = Timeline()
        central = QWidget()
        lay = QVBoxLayout(central)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.setSpacing(0)
        lay.addWidget(self.frame_view, 1)
        lay.addWidget(self.timeline)
        self.setCentralWidget(central)
        self.setAcceptDrops(True)
        self.resize(1280, 820)

        self._build_status_bar()
        self._build_actions()
        self._build_menus()
        self._build_toolbar()
        self.timeline.position_changed.connect(self._show_current)
        self.timeline.position_changed.connect(self.context.position_changed)
        self.frame_view.hovered.connect(self._on_hover)
        self.frame_view.tool_changed.connect(self._update_actions)
        self.jobs.busy_changed.connect(lambda _: self._update_actions())
        self.undo_stack.canUndoChanged.connect(lambda _: self._update_actions())
        self.undo_stack.canRedoChanged.connect(lambda _: self._update_actions())
        self._update_title()
        self._update_actions()
        self._install_panels()

    def _install_panels(self):
        """The review and keypoint panels add their docks, menus and keys through this window's attributes."""
        from .jobs_panel import install_process_jobs
        from .help import install_help
        from .composites import install_composites
        from .train_panel import install_train_panel
        from .keypoint_editor import install_keypoint_editor
        from .review import install_review
        from .status import install_save_indicator
        from .theme import install_theme
        from .tools import install_tool_keys
        from .viewport import install_viewport

        install_process_jobs(self)  # first: the panels ask it which camera a child job locks
        install_review(self)
        install_keypoint_editor(self)
        install_theme(self)
        install_tool_keys(self)
        install_save_indicator(self)
        install_composites(self)
        install_train_panel(self)
        install_viewport(self)  # an empty dock until first shown (VTK is imported then)
        install_help(self)  # last: the Help menu ends the menu bar

    # ------------------------------------------------------------------------------ building
    def _build_status_bar(self):
        sb = self.statusBar()
        self.job_panel = JobPanel(self.jobs)
        self.frame_label = QLabel("")
        self.time_label = QLabel("")
        self.pixel_label = QLabel("")
        self.pixel_label.setMinimumWidth(230)
        sb.addPermanentWidget(self.job_panel)
        for w in (self.frame_label, self.time_label, self.pixel_label):
            sb.addPermanentWidget(w)

    def _action(self, text, slot, key=None, checkable=False, tip=None) -> QAction:
        a = QAction(text, self)
        a.setCheckable(checkable)
        if tip:
            a.setStatusTip(tip)
        if key:
            keymap.bind(a, key)  # its keys come from the one key table (menus and the Help sheet show them)
        (a.toggled if checkable else a.triggered).connect(slot)
        self.addAction(a)
        return a

    def _build_actions(self):
        A = self._action
        self.act_new = A("&New project…", self._ask_new_project, "file.new")
        self.act_open = A("&Open project…", self._ask_open_project, "file.open")
        self.act_open_ro = A("Open &read-only…", lambda: self._ask_open_project(readonly=True),
                             tip="Browse and export a project without editing it (e.g. while another program has it open)")
        self.act_close = A("&Close project", self.close_project)
        self.act_add_folder = A("Add time-lapse &folder…", self._ask_add_folder,
                                tip="Add a folder of images to the current camera")
        self.act_add_video = A("Add &video…", self._ask_add_video, tip="Add video files to the current camera")
        self.act_quit = A("&Quit", self.close, "file.quit")
        self.act_undo = A("&Undo", self.undo, "edit.undo")
        self.act_redo = A("&Redo", self.redo, "edit.redo")
        self.act_fit = A("&Fit frame", self.frame_view.fit, "view.fit")
        self.act_overlays = A("&Horizon and ground grid", self.set_overlays_visible, "view.overlays", checkable=True)
        self.act_background = A("Show &background", self.set_show_background, "view.background", checkable=True,
                                tip="Show the median background of the window covering this frame")
        self.act_new_camera = A("&New camera…", self._ask_new_camera,
                                tip="Add an empty camera; sources added next go to it")
        self.act_load_cal = A("&Load calibration…", self._ask_load_calibration)
        self.act_save_cal = A("&Save calibration…", self._ask_save_calibration)
        self.act_calibrate = A("&Calibrate by lines…", self.start_calibration_tool)
        self.act_compute_bg = A("&Compute…", self._ask_compute_background)
        self.act_overlays.blockSignals(True)
        self.act_overlays.setChecked(True)
        self.act_overlays.blockSignals(False)
        # writers: off while a job runs (the job is the project's only writer)
        self._writers = [self.act_new, self.act_open, self.act_open_ro, self.act_close, self.act_add_folder, self.act_add_video,
                         self.act_new_camera, self.act_load_cal, self.act_calibrate, self.act_compute_bg]

    def _build_menus(self):
        mb = self.menuBar()
        m = mb.addMenu("&File")
        m.addActions([self.act_new, self.act_open, self.act_open_ro])
        self.recent_menu = m.addMenu("Open &recent")
        self.recent_menu.aboutToShow.connect(self._fill_recent_menu)
        m.addAction(self.act_close)
        m.addSeparator()
        m.addActions([self.act_add_folder, self.act_add_video])
        m.addSeparator()
        m.addAction(self.act_quit)
        m = mb.addMenu("&Edit")
        m.addActions([self.act_undo, self.act_redo])
        m = mb.addMenu("&View")
        m.addActions([self.act_fit, self.act_overlays, self.act_background])
        m = mb.addMenu("&Go")
        m.addActions(self.timeline.actions_list)
        m = mb.addMenu("&Camera")
        m.addAction(self.act_new_camera)
        m.addSeparator()
        m.addActions([self.act_load_cal, self.act_save_cal, self.act_calibrate])
        m = mb.addMenu("&Background")
        m.addAction(self.act_compute_bg)

    def _build_toolbar(self):
        tb = self.addToolBar("Camera")
        tb.setObjectName("cameraToolbar")
        tb.setMovable(False)
        tb.addWidget(QLabel(" Camera: "))
        self.camera_combo = QComboBox()
        self.camera_combo.setMinimumWidth(160)
        self.camera_combo.currentIndexChanged.connect(self._on_camera_combo)
        tb.addWidget(self.camera_combo)

    def _update_title(self):
        ro = " (read-only)" if self.project is not None and self.project.readonly else ""
        self.setWindowTitle(f"{self.project.name}{ro} — WALT3D Studio" if self.project else "WALT3D Studio")

    def undo(self) -> None:
        """Undo the last edit; while a tool is open, its last step (tools.active_stack)."""
        from .process_jobs import refuse_locked_edit

        stack = active_stack(self)
        if not self.jobs.busy and not refuse_locked_edit(self, stack.command(stack.index() - 1)):
            stack.undo()

    def redo(self) -> None:
        from .process_jobs import refuse_locked_edit

        stack = active_stack(self)
        if not self.jobs.busy and not refuse_locked_edit(self, stack.command(stack.index())):
            stack.redo()

    def _update_actions(self):
        has_project = self.project is not None
        has_frames = self.reader is not None and len(self.reader) > 0
        busy = self.jobs.busy
        for a in self._writers:
            a.setEnabled(not busy)
        editable = has_project and not self.project.readonly  # read-only: browse and export, no edits
        self.act_close.setEnabled(has_project and not busy)
        for a in (self.act_add_folder, self.act_add_video, self.act_new_camera):
            a.setEnabled(editable and not busy)
        for a in (self.act_load_cal, self.act_calibrate, self.act_compute_bg):
            a.setEnabled(has_frames and editable and not busy)
        if self.lock_reason(self.camera_id):  # a child job writes this camera (e.g. its background)
            self.act_compute_bg.setEnabled(False)
        self.act_save_cal.setEnabled(self.calibration is not None)
        self.act_background.setEnabled(has_frames)
        self.camera_combo.setEnabled(has_project and not busy and self.camera_combo.count() > 1)
        self.recent_menu.setEnabled(not busy)
        # undo and redo write to the project: not while a job is its writer
        stack = active_stack(self)  # an open tool's steps, else the window's edits
        self.act_undo.setEnabled(stack.canUndo() and not busy)
        self.act_redo.setEnabled(stack.canRedo() and not busy)
        self.act_undo.setText(f"&Undo {stack.undoText()}".strip())
        self.act_redo.setText(f"&Redo {stack.redoText()}".strip())
        self.frame_view.set_placeholder(
            "Add a time-lapse: File > Add time-lapse folder… or Add video…, or drop a folder or video here."
            if has_project else "Create a project (File > New project…) or open one (File > Open project…).")

    # ------------------------------------------------------------------------------ project
    def new_project(self, path: str | Path) -> bool:
        """File > New project: create NAME.walt3d and make it the open project."""
        from ..store import Project

        return self._switch_project(lambda: Project.create(path))

    def open_project(self, path: str | Path, readonly: bool = False) -> bool:
        """File > Open (or Open read-only: browse and export, no edits, no lock taken)."""
        from ..store import Project
        from ..store.project import normalise_path

        wanted = {Path(path).expanduser().resolve(), normalise_path(path).resolve()}
        if self.project is not None and self.project.root.resolve() in wanted and self.project.readonly == readonly:
            return True  # already open here (a second open would trip over our own lock)
        if self.project is not None and self.project.root.resolve() in wanted:
            self.close_project()  # the same project, the other way: release our own lock first
        return self._switch_project(lambda: Project.open(path, readonly=readonly))

    def run_job(self, work, title: str, on_done=None) -> Job:
        """Run `work(ctx)` off the UI thread with progress and Cancel; a failure is shown, `on_done` gets the result."""
        job = self.jobs.start(work, title)
        job.failed.connect(lambda e: show_error(self, e))
        if on_done is not None:
            job.finished.connect(on_done)
        return job

    def run_process_job(self, args: list[str], title: str, camera_id: int | None = None, on_success=None,
                        on_done=None, on_end=None):
        """Run `walt3d ARGS` as a child process (long work: see gui/process_jobs.py); locks `camera_id`."""
        from .process_jobs import run_process_job

        return run_process_job(self, args, title, camera_id, on_success, on_done, on_end)

    def lock_reason(self, camera_id: int | None) -> str | None:
        """Why edits on this camera are refused now (a child job writes it), or None."""
        jobs = getattr(self, "process_jobs", None)
        return jobs.lock_reason(camera_id) if jobs is not None else None

    def can_write(self, need_project: bool = True) -> bool:
        """Whether a user action may write now; if not, say why. A running job is the project's only writer."""
        if need_project and self.project is None:
            show_error(self, BadInputError("No project is open.", "Create or open a project first (File menu)."))
            return False
        if need_project and self.project.readonly:
            show_error(self, BadInputError(f"{self.project.name} is open read-only: browse and export only.",
                                           "To edit it, open it with File > Open project… once no other program "
                                           "has it open."))
            return False
        if self.jobs.busy:
            show_error(self, BadInputError("A job is still running.", "Wait for it to finish or cancel it."))
            return False
        return True

    def _switch_project(self, make) -> bool:
        """Open the new project first: if that fails, the current one stays open and untouched."""
        if not self.can_write(need_project=False):
            return False
        if self.project is not None and self.process_jobs.busy:
            show_error(self, BadInputError("A job is still running on this project.",
                                           "Wait for it or cancel it in View > Jobs (Ctrl+J), then switch."))
            return False
        try:
            project = make()
        except Walt3DError as e:
            show_error(self, e)
            return False
        self.close_project()
        self.project = project
        self._remember_recent(project.root)
        self._update_title()
        self._refresh_cameras()
        self.context._project_switched()
        return True

    def close_project(self) -> None:
        if self.project is None:
            return
        self.jobs.cancel_all()
        self.process_jobs.cancel_all()  # children stop cleanly; what they had not stored is dropped
        self.undo_stack.clear()  # the edits were of this project
        if self.calibration_tool is not None:
            self.calibration_tool.close_tool()
        self.display.set_camera(None, None)
        self.project.close()
        self.project = None
        self.camera_id, self.calibration = None, None
        self.frame_view.set_geometry(None)
        self.timeline.set_table(None)  # clears the view and the status bar
        self.camera_combo.blockSignals(True)
        self.camera_combo.clear()
        self.camera_combo.blockSignals(False)
        self._update_title()
        self._update_actions()
        self.context._project_switched()

    def _refresh_cameras(self, select: int | None = None) -> None:
        """Re-read the cameras (after an import or a new camera) and show `select` or the current one."""
        cams = self.project.cameras() if self.project else []
        want = select if select is not None else self.camera_id
        if want not in [c.id for c in cams]:
            want = cams[0].id if cams else None
        self.camera_combo.blockSignals(True)
        self.camera_combo.clear()
        for c in cams:
            size = f"{c.width}x{c.height}" if c.width else "empty"
            self.camera_combo.addItem(f"{c.name} ({size})", c.id)
        if want is not None:
            self.camera_combo.setCurrentIndex([c.id for c in cams].index(want))
        self.camera_combo.blockSignals(False)
        self.select_camera(want, force=True)

    def _on_camera_combo(self, index: int) -> None:
        if index >= 0:
            self.select_camera(self.camera_combo.itemData(index))

    def select_camera(self, camera_id: int | None, force: bool = False) -> None:
        if camera_id == self.camera_id and not force:
            return
        keep = self.timeline.position if camera_id == self.camera_id else 0
        self.camera_id = camera_id
        if camera_id is not None and self.camera_combo.currentData() != camera_id:
            self.camera_combo.blockSignals(True)
            self.camera_combo.setCurrentIndex(self.camera_combo.findData(camera_id))
            self.camera_combo.blockSignals(False)
        if self.calibration_tool is not None:
            self.calibration_tool.close_tool()
        self.display.set_camera(self.project, camera_id)
        self.calibration = self.project.calibration(camera_id) if camera_id is not None else None
        self.frame_view.set_geometry(self.calibration)
        tz = self.project.camera(camera_id).tz if camera_id is not None else "UTC"
        self.timeline.set_table(self.reader.table if self.reader else None, tz, keep)
        self._update_actions()
        self.camera_changed.emit(camera_id)
        self.context.camera_changed.emit(camera_id)

    @property
    def reader(self):
        return self.display.reader

    def settle(self) -> None:
        """Wait until the frame at the playhead is on screen (screenshots, tests, benchmarks)."""
        self.display.settle()

    # ------------------------------------------------------------------------------ showing
    def _show_current(self, pos: int) -> None:
        self.frame_label.setText(f"Frame {pos} / {self.timeline.count}" if pos >= 0 else "")
        self.time_label.setText(self.timeline.current_time_text())
        self.display.show(pos, self.timeline.current_time(), self.timeline.tz)

    def _on_frame_failed(self, error) -> None:
        self.timeline.pause()
        show_error(self, error)

    def _on_hover(self, x: int, y: int) -> None:
        self._hover = (x, y)
        img = self.display.shown
        if x < 0 or img is None or not (x < img.shape[1] and y < img.shape[0]):
            self.pixel_label.setText("")
            return
        v = img[y, x]
        rgb = " ".join(str(int(c)) for c in np.atleast_1d(v))
        self.pixel_label.setText(f"x {x}  y {y}  RGB {rgb}")

    def set_overlays_visible(self, on: bool) -> None:
        if self.act_overlays.isChecked() != on:
            self.act_overlays.setChecked(on)  # re-enters through toggled
            return
        self.frame_view.set_overlays_visible(on)

    # ------------------------------------------------------------------------------ background
    def set_show_background(self, on: bool) -> None:
        if on and not self.display.backgrounds:
            self.statusBar().showMessage("No background yet: compute one with Background > Compute…", 5000)
            on = False
        self.display.show_background = on
        if self.act_background.isChecked() != on:
            self.act_background.blockSignals(True)
            self.act_background.setChecked(on)
            self.act_background.blockSignals(False)
        self._show_current(self.timeline.position)

    @property
    def show_background(self) -> bool:
        return self.display.show_background

    def compute_background(self, hours_per_window: int | None = 1):
        """Background > Compute: `walt3d background --shard-out` in a child process (None = one window over
        all frames); when it succeeds its medians are stored here in one transaction. The camera is locked
        meanwhile; every other camera stays editable. Cancel or a crash stores nothing."""
        if self.camera_id is None or not self.can_write():
            return None
        import shutil
        import uuid

        project, cam = self.project, self.camera_id
        reason = self.lock_reason(cam)
        if reason:
            show_error(self, BadInputError("This camera is busy.", reason))
            return None
        from ..background_job import merge_background_shard

        shard = project.root / "shards" / f"background-cam{cam}-{uuid.uuid4().hex[:8]}"
        args = ["background", str(project.root), "--camera", project.camera(cam).name, "--shard-out", str(shard)]
        args += ["--all"] if hours_per_window is None else ["--hours-per-window", str(int(hours_per_window))]

        def merge(result):
            return self.jobs.start(lambda ctx: merge_background_shard(project, Path(result["shard"]))[1],
                                   "Storing backgrounds")

        return self.run_process_job(args, f"Background of {project.camera(cam).name}", cam, on_success=merge,
                                    on_done=lambda keys: self.project is project and self._after_background(cam, keys),
                                    on_end=lambda: shutil.rmtree(shard, ignore_errors=True))

    def _after_background(self, cam: int, keys) -> None:
        if cam != self.camera_id:
            return
        self.display.set_backgrounds(self.project.backgrounds(cam))
        self.context.notify_store_changed("backgrounds", cam)
        self.statusBar().showMessage(f"Stored background(s): {', '.join(keys)}", 5000)
        self._show_current(self.timeline.position)

    def _ask_compute_background(self):
        item, ok = QInputDialog.getItem(self, "Compute background", "Median over:", HOURS_CHOICES, 0, False)
        if ok:
            hours = None if item.startswith("All") else int(item.split()[0])
            self.compute_background(hours)

    # ------------------------------------------------------------------------------ sources
    def add_sources(self, paths, camera_id: int | None = None):
        """Add folders of images / video files to a camera (default: the current one; a project without one gets
        'cam1') in a child process (`walt3d add-source`, see gui/process_jobs.py): a long video is scanned while
        people keep labelling the other cameras; the camera it adds to is locked meanwhile. Each source is stored
        in one transaction once it is scanned; Cancel (View > Jobs) stores nothing of the source being scanned
        (and takes back a camera made for it). Returns the ProcessJob, or None when refused."""
        if not self.can_write():
            return None
        if self._adding_job() is not None:
            show_error(self, BadInputError(f"“{self._adding_job().title}” is running already.",
                                           "Wait for it or cancel it in View > Jobs, then add the next source."))
            return None
        paths = [Path(p).resolve() for p in paths]
        project = self.project
        shown = self.camera_id
        cam = camera_id if camera_id is not None else shown
        reason = self.lock_reason(cam)
        if reason:
            show_error(self, BadInputError("This camera is busy.", reason))
            return None
        args = ["add-source", str(project.root), *map(str, paths)]
        if cam is not None:
            args += ["--camera", project.camera(cam).name]
        title = f"Adding {paths[0].name}" + (f" and {len(paths) - 1} more" if len(paths) > 1 else "")

        def done(result):
            lines = [ln.strip() for ln in ((result or {}).get("output") or "").splitlines()
                     if ln.strip().startswith("Added")]
            self.statusBar().showMessage("; ".join(lines) or "Added.", 8000)

        def ended():  # every source that made it in is kept, even when a later one fails or is cancelled
            if self.project is not project:
                return
            cams = project.cameras()
            select = cam if cam is not None else (cams[0].id if cams else None)
            if self.camera_id != shown:  # the person moved on to another camera meanwhile: stay there
                select = self.camera_id
            self._refresh_cameras(select=select)

        job = self.run_process_job(args, title, cam, on_done=done, on_end=ended)
        job.adding_sources = True
        return job

    def _adding_job(self):
        jobs = getattr(self, "process_jobs", None)
        return next((j for j in (jobs.running() if jobs else []) if getattr(j, "adding_sources", False)), None)

    def new_camera(self, name: str, tz: str | None = None) -> int | None:
        try:
            cam = self.project.add_camera(name, tz)
        except Walt3DError as e:
            show_error(self, e)
            return None
        self._refresh_cameras(select=cam)
        return cam

    # ------------------------------------------------------------------------------ calibration
    def load_calibration(self, path: str | Path) -> bool:
        from ..camera import Camera

        try:
            camera = Camera.load(path)
            self.set_calibration(camera)
        except Walt3DError as e:
            show_error(self, e)
            return False
        return True

    def set_calibration(self, camera) -> None:
        """Store a Camera for the current camera (raises Walt3DError for a size mismatch) and show it."""
        self.project.set_calibration(self.camera_id, camera)
        self.calibration = camera
        self.frame_view.set_geometry(camera)
        self.frame_view.set_overlays_visible(self.act_overlays.isChecked())
        self._update_actions()

    def save_calibration(self, path: str | Path) -> bool:
        try:
            self.calibration.save(path)
        except OSError as e:
            show_error(self, Walt3DError(f"Cannot write {path}: {e.strerror or e}.", "Choose another folder."))
            return False
        return True

    def start_calibration_tool(self) -> None:
        from .calibration_tool import CalibrationTool

        if self.calibration_tool is None:
            self.calibration_tool = CalibrationTool(self)
            from .docks import add_dock

            add_dock(self, self.calibration_tool)  # a tab beside the panels: the window never grows
        self.calibration_tool.start()
        self.calibration_tool.raise_()

    # ------------------------------------------------------------------------------ dialogs
    def _start_dir(self) -> str:
        return str(self.settings.value("last_dir", str(Path.home())))

    def _ask_new_project(self):
        path, _ = QFileDialog.getSaveFileName(self, "New project", self._start_dir(), "WALT3D project (*.walt3d)")
        if path:
            self.new_project(path)

    def _ask_open_project(self, readonly: bool = False):
        title = "Open project read-only" if readonly else "Open project"
        path = QFileDialog.getExistingDirectory(self, f"{title} (a NAME.walt3d folder)", self._start_dir())
        if path:
            self.open_project(path, readonly=readonly)

    def _ask_add_folder(self):
        path = QFileDialog.getExistingDirectory(self, "Add a folder of time-lapse images", self._start_dir())
        if path:
            self.settings.setValue("last_dir", str(Path(path).parent))
            self.add_sources([path])

    def _ask_add_video(self):
        patterns = " ".join(f"*{e}" for e in sorted(VIDEO_EXTS))
        paths, _ = QFileDialog.getOpenFileNames(self, "Add videos", self._start_dir(), f"Videos ({patterns})")
        if paths:
            self.settings.setValue("last_dir", str(Path(paths[0]).parent))
            self.add_sources(paths)

    def _ask_new_camera(self):
        name, ok = QInputDialog.getText(self, "New camera", "Name of the camera (one fixed view):")
        if ok and name.strip():
            self.new_camera(name.strip())

    def _ask_load_calibration(self):
        path, _ = QFileDialog.getOpenFileName(self, "Load calibration", self._start_dir(), "Camera (*.json)")
        if path:
            self.load_calibration(path)

    def _ask_save_calibration(self):
        path, _ = QFileDialog.getSaveFileName(self, "Save calibration", str(Path(self._start_dir()) /
                                                                          "camera.json"), "Camera (*.json)")
        if path:
            self.save_calibration(path)

    # ------------------------------------------------------------------------------ recent
    def recent_projects(self) -> list[str]:
        value = self.settings.value("recent_projects", [])
        return [value] if isinstance(value, str) else list(value or [])

    def _remember_recent(self, root: Path) -> None:
        if not self.remember_recent:
            return
        items = [str(root)] + [p for p in self.recent_projects() if p != str(root)]
        self.settings.setValue("recent_projects", items[:MAX_RECENT])
        self.settings.setValue("last_dir", str(root.parent))

    def _fill_recent_menu(self):
        menu: QMenu = self.recent_menu
        menu.clear()
        for p in self.recent_projects():
            menu.addAction(p, lambda p=p: self.open_project(p))
        if menu.isEmpty():
            menu.addAction("(none)").setEnabled(False)

    # ------------------------------------------------------------------------------ drag and drop
    @staticmethod
    def _droppable(event) -> list[Path]:
        if not event.mimeData().hasUrls():
            return []
        paths = [Path(u.toLocalFile()) for u in event.mimeData().urls() if u.isLocalFile()]
        return [p for p in paths if p.is_dir() or p.suffix.lower() in VIDEO_EXTS]

    def dragEnterEvent(self, event):
        if self._droppable(event) and self.project is not None and not self.jobs.busy:
            event.acceptProposedAction()
        else:
            event.ignore()

    def dropEvent(self, event):
        paths = self._droppable(event)
        if paths:
            event.acceptProposedAction()
            self.add_sources(paths)

    # ------------------------------------------------------------------------------ closing
    def closeEvent(self, event):
        self.timeline.pause()
        self.close_project()
        super().closeEvent(event)

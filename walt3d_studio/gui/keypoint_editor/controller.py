"""Wires the keypoint editor into a MainWindow through its public attributes: the dock, the Keypoints menu,
the undo stack, and the keypoint jobs: training and prediction as child processes (`walt3d keypoints
train|predict`, the Jobs panel), and so are COCO export and import (`walt3d keypoints export|import`).

It follows the window through the shared panel context (`window.context`, gui/context.py): a project opened,
switched or closed, the camera shown, and "the store changed" after a job (re-mined detections, proposals).
"""
from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QObject, Qt
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QDockWidget, QFileDialog, QInputDialog

from ...errors import BadInputError
from .. import keymap
from ..errors import show_error
from .editor import KeypointEditor

_UNSET = object()
# keypoint training settings (keypoints.train.TRAIN_DEFAULTS keys) -> `walt3d keypoints train` options
TRAIN_OPTIONS = {"epochs": "--epochs", "arch": "--arch", "input_size": "--input-size", "batch_size": "--batch-size",
                 "lr": "--lr", "val_fraction": "--val-fraction", "seed": "--seed"}


def latest_model(project) -> Path | None:
    """The newest keypoint checkpoint in PROJECT/models/keypoints, or None."""
    folder = project.root / "models" / "keypoints"
    models = sorted(folder.glob("*.pt"), key=lambda p: p.stat().st_mtime) if folder.is_dir() else []
    return models[-1] if models else None


class KeypointEditorController(QObject):
    def __init__(self, window, schema: str = "vehicle12"):
        super().__init__(window)
        self.window = window
        self.undo_stack = window.undo_stack
        self.editor = KeypointEditor(window, self.undo_stack, schema)
        from ..docks import add_dock

        add_dock(window, self.editor, visible=False)  # a tab beside the review panel, shown by Open editor
        self._project = _UNSET
        self._build_menu()
        ctx = window.context  # the project, camera and store changes come from the shared panel context
        ctx.project_changed.connect(lambda _p: self.sync_project())
        ctx.position_changed.connect(self._on_position)
        ctx.store_changed.connect(self._on_store_changed)
        window.jobs.busy_changed.connect(self._on_busy)
        self.sync_project()

    # ------------------------------------------------------------------------------ menu
    def _build_menu(self) -> None:
        w = self.window

        def A(text, slot, shortcut=None, tip=None):
            a = QAction(text, w)
            if tip:
                a.setStatusTip(tip)
            if shortcut:
                keymap.bind(a, shortcut)
            a.triggered.connect(slot)
            w.addAction(a)
            return a

        self.act_open = A("Open &editor", self.open_editor, "keypoints.open",
                          "Label keypoints of mined vehicles, one at a time from the queue")
        self.act_train = A("&Train keypoint model…", self._ask_train,
                           tip="Train the keypoint model on the project's labelled vehicles (a job)")
        self.act_predict = A("&Predict keypoints", lambda: self.predict(),
                             tip="Propose keypoints for unlabelled vehicles with the newest model (a job)")
        self.act_export = A("E&xport COCO keypoints…", self._ask_export)
        self.act_import = A("&Import COCO keypoints…", self._ask_import)
        self.menu = w.menuBar().addMenu("&Keypoints")
        self.menu.addAction(self.act_open)
        self.menu.addSeparator()
        e = self.editor
        for a in (e.act_next, e.act_prev, e.act_accept, e.act_swap, e.act_full):  # from the menu: show the editor
            a.triggered.connect(lambda _=False: e.isVisible() or self.open_editor())
            self.menu.addAction(a)
        self.menu.addSeparator()
        self.menu.addActions([self.act_train, self.act_predict])
        self.menu.addSeparator()
        self.menu.addActions([self.act_export, self.act_import])
        self._update_actions()

    def _update_actions(self) -> None:
        p, busy = self.window.project, self.window.jobs.busy
        writable = p is not None and not p.readonly and not busy  # child jobs (train, predict) leave it writable
        self.act_open.setEnabled(p is not None)
        for a in (self.act_train, self.act_predict, self.act_import):
            a.setEnabled(writable)
        self.act_export.setEnabled(p is not None and not busy)

    # ------------------------------------------------------------------------------ project
    def sync_project(self) -> None:
        """Follow the window's project (opened, closed, switched)."""
        p = self.window.project
        if p is self._project:
            return
        self._project = p
        self.editor.set_project(p)
        if p is None:
            self.editor.hide()
        self._update_actions()

    def _on_position(self, _pos: int) -> None:
        self.editor._update_overlay()

    def _on_store_changed(self, what: str, _camera_id) -> None:
        if what in ("detections", "keypoints", "orphans", "labels", "fits"):  # re-mined, proposals, U/O/X, fits
            self.editor.revalidate()

    def _on_busy(self, _busy: bool) -> None:
        self.sync_project()
        self._update_actions()
        self.editor.revalidate()  # a job may have re-mined (the vehicle on screen gone) or added proposals

    # ------------------------------------------------------------------------------ editor
    def open_editor(self) -> KeypointEditor:
        """Keypoints > Open editor: show the dock on the next vehicle without keypoints."""
        self.sync_project()
        if self.window.project is None:
            show_error(self.window, BadInputError("No project is open.", "Open a project with mined vehicles first."))
            return self.editor
        w = self.window
        before = w.size()
        others = [d for d in w.findChildren(QDockWidget) if d is not self.editor and not d.isFloating()
                  and w.dockWidgetArea(d) == Qt.RightDockWidgetArea]
        if others and self.editor not in w.tabifiedDockWidgets(others[0]):
            w.tabifyDockWidget(others[0], self.editor)  # a tab beside the review panel, not a sliver under it
        self.editor.show()
        self.editor.raise_()
        from ..docks import keep_size

        keep_size(w, before)
        if self.editor.detection is None:
            self.editor.next_vehicle()
        self.editor.canvas.setFocus()
        return self.editor

    # ------------------------------------------------------------------------------ jobs
    def _start_child(self, args: list[str], title: str, done, camera_id: int | None = None, on_end=None,
                     writes: bool = True):
        """A long keypoint job as a child process (`walt3d --progress jsonl keypoints ...`, gui/process_jobs.py):
        labelling goes on meanwhile; the child writes its own rows (or files) only when it completes, so Cancel
        or a crash leaves the store as it was. `writes=False`: it only reads the project (an export)."""
        w = self.window
        if writes and not w.can_write():
            return None
        if any(j.title == title for j in w.process_jobs.running()):
            show_error(w, BadInputError(f"“{title}” is running already.",
                                        "Wait for it, or cancel it in View > Jobs (Ctrl+J)."))
            return None
        return w.run_process_job(args, title, camera_id, on_done=done, on_end=on_end)

    def train(self, epochs: int | None = None, config: dict | None = None, device: str | None = None):
        """Train the keypoint model on the human keypoints: `walt3d keypoints train` in a child process (hours
        of training never stop labelling); the result line carries its version, path and held-out PCK."""
        project = self.window.project
        if project is None:
            return self._start_child([], "", None)
        cfg = dict(config or {})
        if epochs is not None:
            cfg["epochs"] = int(epochs)
        args = ["keypoints", "train", str(project.root)]
        for key, opt in TRAIN_OPTIONS.items():
            if key in cfg:
                args += [opt, str(cfg.pop(key))]
        if cfg.pop("with_person", False) or "person17" in cfg.pop("schemas", ()):
            args.append("--with-person")
        if cfg:
            show_error(self.window, BadInputError(f"Unknown keypoint training setting(s): {', '.join(sorted(cfg))}.",
                                                  f"Known: {', '.join(sorted(TRAIN_OPTIONS))}, with_person."))
            return None
        if device:
            args += ["--device", str(device)]

        def done(r):
            if self.window.project is not project:
                return
            pck = r.get("pck_val") or "no held-out vehicles"
            self._message(f"Trained {r['model_version']} on {r['n_train']} vehicle(s): {pck}; "
                          f"saved {Path(r['path']).name}", 15000)

        return self._start_child(args, "Training keypoint model", done)

    def predict(self, model_path: str | Path | None = None, device: str | None = None):
        """Propose keypoints for every unlabelled mined vehicle: `walt3d keypoints predict` in a child process;
        it stores its proposals in one transaction at its end (a cancelled run stores nothing)."""
        project = self.window.project
        if project is None:
            return self._start_child([], "", None)
        path = Path(model_path) if model_path else latest_model(project)
        if path is None:
            show_error(self.window, BadInputError("There is no keypoint model in this project yet.",
                                                  "Train one first: Keypoints > Train keypoint model…"))
            return None
        args = ["keypoints", "predict", str(project.root), "--model", str(path)]
        if device:
            args += ["--device", str(device)]

        def done(r):
            if self.window.project is not project:
                return
            self.window.context.notify_store_changed("keypoints")
            self._message(f"Stored keypoint proposals for {r['stored']} vehicle(s) with {path.name}", 10000)

        return self._start_child(args, "Predicting keypoints", done)

    def export_coco(self, path: str | Path):
        """Keypoints > Export COCO keypoints: `walt3d keypoints export` in a child process (the project opened
        read-only there, so a read-only project exports too); its JSON and images/ are moved in only when all
        are written, so Cancel leaves the previous export as it was."""
        w = self.window
        if not w.can_write(need_project=False):
            return None
        project = w.project
        if project is None:
            show_error(w, BadInputError("No project is open.", "Open a project with keypoints first."))
            return None
        path = Path(path).expanduser().resolve()
        args = ["keypoints", "export", str(project.root), str(path)]
        return self._start_child(args, "Exporting keypoints", lambda r: self._message(
            f"Wrote {r['annotations']} annotation(s) on {r['images']} image(s) to {r['path']}", 10000),
            writes=False)

    def import_coco(self, path: str | Path):
        """Keypoints > Import COCO keypoints: `walt3d keypoints import` in a child process; it sets every matched
        detection's human keypoints in one transaction at its end, so Cancel or a crash stores nothing.
        Labelling goes on meanwhile; the editor and the review re-read the keypoints when it ends."""
        project = self.window.project
        if project is None:
            return self._start_child([], "", None)
        path = Path(path).expanduser().resolve()
        args = ["keypoints", "import", str(project.root), str(path)]

        def done(r):
            if self.window.project is project:
                self._message(r.get("summary") or "Imported keypoints.", 15000)

        def ended():  # done, cancelled or failed: show what the store holds now
            if self.window.project is project:
                self.editor.refresh()
                self.window.context.notify_store_changed("keypoints")

        return self._start_child(args, "Importing keypoints", done, on_end=ended)

    def _message(self, text: str, ms: int = 5000) -> None:
        self.window.statusBar().showMessage(text, ms)

    # ------------------------------------------------------------------------------ dialogs
    def _start_dir(self) -> str:
        p = self.window.project
        return str(p.root if p is not None else Path.home())

    def _ask_train(self) -> None:
        epochs, ok = QInputDialog.getInt(self.window, "Train keypoint model", "Epochs:", 60, 1, 10000)
        if ok:
            self.train(epochs)

    def _ask_export(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self.window, "Export COCO keypoints",
                                              str(Path(self._start_dir()) / "keypoints.json"), "COCO JSON (*.json)")
        if path:
            self.export_coco(path)

    def _ask_import(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self.window, "Import COCO keypoints", self._start_dir(),
                                              "COCO JSON (*.json)")
        if path:
            self.import_coco(path)


def install_keypoint_editor(window, schema: str = "vehicle12") -> KeypointEditorController:
    """Add the keypoint editor (a dock, hidden until Keypoints > Open editor), the Keypoints menu and its
    jobs to a MainWindow; its edits go on `window.undo_stack`.
    Installing twice returns the first controller."""
    if isinstance(getattr(window, "keypoint_editor", None), KeypointEditorController):
        return window.keypoint_editor  # a second set of the same shortcuts would make every key ambiguous
    ctrl = KeypointEditorController(window, schema)
    window.keypoint_editor = ctrl
    return ctrl

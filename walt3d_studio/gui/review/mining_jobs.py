"""The Mining menu's jobs: mine detections, train the occlusion classifier, export and import occlusion labels.

Mining runs in a child process (`walt3d mine --shard-out`, see gui/process_jobs.py) and locks its camera
until its shard is merged; classifier training and label export/import run as child processes too (the
Jobs panel), and so does learning static occluders (the mask comes back as a PNG for review); failures
are shown with `gui.errors.show_error`; when a job ends the review re-reads the store. Mining again replaces
detections (and their labels), so it clears the undo stack; an import becomes one undoable edit.
"""
from __future__ import annotations

from pathlib import Path

from PySide6.QtWidgets import QFileDialog, QMessageBox

from ...errors import BadInputError, Walt3DError
from ..errors import show_error
from .commands import AppliedEditCommand


def replace_question(project, camera_id) -> str | None:
    """The confirmation before mining a camera again, counting everything the re-run touches (None: nothing
    mined yet, nothing to ask)."""
    from ...store.carry_over import at_stake

    frame_ids = [int(i) for i in project.frame_table(camera_id).ids]
    s = at_stake(project.conn, frame_ids)
    if not s.detections:
        return None
    text = (f"This camera was mined already: {s.detections} detections in {s.tracks} tracks, with "
            f"{s.describe()}.\n\nMine it again, replacing them?")
    if s.human:
        text += (f"\n\nThe {s.human} human edit(s) are carried over to the matching new detections (same frame "
                 "and class, overlapping masks); those that find no match are kept as orphaned edits, listed "
                 "under Review > Orphaned edits to re-attach or discard. (`walt3d mine --replace --dry-run` "
                 "counts them exactly before.)")
    if s.fits:
        text += f"\n\n{s.fits} 3D fit(s) are dropped; fit again afterwards."
    return text


class MiningJobs:
    def __init__(self, controller):
        self.rc = controller
        self.last_train_report = None
        self.last_mine_settings = None  # what the Mine dialog returned last (its next opening starts there)
        self.occluder_tool = None  # the static-occluder brush (occluder_tool.OccluderTool), made on first use

    def _check_idle(self) -> bool:
        return self.rc.window.can_write()

    def _check_unlocked(self) -> bool:
        w = self.rc.window
        reason = w.lock_reason(w.camera_id)
        if reason:
            show_error(w, BadInputError("This camera is busy.", reason))
            return False
        return True

    def _check_minable(self) -> bool:
        w = self.rc.window
        if not self._check_idle() or not self._check_unlocked():
            return False
        if w.camera_id is None or w.reader is None or len(w.reader) == 0:
            show_error(w, BadInputError("This camera has no frames to mine.", "Add a time-lapse first (File menu)."))
            return False
        return True

    def ask_mine(self):
        """Mining > Mine detections…: choose the detector backend in a dialog, then mine with it."""
        if not self._check_minable():
            return None
        from .mine_dialog import MineDialog

        settings = MineDialog.ask(self.rc.window, self.last_mine_settings)
        if settings is None:
            return None
        self.last_mine_settings = settings
        return self.mine_detections(settings=settings)

    def mine_detections(self, replace: bool | None = None, settings=None):
        """The mining stage on the current camera as a job (built-in detector unless `settings` say otherwise;
        no dialog). `replace=None` asks before replacing earlier results (and their labels)."""
        w = self.rc.window
        if not self._check_minable():
            return None
        if replace is None:
            question = replace_question(w.project, w.camera_id)
            replace = False
            if question is not None:
                answer = QMessageBox.question(w, "Mine again", question, QMessageBox.Yes | QMessageBox.No,
                                              QMessageBox.No)
                if answer != QMessageBox.Yes:
                    return None
                replace = True
        from ...mining.mine import MineSettings

        settings = settings or MineSettings()
        return self._mine_in_child(w.project, w.camera_id, settings, replace)

    def _mine_in_child(self, project, cam: int, settings, replace: bool):
        """Mine in a child process (`walt3d mine --shard-out`, the project read-only there); when it succeeds
        the shard is merged here in one transaction. The camera is locked from start to merge."""
        import shutil
        import uuid

        from ...mining.merge import check_not_mined, merge_shard

        w = self.rc.window
        title = f"Mining {project.camera(cam).name}"
        try:  # refuse before spending a mining run on frames that cannot be merged
            check_not_mined(project, [int(i) for i in project.frame_table(cam).ids], replace)
        except Walt3DError as e:
            job = w.process_jobs.failed_now(title, e, cam)
            job.failed.connect(lambda err: show_error(w, err))
            return job
        shard = project.root / "shards" / f"mine-cam{cam}-{uuid.uuid4().hex[:8]}"
        args = ["mine", str(project.root), "--camera", project.camera(cam).name, "--shard-out", str(shard),
                *mine_cli_args(settings)]

        def merge(result):
            return w.jobs.start(lambda ctx: merge_shard(project, Path(result["shard"]), replace=replace),
                                "Storing mined detections")

        return w.run_process_job(args, title, cam, on_success=merge,
                                 on_done=lambda report: self._after_mine(project, report, cam),
                                 on_end=lambda: shutil.rmtree(shard, ignore_errors=True))

    def _after_mine(self, project, report, cam: int | None = None) -> None:
        if self.rc.window.project is not project:
            return
        self.rc.undo_stack.clear()  # detections were replaced: old edits point at nothing
        self.rc.track_id = self.rc.detection_id = None
        # every panel re-reads what it shows (the review, its orphaned edits, the keypoint editor's vehicle)
        self.rc.window.context.notify_store_changed("detections", cam)
        self.rc.status(f"Mined: {report.summary()}", 10000)

    def train_classifier(self, **kwargs):
        """Mining > Train occlusion classifier: train on the labels (job), store and apply it."""
        w = self.rc.window
        if not self._check_idle():
            return None
        title = "Training occlusion classifier"
        if any(j.title == title for j in w.process_jobs.running()):
            show_error(w, BadInputError("The occlusion classifier is being trained already.",
                                        "Wait for it, or cancel it in View > Jobs (Ctrl+J)."))
            return None
        from ...mining.classifier import TrainReport

        # a child process (`walt3d classifier train`): labelling goes on while it trains; it writes the model
        # and its predictions itself, then the review re-reads the store
        project = w.project
        args = ["classifier", "train", str(project.root), "--seed", str(kwargs.get("seed", 0))]
        if kwargs.get("epochs") is not None:
            args += ["--epochs", str(int(kwargs["epochs"]))]
        if kwargs.get("apply") is False:
            args.append("--no-apply")
        return w.run_process_job(args, title, on_success=lambda res: TrainReport(**res["report"]),
                                 on_done=lambda report: self._after_train(project, report))

    def _after_train(self, project, report) -> None:
        if self.rc.window.project is not project:
            return
        self.last_train_report = report
        self.rc.window.context.notify_store_changed("detections")  # new machine verdicts on every camera
        self.rc.status(report.summary(), 15000)

    def export_labels(self, path):
        """Mining > Export occlusion labels: `walt3d labels export` in a child process (it writes FILE and its
        crops folder atomically: a cancelled or crashed export leaves any earlier one whole)."""
        w = self.rc.window
        if w.project is None or not w.can_write(need_project=False):  # reads only: fine on a read-only project
            return None
        project, cam = w.project, w.camera_id
        args = ["labels", "export", str(project.root), str(Path(path).resolve())]
        if cam is not None:
            args += ["--camera", project.camera(cam).name]
        if project.readonly:
            args.append("--read-only")
        return w.run_process_job(args, "Exporting occlusion labels", on_success=lambda r: int(r["exported"]),
                                 on_done=lambda n: self.rc.status(f"Exported {n} occlusion labels to {path}", 10000))

    def import_labels(self, path):
        """Mining > Import occlusion labels: `walt3d labels import` in a child process (all labels in one
        transaction at its end); the import is then one undoable edit on the stack."""
        w = self.rc.window
        if not self._check_idle():
            return None
        project = w.project
        args = ["labels", "import", str(project.root), str(Path(path).resolve()), "--who", "user"]

        def result(r):
            from ...store.detections import LabelChange, LabelEdit

            e = r["edit"]
            edit = LabelEdit([LabelChange(**c) for c in e["changes"]], e["who"], e["detection_ids"],
                             e["track_ids"], e["text"])
            return edit, int(r["matched"]), int(r["unmatched"])

        return w.run_process_job(args, "Importing occlusion labels", on_success=result,
                                 on_done=lambda res: self._after_import(project, path, res))

    def _after_import(self, project, path, result) -> None:
        edit, matched, unmatched = result
        if self.rc.window.project is not project:
            return
        if edit:
            self.rc.undo_stack.push(AppliedEditCommand(self.rc, project, edit, self.rc.place(),
                                                    f"Import {len(edit.changes)} labels"))
        self.rc.window.context.notify_store_changed("labels")
        self.rc.status(f"Imported {matched} labels from {Path(path).name} ({len(edit.changes)} changed, "
                       f"{unmatched} matched no detection)", 10000)

    def _start_dir(self) -> str:
        w = self.rc.window
        if w.project is not None:
            return str(w.project.root.parent)
        return str(w.settings.value("last_dir", str(Path.home())))

    def ask_export(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self.rc.window, "Export occlusion labels",
                                              str(Path(self._start_dir()) / "occlusion-labels.json"),
                                              "COCO JSON (*.json)")
        if path:
            self.export_labels(path)

    def ask_import(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self.rc.window, "Import occlusion labels", self._start_dir(),
                                              "COCO JSON (*.json)")
        if path:
            self.import_labels(path)

    # ------------------------------------------------------------------------------ static occluders
    def paint_occluders(self):
        """Mining > Paint static occluders…: the brush tool on the current camera (starts from its stored mask)."""
        w = self.rc.window
        if not self._check_idle():
            return None
        if w.camera_id is None:
            show_error(w, BadInputError("No camera is selected.", "Add a time-lapse first (File menu)."))
            return None
        from .occluder_tool import OccluderTool

        if self.occluder_tool is None:
            self.occluder_tool = OccluderTool(w, learn=self.learn_occluders)
            from ..docks import add_dock

            add_dock(w, self.occluder_tool)  # a tab beside the review panel: the window never grows
        if not self.occluder_tool.start(w.project, w.camera_id):
            return None
        self.occluder_tool.raise_()
        return self.occluder_tool

    def learn_occluders(self, min_seconds: float | None = None, max_motion_px: float | None = None):
        """Mining > Learn static occluders…: learn from long-lived foreground in a child process (`walt3d occluders
        learn --mask-out`, the project read-only there), then show the mask in the paint tool for review;
        nothing is stored until Save. Returns the ProcessJob (its result: a LearnReport), or None when refused."""
        tool = self.occluder_tool if self.occluder_tool is not None and self.occluder_tool.active else None
        if tool is None:
            tool = self.paint_occluders()
            if tool is None:
                return None
        w = self.rc.window
        if not self._check_idle():
            return None
        title = "Learning static occluders"
        if any(j.title == title for j in w.process_jobs.running()):
            show_error(w, BadInputError(f"“{title}” is running already.",
                                        "Wait for it, or cancel it in View > Jobs (Ctrl+J)."))
            return None
        project, cam = tool.project, tool.camera_id
        secs = tool.min_minutes.value() * 60.0 if min_seconds is None else float(min_seconds)
        import uuid

        out = project.root / "shards" / f"occluders-cam{cam}-{uuid.uuid4().hex[:8]}.png"
        args = ["occluders", "learn", str(project.root), "--camera", project.camera(cam).name,
                "--min-seconds", repr(secs), "--mask-out", str(out)]
        if max_motion_px is not None:
            args += ["--max-motion-px", repr(float(max_motion_px))]

        def read_mask(result):  # the child wrote the mask: read it back into a report, then review it
            import cv2

            from ...mining.static_occluders import LearnReport

            img = cv2.imread(str(out), cv2.IMREAD_GRAYSCALE)
            if img is None:
                raise BadInputError("The learned mask could not be read back.", "Try again; see its log in View > "
                                    "Jobs.")
            rep = LearnReport(img > 0, list(result.get("tracks") or []), int(result.get("places") or 0),
                              int(result.get("detections") or 0))
            self._after_learn(project, cam, rep)
            return rep

        return w.run_process_job(args, title, on_success=read_mask, on_end=lambda: out.unlink(missing_ok=True))

    def _after_learn(self, project, cam, report) -> None:
        tool = self.occluder_tool
        if tool is None or not tool.active or tool.project is not project or tool.camera_id != cam:
            return
        tool.add_learned(report.mask, report.summary())
        self.rc.status(f"Learned {report.summary()}; review it, then Save.", 10000)


def mine_cli_args(settings) -> list[str]:
    """`walt3d mine` options that reproduce `settings` (a MineSettings) in a child process."""
    import json

    args = ["--detector", settings.detector]
    if settings.weights:
        args += ["--weights", str(settings.weights)]
    if settings.import_path:
        args += ["--import-detections", str(settings.import_path)]
    for k, v in settings.detector_options.items():
        args += ["--option", f"{k}={json.dumps(v)}"]
    default_rule = type(settings.rule)().to_dict()
    for k, v in settings.rule.to_dict().items():
        if v != default_rule[k]:  # the defaults speak for themselves
            args += ["--rule", f"{k}={json.dumps(v)}"]
    if not settings.crops:
        args.append("--no-crops")
    if not settings.use_classifier:
        args.append("--no-classifier")
    if settings.workers:
        args += ["--workers", str(settings.workers)]
    return args

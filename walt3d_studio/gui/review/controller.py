"""The occlusion review's controller: selection, keys, undo, jobs and the wiring between the store, the tracks
panel and the frame-view overlays.

State kept here is only what is on screen: the camera shown, the selected track and detection, the detections
of the frame shown (re-read from the store on every frame change and after every edit). Labels live in the
store; every label key pushes one `LabelCommand` (one transaction) on the window's QUndoStack.

Selection: a track (picked in the table, via Space, or by clicking one of its detections) stays selected while
you scrub; the selected detection is that track's detection in the frame shown (or the one clicked).
"""
from __future__ import annotations

import numpy as np
from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtGui import QAction, QUndoStack

from .. import keymap
from ..tools import blocked_by_tool
from .commands import LabelCommand, Place
from .data import AgreementCache, tracks_by_id
from .mining_jobs import MiningJobs
from .overlays import TRAIL_LENGTH, DetectionOverlay, decode_mask
from .style import VERDICT_NAMES
from .tracks_panel import TracksPanel

TRAIL_CACHE = 4000  # tracks whose centres are kept for trails


class ReviewController(QObject):
    changed = Signal()  # after the review re-read something from the store (tests and screenshots wait on it)

    def __init__(self, window):
        super().__init__(window)
        self.window = window
        self.project = None
        self.camera_id: int | None = None
        self._reader = None
        self._size: tuple[int, int] | None = None  # (w, h) of the camera's frames
        self.track_id: int | None = None
        self.detection_id: int | None = None
        self.position = -1
        self.frame_dets: list[dict] = []
        self._frame_ids = np.zeros(0, np.int64)     # position -> frame id
        self._id_order = np.zeros(0, np.int64)      # argsort of _frame_ids, for frame id -> position
        self._track_dets = None                     # DetectionTable of the selected track
        self._track_dets_id: int | None = None
        self._trails: dict[int, tuple[np.ndarray, np.ndarray]] = {}  # track -> (positions, centres)
        self._hit_masks: dict[int, np.ndarray] = {}  # detection -> mask inside its box (frame shown)
        self.agreement = AgreementCache()

        self.undo_stack: QUndoStack = window.undo_stack

        self.panel = TracksPanel(window)
        from ..docks import add_dock

        add_dock(window, self.panel)
        self.overlay = DetectionOverlay(window.frame_view)
        self.mining = MiningJobs(self)
        from .orphans import install_orphans

        self.orphans = install_orphans(self)  # the "Orphaned edits" filter, with re-attach / discard
        self._build_actions()
        self._build_menus()
        from .fit_overlay import FitReview

        self.fits = FitReview(self)  # fit columns, the fits overlay, W / Shift+W
        from .fit_jobs import FitJobs

        self.fit_jobs = FitJobs(self)  # Reconstruct > Fit vehicles / people in 3D, as child jobs
        from .framing import Framing

        self.framing = Framing(self)  # View > Frame / Follow selected object

        self.panel.track_activated.connect(lambda tid: self.select_track(tid, jump=True))
        self.panel.crop_activated.connect(self._on_crop)
        self.panel.selection_changed.connect(lambda: self.panel.selection_label.setText(self._selection_text()))
        window.timeline.position_changed.connect(self._on_position)
        window.jobs.busy_changed.connect(lambda _: self._update_actions())
        if getattr(window, "process_jobs", None) is not None:  # a child job locks the camera it writes
            window.process_jobs.locks_changed.connect(self._update_actions)
        window.frame_view.scene().sigMouseClicked.connect(self._on_click)
        ctx = window.context  # the review owns the selection: it tells the others, and obliges their requests
        ctx.selection_requested.connect(lambda tid: self.select_track(tid, jump=False))
        ctx.store_changed.connect(self._on_store_changed)
        self._on_position(window.timeline.position)

    # ------------------------------------------------------------------------------ actions and menus
    def _action(self, text, slot, key=None, checkable=False, checked=False, tip=None) -> QAction:
        a = QAction(text, self.window)
        if tip:
            a.setStatusTip(tip)
            a.setToolTip(tip)
        if key:
            keymap.bind(a, key)  # keys from the one key table
            a.setShortcutContext(Qt.WindowShortcut)
        if checkable:
            a.setCheckable(True)
            a.setChecked(checked)
            a.toggled.connect(slot)
        else:
            a.triggered.connect(slot)
        self.window.addAction(a)  # shortcuts work wherever focus is in the window
        return a

    def _build_actions(self) -> None:
        A = self._action
        self.act_mine = A("&Mine detections…", lambda: self.mining.ask_mine(),
                          tip="Detect, track and judge occlusion on the current camera (choose the detector first)")
        self.act_train = A("&Train occlusion classifier", lambda: self.mining.train_classifier(),
                           tip="Train the occlusion classifier on your labels and apply it; shows held-out accuracy")
        self.act_export = A("&Export occlusion labels…", self.mining.ask_export)
        self.act_import = A("&Import occlusion labels…", self.mining.ask_import)
        self.act_paint_occluders = A("&Paint static occluders…", lambda: self.mining.paint_occluders(),
                                     tip="Paint poles, trees, signs: objects overlapping them are judged occluded")
        self.act_learn_occluders = A("&Learn static occluders", lambda: self.mining.learn_occluders(),
                                     tip="Find long-lived objects (parked vehicles, signs) and show them for review")
        self.label_actions = {}
        for key, name in (("U", "unoccluded"), ("O", "occluded"), ("X", "not an object / wrong class")):
            self.label_actions[key] = A(f"Label object {name}", lambda _=False, k=key: self.label_detection(k),
                                        f"review.label.{key}")
            self.label_actions["Shift+" + key] = A(f"Label whole track {name}",
                                                   lambda _=False, k=key: self.label_track(k), f"review.track.{key}")
        self.act_select_all = A("Select &all tracks shown", self.select_all_tracks, "review.select_all")
        self.act_next = A("&Next unreviewed", self.next_unreviewed, "review.next",
                          tip="Go to the next detection without a label (most uncertain first when that order is on)")
        self.act_uncertain = A("Most &uncertain first", self.panel.set_uncertain_first, checkable=True)
        self.panel.uncertain_box.toggled.connect(self._sync_uncertain_action)
        self.act_masks = A("&Masks", lambda on: self._set_overlay(masks=on), checkable=True, checked=True)
        self.act_boxes = A("&Boxes", lambda on: self._set_overlay(boxes=on), checkable=True, checked=True)
        self.act_ids = A("Track &ids", lambda on: self._set_overlay(ids=on), checkable=True, checked=True)
        self.act_trails = A("&Trails", lambda on: self._set_overlay(trails=on), checkable=True, checked=True)
        for a in (self.act_masks, self.act_boxes, self.act_ids, self.act_trails):
            self.panel.add_toggle(a)
        self.panel.finish_toggles()

    def _build_menus(self) -> None:
        mb = self.window.menuBar()
        menus = {m.title(): m for m in (a.menu() for a in mb.actions()) if m is not None}
        if "&View" in menus:
            menus["&View"].addSeparator()
            menus["&View"].addAction(self.panel.toggleViewAction())
        m = self.menu = mb.addMenu("&Mining")
        m.addAction(self.act_mine)
        m.addAction(self.act_train)
        m.addSeparator()
        m.addActions([self.act_export, self.act_import])
        m.addSeparator()
        m.addActions([self.act_paint_occluders, self.act_learn_occluders])
        m.addSeparator()
        review = self.review_menu = m.addMenu("&Review")
        review.addActions([self.label_actions[k] for k in ("U", "O", "X")])
        review.addSeparator()
        review.addActions([self.label_actions["Shift+" + k] for k in ("U", "O", "X")])
        review.addSeparator()
        review.addActions([self.act_next, self.act_select_all, self.act_uncertain])
        show = m.addMenu("&Show on frame")
        show.addActions([self.act_masks, self.act_boxes, self.act_ids, self.act_trails])

    def _update_actions(self) -> None:
        busy = self.window.jobs.busy
        has_project = self.window.project is not None
        has_frames = self.window.reader is not None and len(self.window.reader) > 0
        table = self.panel.model.table
        has_tracks = table is not None and len(table) > 0
        locked = self.window.lock_reason(self.window.camera_id) if hasattr(self.window, "lock_reason") else None
        ro = has_project and self.window.project.readonly  # opened read-only: browse and export only
        self.act_mine.setEnabled(has_frames and not busy and not ro and not locked)
        self.act_export.setEnabled(has_project and not busy)
        for a in (self.act_train, self.act_import, self.act_paint_occluders, self.act_learn_occluders):
            a.setEnabled(has_project and not busy and not ro)
        for a in self.label_actions.values():  # writers: not while a job is the camera's writer
            a.setEnabled(has_tracks and not busy and not ro and not locked)
            a.setToolTip(f"Locked: {locked}" if locked else a.text().replace("&", ""))
        self.act_next.setEnabled(has_tracks)  # only moves: fine while a job runs, like scrubbing
        if hasattr(self, "fits"):
            self.fits.update_actions()
        if hasattr(self, "fit_jobs"):
            self.fit_jobs.update_actions()

    def _sync_uncertain_action(self, on: bool) -> None:
        if self.act_uncertain.isChecked() != on:
            self.act_uncertain.blockSignals(True)
            self.act_uncertain.setChecked(on)
            self.act_uncertain.blockSignals(False)

    def _set_overlay(self, **kw) -> None:
        self.overlay.set_visible(**kw)
        if kw.get("trails"):
            self._draw()

    def status(self, text: str, ms: int = 5000) -> None:
        self.window.statusBar().showMessage(text, ms)

    # ------------------------------------------------------------------------------ context
    def _on_position(self, pos: int) -> None:
        w = self.window
        # a new reader also comes with the same camera after sources were added: positions moved
        if w.project is not self.project or w.camera_id != self.camera_id or w.reader is not self._reader:
            self._load_context()
        self._show_frame(pos)

    def _load_context(self) -> None:
        w = self.window
        tool = self.mining.occluder_tool
        if tool is not None and tool.active and (w.project, w.camera_id) != (self.project, self.camera_id):
            tool.close_tool()  # its mask belongs to the camera it was opened on
        self.project, self.camera_id, self._reader = w.project, w.camera_id, w.reader
        cam = self.project.camera(self.camera_id) if self.project is not None and self.camera_id is not None else None
        self._size = (cam.width, cam.height) if cam is not None and cam.width else None
        self.track_id = self.detection_id = None
        self._trails.clear()
        self._track_dets, self._track_dets_id = None, None
        table = w.reader.table if w.reader is not None else None
        self._frame_ids = np.asarray(table.ids, np.int64) if table is not None else np.zeros(0, np.int64)
        self._id_order = np.argsort(self._frame_ids, kind="stable")
        self.reload(show=False)  # also re-checks whether a child job locks this camera

    def reload(self, show: bool = True) -> None:
        """Re-read the camera's tracks (after mining, training, an import, or a camera change)."""
        from ...store.detections import track_table

        self.agreement.clear()
        self._trails.clear()
        self._track_dets_id = None
        if self.project is None or self.camera_id is None:
            self.panel.set_table(None)
        else:
            t = track_table(self.project, self.camera_id)
            self.panel.set_table(t, self.positions_of(t.first_frame_id), sorted(set(t.category)))
            self.agreement.load(self.project, self.camera_id)
            if self.track_id is not None and self.panel.model.table_index(self.track_id) is None:
                self.track_id = self.detection_id = None
        self.fits.reload()
        self.orphans.reload()
        self._update_progress()
        self._update_actions()
        if show:
            self._show_frame(self.window.timeline.position)
        else:
            self.changed.emit()

    def positions_of(self, frame_ids) -> np.ndarray:
        """Timeline positions of frame ids (-1 where the camera has no such frame)."""
        f = np.asarray(frame_ids, np.int64)
        if len(self._frame_ids) == 0 or len(f) == 0:
            return np.full(len(f), -1, np.int64)
        sorted_ids = self._frame_ids[self._id_order]
        i = np.clip(np.searchsorted(sorted_ids, f), 0, len(sorted_ids) - 1)
        return np.where(sorted_ids[i] == f, self._id_order[i], -1)

    def position_of(self, frame_id: int) -> int:
        return int(self.positions_of([frame_id])[0])

    # ------------------------------------------------------------------------------ the frame shown
    def _show_frame(self, pos: int) -> None:
        from ...store.detections import frame_detections

        self.position = pos
        self._hit_masks.clear()
        if self.project is None or pos < 0 or pos >= len(self._frame_ids):
            self.frame_dets = []
        else:
            self.frame_dets = frame_detections(self.project, int(self._frame_ids[pos]))
        ids = {d["id"] for d in self.frame_dets}
        if self.track_id is not None:  # follow the selected track through the frames
            mine = [d["id"] for d in self.frame_dets if d["track_id"] == self.track_id]
            self.detection_id = mine[0] if mine else None
        elif self.detection_id not in ids:
            self.detection_id = None
        self._draw()
        self._update_selection()
        self.changed.emit()

    def _draw(self) -> None:
        self.fits.draw()
        if not self.frame_dets or self._size is None:
            self.overlay.clear()
            return
        trails = self._trails_for(self.frame_dets) if self.act_trails.isChecked() else None
        self.overlay.show(int(self._frame_ids[self.position]), self.frame_dets, self._size, self.detection_id, trails)

    def _trails_for(self, dets) -> dict[int, np.ndarray]:
        from ...store.detections import detection_table

        out = {}
        for d in dets:
            tid = d["track_id"]
            if tid is None:
                continue
            entry = self._trails.get(tid)
            if entry is None:
                if len(self._trails) > TRAIL_CACHE:
                    self._trails.clear()
                t = detection_table(self.project, track_id=tid)
                centres = np.column_stack([t.box[:, 0] + (t.box[:, 2] - 1) / 2, t.box[:, 1] + (t.box[:, 3] - 1) / 2])
                entry = self._trails[tid] = (self.positions_of(t.frame_id), centres)
            pos, centres = entry
            k = int(np.searchsorted(pos, self.position, side="right"))
            if k > 1:
                out[tid] = centres[max(0, k - TRAIL_LENGTH):k]
        return out

    # ------------------------------------------------------------------------------ selection
    def select_track(self, track_id: int | None, jump: bool = True) -> None:
        """Select a track; with `jump`, go to its first frame (its detection there becomes the selected one)."""
        self.window.statusBar().clearMessage()  # a hint about the previous selection is stale now
        self.track_id = track_id
        self.detection_id = None
        if track_id is None:
            self._show_frame(self.position)
            return
        dets = self._load_track(track_id)
        if jump and len(dets):
            self.go_to(self.position_of(int(dets.frame_id[0])))
        else:
            self._show_frame(self.position)

    def select_detection(self, detection_id: int | None) -> None:
        """Select a detection of the frame shown (and its track)."""
        d = next((d for d in self.frame_dets if d["id"] == detection_id), None)
        if d is not None:
            self.window.statusBar().clearMessage()  # a hint about the previous selection is stale now
        self.detection_id = d["id"] if d else None
        self.track_id = d["track_id"] if d else None
        self._draw()
        self._update_selection()
        self.changed.emit()

    def go_to(self, pos: int) -> None:
        tl = self.window.timeline
        if pos < 0:
            return
        if tl.position == pos:
            self._show_frame(pos)
        else:
            tl.set_position(pos)  # position_changed -> _on_position -> _show_frame

    def _load_track(self, track_id: int):
        from ...store.detections import detection_table

        if self._track_dets_id != track_id:
            self._track_dets = detection_table(self.project, track_id=track_id)
            self._track_dets_id = track_id
        return self._track_dets

    def _on_store_changed(self, what: str, camera_id) -> None:
        if what in ("detections", "labels", "orphans", "fits") and (camera_id is None or camera_id == self.camera_id):
            self.reload()

    def _update_selection(self) -> None:
        self.window.context.select(self.track_id, self.detection_id)
        p = self.panel
        p.show_track(self.track_id)
        if self.track_id is None:
            p.set_filmstrip(None, [], 0)
        else:
            dets = self._load_track(self.track_id)
            positions = self.positions_of(dets.frame_id)
            items = [{"id": int(dets.id[i]), "frame_id": int(dets.frame_id[i]), "position": int(positions[i]),
                      "crop_path": dets.crop_path[i], "verdict": dets.verdict[i], "label": dets.label[i]}
                     for i in range(len(dets)) if dets.crop_path[i]]
            if [it["id"] for it in items] != [it["id"] for it in p.filmstrip_model.items] or \
                    [(it["verdict"], it["label"]) for it in items] != \
                    [(it["verdict"], it["label"]) for it in p.filmstrip_model.items]:
                p.set_filmstrip(self.project.root, items, len(dets))
        p.show_crop(self.detection_id)
        p.selection_label.setText(self._selection_text())

    def _selection_text(self) -> str:
        many = self.panel.selected_track_ids()
        if len(many) > 1:
            return (f"<b>{len(many)} tracks selected</b>: U / O / X (or Shift+U / O / X) label all of them, "
                    "as one undo step.")
        if self.track_id is None and self.detection_id is None:
            return "Select a track, or click an object in the frame."
        parts = []
        if self.track_id is not None:
            t = self.panel.model.table
            i = self.panel.model.table_index(self.track_id)
            if i is not None:
                lab = f", track label {t.label[i]}" if t.label[i] else ""
                parts.append(f"<b>Track #{self.track_id}</b> {t.category[i]}: {int(t.length[i])} detections, "
                             f"{int(t.n_mined[i])} mined, {int(t.n_labelled[i])} labelled{lab}.")
                fit = self.fits.describe(self.track_id) if hasattr(self, "fits") else ""
                if fit:
                    parts.append(fit)
        d = next((d for d in self.frame_dets if d["id"] == self.detection_id), None)
        if d is None:
            parts.append("Not in this frame.")
        else:
            by = "your label" if d["decided_by"] == "human" else d["decided_by"]
            extra = f", rule said {d['rule_verdict']}" if d["rule_verdict"] != d["verdict"] else ""
            if d["p_unoccluded"] is not None:
                extra += f", P(U) {d['p_unoccluded']:.2f}"
            flags = d.get("reasons", {}).get("flags") or []
            if flags:
                extra += f" [{', '.join(flags)}]"
            why = d.get("reasons", {})
            touch = [f"detection {t['detection']} behind it comes within {t['contact_px']} px of its top (a gap "
                     f"that narrow cannot be told from contact)" for t in why.get("touching") or []
                     if isinstance(t, dict) and "detection" in t]
            words = [w for w in (why.get("merge"), why.get("shape"), why.get("size_prior"), why.get("parts"),
                                 *touch, *(why.get("suspect") or [])) if w]
            if words:  # the tracker's and the mask's own words: which tracks merged, why suspect
                extra += "; " + "; ".join(words)
            parts.append(f"Detection {d['id']} here: <b>{VERDICT_NAMES.get(d['verdict'], d['verdict'])}</b> "
                         f"({by}{extra}).")
        return " ".join(parts)

    def _on_crop(self, detection_id: int, frame_id: int) -> None:
        self.detection_id = detection_id
        self.go_to(self.position_of(frame_id))

    def _on_click(self, ev) -> None:
        fv = self.window.frame_view
        if ev.button() != Qt.LeftButton or ev.double() or fv.vb.tool is not None or not self.frame_dets:
            return
        p = fv.vb.mapSceneToView(ev.scenePos())
        self.select_detection(self.detection_at(p.x(), p.y()))

    def detection_at(self, x: float, y: float) -> int | None:
        """The detection under an image point: the smallest whose mask covers it, else whose box does."""
        px, py = int(round(x)), int(round(y))
        in_mask, in_box = [], []
        for d in self.frame_dets:
            bx, by, bw, bh = (int(round(v)) for v in d["box"])
            if not (bx <= px < bx + bw and by <= py < by + bh):
                continue
            in_box.append((bw * bh, d["id"]))
            if d.get("rle") is not None:
                x0, y0 = max(bx, 0), max(by, 0)
                m = self._hit_masks.get(d["id"])
                if m is None:  # decoded once per frame shown, kept only inside its box
                    m = self._hit_masks[d["id"]] = decode_mask(d["rle"])[y0:by + bh, x0:bx + bw]
                if 0 <= py - y0 < m.shape[0] and 0 <= px - x0 < m.shape[1] and m[py - y0, px - x0]:
                    in_mask.append((d["area"], d["id"]))
        best = min(in_mask or in_box, default=None)
        return best[1] if best else None

    # ------------------------------------------------------------------------------ labelling
    def place(self) -> Place:
        return Place(self.camera_id, self.position, self.track_id, self.detection_id)

    def label_detection(self, value: str | None) -> bool:
        """U / O / X on the selected detection: one undoable command (one transaction)."""
        if blocked_by_tool(self.window):
            return False
        many = self.panel.selected_track_ids()
        if len(many) > 1:  # several tracks selected in the table: the key labels them all, one undo step
            return self._push(LabelCommand(self, "track", many, value, self.place()))
        if self.detection_id is None:
            self.status("No object selected here: click one, pick a track, or press Space.")
            return False
        return self._push(LabelCommand(self, "detection", [self.detection_id], value, self.place()))

    def label_track(self, value: str | None) -> bool:
        """Shift+U / O / X: the whole selected track."""
        if blocked_by_tool(self.window):
            return False
        many = self.panel.selected_track_ids()
        if len(many) > 1:
            return self._push(LabelCommand(self, "track", many, value, self.place()))
        if self.track_id is None:
            self.status("No track selected: pick one in the review panel or click an object.")
            return False
        return self._push(LabelCommand(self, "track", [self.track_id], value, self.place()))

    def select_all_tracks(self) -> int:
        """Ctrl+A: select every track the table shows; U / O / X then label them all as one undo step."""
        n = self.panel.select_all_shown()
        self.status(f"{n} tracks selected: U / O / X labels them all (one undo step)." if n else
                    "No tracks shown (check the filters).", 6000)
        return n

    def _push(self, cmd) -> bool:
        if not self.window.can_write():
            return False
        locked = self.window.lock_reason(self.camera_id) if hasattr(self.window, "lock_reason") else None
        if locked:
            self.status(f"Camera locked: {locked}", 8000)
            return False
        before, text, failed = self.undo_stack.index(), cmd.text(), []
        cmd.failed = failed  # (an obsolete command is deleted by the stack: read nothing from it after the push)
        self.undo_stack.push(cmd)
        if self.undo_stack.index() > before:  # confirm briefly: what was labelled, and that it is on disk
            self.status(f"{text} · saved", 2500)
        elif not failed:
            self.status(f"No change: {text} already.", 2500)
        return True

    def edited(self, edit, place: Place, jump: bool) -> None:
        """Called by a command after its transaction: re-read what it changed; undo/redo go back to its frame."""
        w = self.window
        if jump and place.camera_id is not None and place.camera_id != w.camera_id:
            w.select_camera(place.camera_id)
        if self.project is not None and self.camera_id is not None:
            sub = tracks_by_id(self.project, edit.track_ids)
            mine = sub.camera_id == self.camera_id
            if mine.any():
                from ...store.detections import TrackTable

                sub = TrackTable(**{k: v[mine] for k, v in vars(sub).items()})
                self.panel.model.update_tracks(sub, self.positions_of(sub.first_frame_id))
                self.agreement.refresh(self.project, sub.id)
        if self._track_dets_id in set(edit.track_ids):
            self._track_dets_id = None  # its labels changed: re-read for the filmstrip
        self._update_progress()
        if jump:
            self.track_id, self.detection_id = place.track_id, place.detection_id
            if place.camera_id == self.camera_id and place.position != w.timeline.position:
                w.timeline.set_position(place.position)
                return
        self._show_frame(w.timeline.position)

    def next_unreviewed(self) -> bool:
        """Space: the next detection without a label, in the table's order (tracks as filtered and sorted there;
        within a track by capture time, or most uncertain first when that order is on). Wraps around."""
        if blocked_by_tool(self.window):
            return False
        model = self.panel.model
        if model.table is None or len(model.rows) == 0:
            self.status("No tracks to review here (check the filters).")
            return False
        rows = model.rows
        cur = model.row_of(self.track_id) if self.track_id is not None else None
        if cur is not None:  # the rest of the current track first
            did = self._first_unlabelled(self.track_id, after=self.detection_id)
            if did is not None:
                return self._go_detection(self.track_id, did)
        unreviewed = np.flatnonzero(~model.table.reviewed[rows])
        if cur is not None:
            unreviewed = np.concatenate([unreviewed[unreviewed > cur], unreviewed[unreviewed <= cur]])
        for r in unreviewed[:1000]:
            tid = int(model.table.id[rows[r]])
            did = self._first_unlabelled(tid)
            if did is not None:
                return self._go_detection(tid, did)
        self.status("Every detection of the tracks shown has a label.")
        return False

    def _first_unlabelled(self, track_id: int, after: int | None = None) -> int | None:
        dets = self._load_track(track_id)
        order = np.arange(len(dets))
        if self.panel.uncertain_first:
            k = np.abs(dets.p_unoccluded - 0.5)
            order = np.argsort(np.where(np.isnan(k), np.inf, k), kind="stable")
        if after is not None:
            where = np.flatnonzero(dets.id[order] == after)
            if len(where):
                order = order[where[0] + 1:]
        for i in order:
            if dets.label[i] is None:
                return int(dets.id[i])
        return None

    def _go_detection(self, track_id: int, detection_id: int) -> bool:
        dets = self._load_track(track_id)
        i = int(np.flatnonzero(dets.id == detection_id)[0])
        self.track_id = track_id
        self.go_to(self.position_of(int(dets.frame_id[i])))
        return True

    # ------------------------------------------------------------------------------ progress
    def _update_progress(self) -> None:
        from ...store.detections import active_classifier

        p = self.panel
        t = p.model.table
        if t is None or len(t) == 0:
            p.progress_label.setText("No detections yet on this camera: Mining > Mine detections." if
                                     self.camera_id is not None else "Open a project with footage to review.")
            p.accuracy_label.setText("")
            return
        rev = int(t.reviewed.sum())
        shown = len(p.model.rows)
        filt = f" ({shown} shown)" if shown != len(t) else ""
        p.progress_label.setText(
            f"<b>Tracks</b>: {rev} reviewed, {len(t) - rev} unreviewed{filt} · <b>Detections</b>: "
            f"{int(t.n_labelled.sum())} of {int(t.length.sum())} labelled")
        a = self.agreement.total()
        clf = active_classifier(self.project)
        if a.with_p:
            text = f"Classifier agrees with {a.classifier_right / a.with_p:.0%} of {a.with_p} labels so far"
        elif a.labelled:
            text = f"Rule agrees with {a.rule_right / a.labelled:.0%} of your {a.labelled} labels (no classifier yet)"
        else:
            text = "No labels yet: U / O / X on a selected object."
        if clf is not None:
            held = clf["metrics"].get("val_accuracy")
            if held is not None:
                text += f" · classifier held-out accuracy {held:.1%}"
        p.accuracy_label.setText(text)

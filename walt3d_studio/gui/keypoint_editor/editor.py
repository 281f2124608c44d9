"""The keypoint editor dock: one mined vehicle at a time from the labelling queue, its crop on the canvas, the
car diagram, the keypoint list, and a status line with the queue's counts.

Every edit reads the detection's keypoints from the store, changes them and writes them back as one undoable
command (commands.apply_edit); the widgets only show what the store holds. What the editor keeps is what is on
screen: the detection, the cursor (the keypoint the next click places), the selected point and the filters.

Keys (active while focus is in the editor, so the review and timeline keys keep working elsewhere):
click places the current keypoint; Tab skips it (absent); Shift+Tab steps back; 1 / 2 / 3 set the selected
point (else the current one) visible / occluded / absent (1 or 2 on a point not placed yet: the next click
places it so); V cycles visible -> occluded -> absent; F swaps left and right (the schema's flip pairs);
Enter accepts the model's proposal; Delete clears the vehicle's keypoints; N / P next / previous vehicle;
R zooms back to the vehicle; Ctrl+F shows it in the full frame.

Orphaned keypoints (a person's keypoints whose vehicle a re-mine replaced without a close enough match,
`store.orphans`) are never offered as fresh work: the queue leaves out the vehicle such a set lies on and counts
the sets apart. With "Orphaned keypoints" ticked, N / P go through them: each is shown as a proposal on the
vehicle now in its old frame; Enter re-attaches it there, Discard drops it (both undoable).
"""
from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import numpy as np
from PySide6.QtCore import QKeyCombination, Qt, Signal
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QDockWidget, QHBoxLayout, QLabel, QToolButton, QVBoxLayout, QWidget

from ...errors import Walt3DError
from ...store import keypoints as kstore
from .. import keymap
from ..errors import show_error
from .canvas import KeypointCanvas
from .commands import OrphanKeypointsCommand, apply_edit
from .crops import CropLoader
from .diagram import CarDiagram
from .frame_overlay import FrameOverlay
from .keypoint_list import KeypointList
from .keys import PanelKeys
from .queue_filter import QueueFilter
from .style import ABSENT, OCCLUDED, STATE_NAMES, VISIBLE, keypoint_colours


class KeypointEditor(QDockWidget):
    changed = Signal()  # the vehicle on screen or its keypoints changed

    def __init__(self, window, undo_stack, schema: str = "vehicle12"):
        super().__init__("Vehicle keypoints", window)
        self.setObjectName("keypointEditor")
        self.window_ = window
        self.undo_stack = undo_stack
        self.schema_name = schema
        self.project = None
        self.schema = kstore.resolve_schema(schema)
        self.colours = keypoint_colours(self.schema.keypoints)
        self.detection: kstore.Detection | None = None
        self.current = 0             # the keypoint the next click places; len(schema) = none left
        self.selected: int | None = None
        self.place_state = VISIBLE   # the state the next click places with
        self.history: list[int] = []  # vehicles shown before (P goes back)
        self.orphan = None           # the orphaned keypoint set on screen (store.orphans.Orphan), if any
        self._pushing = False
        self.crops = CropLoader(self)
        self.crops.loaded.connect(self._on_crop)
        self.crops.failed.connect(self._on_crop_failed)
        self.overlay = FrameOverlay(window.frame_view, self.colours, self.schema.skeleton)
        self._build()
        self._build_actions()
        self.keys = PanelKeys(self, self.editor_actions)
        self.canvas.clicked.connect(self.place)
        self.canvas.point_clicked.connect(self.select_point)
        self.canvas.point_moved.connect(self.move_point)
        self.diagram.clicked.connect(self.set_current)
        self.list.picked.connect(self.set_current)
        self.visibilityChanged.connect(lambda _: self._update_overlay())
        if hasattr(window, "context"):
            window.context.camera_changed.connect(self.follow_camera)

    # ------------------------------------------------------------------------------ building
    def _build(self) -> None:
        body = QWidget()
        lay = QVBoxLayout(body)
        lay.setContentsMargins(4, 4, 4, 4)
        lay.setSpacing(4)
        self.queue = QueueFilter()
        self.queue.changed.connect(self._update_status)
        self.queue.orphans.toggled.connect(self._on_orphan_mode)
        lay.addWidget(self.queue)
        self.canvas = KeypointCanvas()
        self.canvas.set_schema(self.schema.keypoints, self.schema.skeleton, self.colours)
        lay.addWidget(self.canvas, 1)
        row = QHBoxLayout()
        self.diagram = CarDiagram()
        self.diagram.set_schema(self.schema.keypoints, self.schema.descriptions, self.schema.skeleton, self.colours)
        self.list = KeypointList()
        self.list.set_schema(self.schema.keypoints, self.schema.descriptions, self.colours)
        self.list.setFixedWidth(215)
        row.addWidget(self.diagram, 1)
        row.addWidget(self.list)
        self.diagram.setFixedHeight(196)
        self.list.setFixedHeight(196)
        lay.addLayout(row)
        self.button_rows = (QHBoxLayout(), QHBoxLayout(), QHBoxLayout())  # narrow enough to leave the frame room
        for r in self.button_rows:
            r.setSpacing(2)
            lay.addLayout(r)
        self.status = QLabel("")
        self.status.setWordWrap(True)
        self.status.setTextFormat(Qt.PlainText)
        lay.addWidget(self.status)
        self.setWidget(body)
        self.setMinimumWidth(480)

    def _build_actions(self) -> None:
        self.editor_actions: list[QAction] = []

        def A(text, slot, key, row=None):
            a = QAction(text, self)
            keymap.bind(a, key)  # keys and tooltip from the one key table
            a.setShortcutContext(Qt.WidgetWithChildrenShortcut)
            a.triggered.connect(slot)
            self.addAction(a)
            self.editor_actions.append(a)
            if row is not None:
                b = QToolButton()
                b.setDefaultAction(a)
                b.setFocusPolicy(Qt.NoFocus)
                b.setToolButtonStyle(Qt.ToolButtonTextOnly)
                self.button_rows[row].addWidget(b)
            return a

        self.act_prev = A("◀ Prev (P)", self.previous_vehicle, "kp.prev", 0)
        self.act_next = A("Next (N) ▶", self.next_vehicle, "kp.next", 0)
        self.act_accept = A("Accept (Enter)", self.accept_proposal, "kp.accept", 0)
        self.act_full = A("Full frame (Ctrl+F)", self.show_in_frame, "kp.full", 0)
        self.act_fit = A("Zoom (R)", self.fit, "kp.fit", 0)
        self.act_copy_next = A("Copy → next (C)", self.copy_to_next_frame, "kp.copy_next", 0)
        self.act_skip = A("Skip (Tab)", self.skip, "kp.skip", 1)
        self.act_back = A("Back (Shift+Tab)", self.step_back, "kp.back", 1)
        # Shift+Tab arrives as Backtab: carry both so the key works however the platform sends it
        self.act_back.setShortcuts([*self.act_back.shortcuts(),
                                    QKeySequence(QKeyCombination(Qt.ShiftModifier, Qt.Key_Backtab))])
        self.act_visible = A("1 Visible", lambda: self.set_state(VISIBLE), "kp.visible", 1)
        self.act_occluded = A("2 Occluded", lambda: self.set_state(OCCLUDED), "kp.occluded", 1)
        self.act_absent = A("3 Absent", lambda: self.set_state(ABSENT), "kp.absent", 1)
        self.act_cycle = A("Cycle (V)", self.cycle_state, "kp.cycle", 2)
        self.act_swap = A("Swap L/R (F)", self.swap_left_right, "kp.swap", 2)
        self.act_clear = A("Clear (Del)", self.clear, "kp.clear", 2)
        self.act_deselect = A("Deselect (Esc)", self.deselect, "kp.deselect", 2)
        self.act_discard_orphan = QAction("Discard orphan", self)
        self.act_discard_orphan.setToolTip("Drop the orphaned keypoint set on screen (undoable)")
        self.act_discard_orphan.triggered.connect(self.discard_orphan)
        b = self.discard_orphan_button = QToolButton()
        b.setObjectName("discardOrphan")
        b.setDefaultAction(self.act_discard_orphan)
        b.setFocusPolicy(Qt.NoFocus)
        b.setVisible(False)  # shown with the orphaned keypoints
        self.button_rows[2].addWidget(b)
        for r in self.button_rows:
            r.addStretch(1)
        self.edit_actions = [self.act_copy_next, self.act_accept, self.act_skip, self.act_visible, self.act_occluded, self.act_absent,
                             self.act_cycle, self.act_swap, self.act_clear]

    # ------------------------------------------------------------------------------ project
    def set_project(self, project) -> None:
        """The window opened, closed or switched projects: start over with an empty screen."""
        self.crops.set_project(project)
        self.project, self.detection, self.history, self.orphan = project, None, [], None
        if project is not None:
            self.schema = kstore.resolve_schema(self.schema_name, project)
            self.canvas.set_schema(self.schema.keypoints, self.schema.skeleton, self.colours)
        self.queue.set_project(project, self.window_.camera_id)
        self.canvas.set_crop(None)
        self.refresh()

    def follow_camera(self, camera_id) -> None:
        """The main window switched cameras: queue that camera's vehicles; a vehicle of another camera on
        screen gives way to the new camera's next one."""
        if self.project is None or self.project is not self.window_.project:
            return
        self.queue.set_camera(camera_id)
        if self.detection is not None and camera_id is not None and self.detection.camera_id != camera_id:
            self.detection, self.history, self.orphan = None, [], None
            self.canvas.set_crop(None)
            if not self.next_vehicle():
                self.refresh()
        self._update_status()

    @property
    def editable(self) -> bool:
        p = self.project
        return (p is not None and not p.readonly and self.detection is not None
                and not self.window_.jobs.busy and not self.locked_reason())

    def locked_reason(self) -> str | None:
        """Why the vehicle on screen cannot be edited now: a child job writes its camera."""
        lock = getattr(self.window_, "lock_reason", None)
        return lock(self.detection.camera_id) if lock is not None and self.detection is not None else None

    # ------------------------------------------------------------------------------ the queue
    def filters(self) -> dict:
        """Keyword arguments for the store's queue functions."""
        return self.queue.filters(self.schema.name)

    @property
    def orphan_mode(self) -> bool:
        return self.queue.orphans.isChecked()

    def next_vehicle(self) -> bool:
        """N: the next mined vehicle without keypoints under the filters (after the one on screen); with
        "Orphaned keypoints" ticked, the next orphaned keypoint set."""
        if self.project is None:
            return False
        if self.orphan_mode:
            return self.step_orphan(+1)
        if self.orphan is not None:
            self.orphan = None
            self.detection = None
        nxt = kstore.next_to_label(self.project, after=self.detection.id if self.detection else None,
                                   **self.filters())
        if nxt is None or (self.detection is not None and nxt == self.detection.id):
            self._message("No other vehicle without keypoints in the queue (check the filters).")
            return False
        if self.detection is not None:
            self.history.append(self.detection.id)
        self.open_detection(nxt)
        return True

    def previous_vehicle(self) -> bool:
        if self.orphan_mode:
            return self.step_orphan(-1)
        self.orphan = None
        while self.history:
            det = self.history.pop()
            try:
                self.open_detection(det)
                return True
            except Walt3DError:
                continue  # re-mined since
        self._message("No earlier vehicle.")
        return False

    def open_detection(self, detection_id: int, fit: bool = True) -> None:
        """Show a detection (any, not only queued ones; `fit`: zoom to it); raises BadInputError when it does
        not exist."""
        det = kstore.detection(self.project, detection_id)
        self.detection = det
        self.selected, self.place_state = None, VISIBLE
        pts = self._shown_points()
        self.current = self._next_missing(pts, -1)
        cam = self.project.camera(det.camera_id)
        self.canvas.set_crop(None, frame_size=(cam.width, cam.height))
        self.canvas.set_placeholder(None)
        if fit:
            self.canvas.fit_box(det.box)
        self.crops.request(det)
        self.refresh()

    # ------------------------------------------------------------------------------ orphaned keypoints
    def orphans(self) -> list:
        """[(Orphan, detection id or None)] of the schema under the camera filter (store.orphans)."""
        from ...store.orphans import keypoint_orphans

        if self.project is None:
            return []
        return keypoint_orphans(self.project, self.schema.name, self.filters().get("camera_id"))

    def _on_orphan_mode(self, on: bool) -> None:
        if on:
            if not self.step_orphan(+1, from_start=True):
                self.refresh()
            return
        if self.orphan is not None:
            self.orphan, self.detection = None, None
            self.canvas.set_crop(None)
            if not self.next_vehicle():
                self.refresh()

    def step_orphan(self, step: int, from_start: bool = False) -> bool:
        items = self.orphans()
        if not items:
            self.orphan, self.detection = None, None
            self.canvas.set_crop(None)
            self._message("No orphaned keypoints under the camera filter.")
            self.refresh()
            return False
        ids = [o.id for o, _ in items]
        if from_start or self.orphan is None or self.orphan.id not in ids:
            k = 0 if step > 0 else len(items) - 1
        else:
            k = (ids.index(self.orphan.id) + step) % len(items)
        self.open_orphan(*items[k])
        return True

    def open_orphan(self, orphan, detection_id: int | None) -> None:
        """Show an orphaned keypoint set: as a proposal on the vehicle now in its old frame, else alone."""
        self.orphan = orphan
        if detection_id is not None:
            try:
                self.open_detection(detection_id)
                return
            except Walt3DError:
                pass
        self.detection = None
        self.canvas.set_crop(None)
        self.refresh()

    def reattach_orphan(self) -> bool:
        """Enter on an orphan: its keypoints become the human keypoints of the vehicle on screen."""
        if self.orphan is None or self.detection is None:
            self._message("No vehicle overlaps this orphan's old box: discard it, or re-attach it in the review "
                          "panel (Orphaned edits) to an object you pick.")
            return False
        return self._push_orphan(self.detection.id)

    def discard_orphan(self) -> bool:
        if self.orphan is None:
            return False
        return self._push_orphan(None)

    def _orphan_writable(self) -> bool:
        p = self.project
        if p is None or p.readonly or self.window_.jobs.busy or self.orphan is None:
            return False
        lock = getattr(self.window_, "lock_reason", None)
        return not (lock is not None and self.orphan.camera_id is not None and lock(self.orphan.camera_id))

    def _push_orphan(self, detection_id: int | None) -> bool:
        if not self._orphan_writable():
            self._message("The orphaned keypoints cannot be changed now (read-only project, or a job writes "
                          "their camera).")
            return False
        cmd = OrphanKeypointsCommand(self.project, self.orphan.id, detection_id, self._after_orphan_command)
        try:
            cmd.apply_first()
        except Walt3DError as e:
            show_error(self, e)
            return False
        self.undo_stack.push(cmd)
        return True

    def _after_orphan_command(self, orphan_id: int, undone: bool) -> None:
        """Done: on to the next orphan (or back to the queue). Undone: that orphan on screen again."""
        if self.project is None:
            return
        if undone:
            hit = [(o, d) for o, d in self.orphans() if o.id == orphan_id]
            if hit:
                if not self.orphan_mode:
                    self.queue.orphans.blockSignals(True)
                    self.queue.orphans.setChecked(True)
                    self.queue.orphans.blockSignals(False)
                self.open_orphan(*hit[0])
                return
        elif self.orphan_mode:
            if self.step_orphan(+1, from_start=True):
                return
        self.refresh()

    def revalidate(self) -> None:
        """After a job: drop the vehicle on screen when it no longer exists (re-mined), then re-read the store."""
        if self.project is not None and self.detection is not None:
            try:
                kstore.detection(self.project, self.detection.id)
            except Walt3DError:
                self.detection, self.history = None, []
                self.canvas.set_crop(None)
        self.refresh()

    # ------------------------------------------------------------------------------ crops
    def _on_crop(self, det, crop) -> None:
        if self.detection is not None and det.id == self.detection.id:
            cam = self.project.camera(det.camera_id)
            self.canvas.set_crop(crop, det.box, (cam.width, cam.height), fit=False)
            self.canvas.set_placeholder(None)

    def _on_crop_failed(self, det, msg: str) -> None:
        if self.detection is not None and det.id == self.detection.id:
            self.canvas.set_placeholder(f"Cannot show this vehicle's image: {msg}")

    def settle(self) -> None:
        """Wait until the crop asked for last is on screen (tests, screenshots)."""
        self.crops.settle()

    # ------------------------------------------------------------------------------ reading the store
    def keypoints(self) -> tuple[np.ndarray | None, np.ndarray | None]:
        """(human points, proposal shown until accepted) of the vehicle on screen, from the store. The proposal is
        the newest of the keypoint model's and the 3D fit's (`store.keypoints.proposal_keypoints`)."""
        if self.project is None or self.detection is None:
            return None, None
        if self.orphan is not None:  # the orphan's points, as a proposal until re-attached (Enter)
            from ...store.orphans import orphan_points

            return None, orphan_points(self.orphan)
        h = kstore.human_keypoints(self.project, self.detection.id, schema=self.schema)
        if h is not None:
            return h.points, None
        m = kstore.proposal_keypoints(self.project, self.detection.id, schema=self.schema)
        return None, (m.points if m is not None else None)

    def _shown_points(self) -> np.ndarray:
        human, prop = self.keypoints()
        return human if human is not None else prop if prop is not None else self.schema.empty()

    def _next_missing(self, pts: np.ndarray, after: int) -> int:
        for i in range(after + 1, len(pts)):
            if pts[i, 2] == 0:
                return i
        return len(pts)

    def refresh(self) -> None:
        human, prop = self.keypoints()
        n = len(self.schema)
        if self.detection is None:
            self.canvas.set_points(None, None, None)
            self.canvas.set_banner(None)
            if self.orphan is not None:
                self.canvas.set_placeholder(
                    f"Orphaned keypoints of {self.orphan.payload.get('who', '?')}: no vehicle in their old frame "
                    "overlaps their old box now. Discard them, or re-attach them in the review panel (Orphaned "
                    "edits) to an object you pick.")
            elif self.orphan_mode and self.project is not None:
                self.canvas.set_placeholder("No orphaned keypoints: untick “Orphaned keypoints” for the queue.")
            else:
                self.canvas.set_placeholder("No vehicle open: N takes the next vehicle without keypoints."
                                            if self.project is not None else "Open a project to label keypoints.")
            states, cur = np.zeros(n), None
        else:
            self.canvas.set_points(human, prop, self.selected)
            states = human[:, 2] if human is not None else (np.where(prop[:, 2] > 0, -1, 0) if prop is not None
                                                             else np.zeros(n))
            cur = self.current if self.current < n else None
            self.canvas.set_banner(self._banner(cur, prop is not None))
        self.diagram.set_state(states, cur)
        self.list.set_state(states, cur)
        ok = self.editable
        orphan = self.orphan is not None
        self.canvas.editable = ok and not orphan  # else a drag on a point pans
        for a in self.edit_actions:
            a.setEnabled(ok and not orphan)  # an orphan is re-attached whole (then edited) or discarded
        self.act_accept.setEnabled(ok and prop is not None)
        self.act_discard_orphan.setEnabled(orphan and self._orphan_writable())
        self.discard_orphan_button.setVisible(orphan or self.orphan_mode)
        self.act_full.setEnabled(self.detection is not None)
        self._update_status()
        self._update_overlay()
        self.changed.emit()

    def _banner(self, cur: int | None, proposal: bool) -> str:
        n = len(self.schema)
        if self.orphan is not None:
            return (f"Orphaned keypoints of {self.orphan.payload.get('who', '?')}: Enter re-attaches them to this "
                    "vehicle; Discard drops them")
        if proposal:
            return "Model proposal: Enter accepts it; fixing a point accepts the rest as proposed"
        if cur is None:
            return f"All {n} keypoints done: N for the next vehicle"
        how = "" if self.place_state == VISIBLE else f" ({STATE_NAMES[self.place_state]})"
        return f"Click {cur + 1}/{n}: {self.schema.keypoints[cur]}{how}   Tab skips"

    def _update_status(self) -> None:
        if self.project is None:
            self.status.setText("No project open.")
            return
        c = kstore.queue_counts(self.project, **self.filters())
        queue = f"Queue: {c.done} done, {c.to_go} to go (of {c.total})"
        self.queue.set_orphan_count(c.orphaned)
        if c.orphaned:  # a re-mine found no close match for them: listed apart, never silently dropped
            queue += (f" · {c.orphaned} orphaned keypoint set(s): tick “Orphaned keypoints” to re-attach or "
                      "discard them")
        det = self.detection
        if det is None:
            self.status.setText(queue)
            return
        human, prop = self.keypoints()
        cam = self.project.camera(det.camera_id)
        if self.orphan is not None:
            queue += f"\nOrphaned keypoints ({self.orphan.payload.get('who', '?')}), shown on:"
        where = f"Vehicle {det.id}" + (f" (track {det.track_id})" if det.track_id is not None else "")
        when = datetime.fromtimestamp(det.capture_time, ZoneInfo(cam.tz)).strftime("%Y-%m-%d %H:%M:%S")
        if human is not None:
            v = human[:, 2]
            what = f"{int((v == 2).sum())} visible, {int((v == 1).sum())} occluded, {int((v == 0).sum())} absent/to do"
        elif prop is not None and self.orphan is not None:
            what = "orphaned keypoints (Enter re-attaches them here)"
        elif prop is not None:
            what = "model proposal (Enter accepts)"
        else:
            what = "no keypoints yet"
        self.status.setText(f"{queue}\n{where} · {cam.name} {when} · {what}")

    def _message(self, text: str) -> None:
        self.window_.statusBar().showMessage(text, 5000)

    # ------------------------------------------------------------------------------ edits
    def _edit(self, change, text: str) -> bool:
        """Apply `change(points) -> points` to what the store holds (human, else the proposal) as one command."""
        if not self.editable:
            if self.detection is not None and self.window_.jobs.busy:
                self._message("A job is running: editing resumes when it ends.")
            elif self.locked_reason():
                self._message(f"Camera locked: {self.locked_reason()}")
            return False
        return self._push(change(self._shown_points().copy()), text)

    def _push(self, new, text: str) -> bool:
        self._pushing = True  # the command's first redo only refreshes; the edit sets the cursor itself
        try:
            cmd = apply_edit(self.undo_stack, self.project, self.detection.id, self.schema.name, new,
                             text, self._after_command)
        except Walt3DError as e:
            show_error(self, e)
            return False
        finally:
            self._pushing = False
        return cmd is not None

    def _after_command(self, detection_id: int) -> None:
        """After an edit, undo or redo: undo/redo of another vehicle brings that vehicle back on screen."""
        if self.project is None:
            return
        if self.detection is None or detection_id != self.detection.id:
            try:
                self.open_detection(detection_id)
            except Walt3DError:  # re-mined since: nothing to show
                return
            self._return_frame()
            return
        if not self._pushing:  # undo / redo: back to the first keypoint still to place
            self.current = self._next_missing(self._shown_points(), -1)
            self.selected = None
        self.refresh()
        if not self._pushing:
            self._return_frame()

    def place(self, x: float, y: float) -> bool:
        """A click on empty space: place the current keypoint there."""
        n = len(self.schema)
        if self.detection is None:
            return False
        if self.current >= n:
            self._message("Every keypoint is placed or skipped: click a point to select it, or N for the next.")
            return False
        i, v = self.current, self.place_state

        def change(p):
            p[i] = (x, y, v)
            return p

        if not self._edit(change, f"Place {self.schema.keypoints[i]}"):
            return False
        self.selected, self.place_state = i, VISIBLE
        self.current = self._next_missing(self._shown_points(), i)
        self.refresh()
        return True

    def skip(self) -> bool:
        """Tab: the current keypoint is absent (v = 0); go on to the next."""
        i = self.current
        if not self.editable or i >= len(self.schema):
            return False
        self._edit(lambda p: _set(p, i, (0, 0, ABSENT)), f"Skip {self.schema.keypoints[i]}")
        self.selected, self.place_state = None, VISIBLE
        self.current = self._next_missing(self._shown_points(), i)
        self.refresh()
        return True

    def step_back(self) -> None:
        self.set_current(max(min(self.current, len(self.schema)) - 1, 0))

    def set_current(self, i: int) -> None:
        """Make keypoint i the one the next click places (diagram, list); select it when it is placed."""
        if self.detection is None:
            return
        self.current = int(i)
        self.selected = int(i) if self._shown_points()[i, 2] > 0 else None
        self.place_state = VISIBLE
        self.refresh()

    def select_point(self, i: int) -> None:
        self.selected = int(i)
        self.refresh()

    def deselect(self) -> None:
        self.selected = None
        self.refresh()

    def set_state(self, v: int, i: int | None = None) -> bool:
        """1 / 2 / 3: the selected point (else the current one) becomes visible / occluded / absent."""
        if not self.editable:
            return False
        i = i if i is not None else self.selected if self.selected is not None else self.current
        if i >= len(self.schema):
            return False
        name = self.schema.keypoints[i]
        if v == ABSENT:
            ok = self._edit(lambda p: _set(p, i, (0, 0, ABSENT)), f"{name} absent")
            if i == self.current:
                self.current = self._next_missing(self._shown_points(), i)
            self.selected = None
            self.refresh()
            return ok
        if self._shown_points()[i, 2] == 0:  # not placed: at the cursor if it is on the crop, else on next click
            at = self.canvas.cursor_frame_pos()
            self.current, self.place_state = i, v
            if at is None:
                self.refresh()
                self._message(f"{name} is not placed: click where it is (it will be {STATE_NAMES[v]}).")
                return False
            return self.place(*at)

        def change(p):
            p[i, 2] = v
            return p

        ok = self._edit(change, f"{name} {STATE_NAMES[v]}")
        self.selected = i
        self.refresh()
        return ok

    def cycle_state(self) -> bool:
        i = self.selected if self.selected is not None else self.current
        if self.detection is None or i >= len(self.schema):
            return False
        v = int(self._shown_points()[i, 2])
        if v == ABSENT:
            self._message(f"{self.schema.keypoints[i]} is absent: click to place it.")
            return False
        return self.set_state(OCCLUDED if v == VISIBLE else ABSENT, i)

    def move_point(self, i: int, x: float, y: float) -> bool:
        def change(p):
            p[i, :2] = (x, y)
            if p[i, 2] == 0:
                p[i, 2] = VISIBLE
            return p

        ok = self._edit(change, f"Move {self.schema.keypoints[i]}")
        self.selected = i
        self.refresh()  # also drops the canvas's drag preview when the edit was refused
        return ok

    def swap_left_right(self) -> bool:
        """F: the vehicle was labelled the wrong way round; swap every left/right pair of the schema."""
        flip = self.schema.flip_index()
        ok = self._edit(lambda p: p[flip], "Swap left and right")
        if ok and self.selected is not None:
            self.selected = flip[self.selected]
        self.refresh()
        return ok

    def accept_proposal(self) -> bool:
        if self.orphan is not None:
            return self.reattach_orphan()
        human, prop = self.keypoints()
        if prop is None:
            self._message("Nothing to accept: this vehicle has no proposal (keypoint model or 3D fit) pending.")
            return False
        ok = self._edit(lambda p: p, "Accept proposal")
        if ok:
            self.current = self._next_missing(self._shown_points(), -1)
            self.refresh()
        return ok

    def clear(self) -> bool:
        """Delete: remove this vehicle's human keypoints (a model proposal, if any, shows again)."""
        if not self.editable:
            return False
        ok = self._push(None, "Clear keypoints")
        self.selected = None
        self.current = self._next_missing(self._shown_points(), -1)
        self.refresh()
        return ok

    def copy_to_next_frame(self) -> bool:
        """C: this vehicle's points, moved with its box, become a proposal on the next frame of its track;
        the editor goes there (Enter accepts, or fix a point)."""
        from .propagate import copy_to_next

        if not self.editable:
            return False
        try:
            nxt = copy_to_next(self.project, self.detection.id, self._shown_points(), self.schema.name)
        except Walt3DError as e:
            self._message(f"{e.message} {e.hint}".strip())
            return False
        self.history.append(self.detection.id)
        self.open_detection(nxt)
        self._message(f"Copied to vehicle {nxt} (next frame of its track) as a proposal: Enter accepts it.")
        return True

    # ------------------------------------------------------------------------------ views
    def fit(self) -> None:
        if self.detection is not None:
            self.canvas.fit_box(self.detection.box)

    def _return_frame(self) -> None:
        """After undo / redo: the main frame view goes back to the frame of the edit (as review undo does)."""
        det = self.detection
        if det is not None and not self.overlay.shows_frame_of(self.window_, det):
            self.overlay.jump_to(self.window_, det, fit=False)
            self._update_overlay()

    def show_in_frame(self) -> None:
        """Ctrl+F: move the main window to this vehicle's frame; its box and keypoints are drawn there."""
        if self.detection is not None:
            self.overlay.jump_to(self.window_, self.detection)
            self._update_overlay()

    def _update_overlay(self) -> None:
        det = self.detection
        live = (det is not None and self.project is not None and self.project.conn is not None and self.isVisible()
                and self.overlay.shows_frame_of(self.window_, det))
        human, prop = self.keypoints() if live else (None, None)  # read only while the frame is on screen
        self.overlay.show(det.box if live else None, human if human is not None else prop, proposal=human is None)


def _set(p: np.ndarray, i: int, value) -> np.ndarray:
    p[i] = value
    return p

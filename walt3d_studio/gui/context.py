"""What the panels share, in one object: the open project, the camera and frame shown, the selected object,
the jobs, the undo stack, and a signal for "the store changed". Panels subscribe to its signals instead of
setting attributes on the main window and calling each other's `reload()`; the window is its only writer of
project / camera / position, a panel of the selection.

    ctx = window.context
    ctx.project_changed.connect(panel.set_project)       # opened, switched, closed (None)
    ctx.camera_changed.connect(panel.follow_camera)      # camera id or None
    ctx.store_changed.connect(lambda what, cam: ...)     # after a job stored 'detections', 'keypoints', ...
    ctx.select(track_id, detection_id)                   # the review tells everyone what is selected
    ctx.request_selection(track_id)                      # another panel asks the review to select a track

`store_changed(what, camera_id)`: `what` names what was written ("detections" after mining, "labels",
"keypoints", "orphans", "backgrounds", "fits" after a fit job, "fit_reviews" after a person accepted or rejected
a fit (or undid that), "composites"); `camera_id` is the camera it concerned, or None for any. A panel re-reads
only what it shows.

    ctx.go_to(position)                                  # move the playhead; every panel follows
    ctx.frame_image                                      # the frame shown (numpy RGB array) or None
"""
from __future__ import annotations

from PySide6.QtCore import QObject, Signal

STORE_PARTS = ("detections", "labels", "keypoints", "orphans", "backgrounds", "fits", "fit_reviews", "composites",
               "models")


class PanelContext(QObject):
    project_changed = Signal(object)       # the Project now open, or None
    camera_changed = Signal(object)        # the camera shown: id or None
    position_changed = Signal(int)         # the timeline's playhead
    selection_changed = Signal(object, object)  # (track id, detection id), either None
    selection_requested = Signal(object)   # a track id another panel wants selected (the review obliges)
    store_changed = Signal(str, object)    # (what, camera id or None): a job or an edit wrote the store

    def __init__(self, window):
        super().__init__(window)
        self._window = window
        self.track_id: int | None = None
        self.detection_id: int | None = None

    # -- what the window holds (read-only views) ----------------------------------------------------------
    @property
    def project(self):
        return self._window.project

    @property
    def camera_id(self) -> int | None:
        return self._window.camera_id

    @property
    def position(self) -> int:
        return self._window.timeline.position

    @property
    def reader(self):
        return self._window.reader

    @property
    def frame_image(self):
        """The frame the frame view shows (a numpy RGB array, as decoded), or None."""
        view = getattr(self._window, "frame_view", None)
        return None if view is None else view.image

    @property
    def undo_stack(self):
        return self._window.undo_stack

    @property
    def jobs(self):
        """Short work on a thread (JobRunner)."""
        return self._window.jobs

    @property
    def process_jobs(self):
        """Long work in child processes (ProcessJobRunner), or None before it is installed."""
        return getattr(self._window, "process_jobs", None)

    def lock_reason(self, camera_id: int | None) -> str | None:
        return self._window.lock_reason(camera_id)

    def run_process_job(self, *args, **kwargs):
        return self._window.run_process_job(*args, **kwargs)

    def go_to(self, position: int) -> None:
        """Move the playhead to `position` (ignored when negative); the frame view and the panels follow it
        through `position_changed`."""
        tl = self._window.timeline
        if position >= 0 and position != tl.position:
            tl.set_position(position)

    def message(self, text: str, ms: int = 5000) -> None:
        self._window.statusBar().showMessage(text, ms)

    # -- what panels tell each other ----------------------------------------------------------------------
    def select(self, track_id: int | None, detection_id: int | None) -> None:
        """The selected object changed (the review panel, or a click in the frame)."""
        if (track_id, detection_id) == (self.track_id, self.detection_id):
            return
        self.track_id, self.detection_id = track_id, detection_id
        self.selection_changed.emit(track_id, detection_id)

    def request_selection(self, track_id: int | None) -> None:
        """Ask for a track to be selected (e.g. picked in the 3D viewport); whoever owns selection obliges."""
        self.selection_requested.emit(track_id)

    def notify_store_changed(self, what: str, camera_id: int | None = None) -> None:
        if what not in STORE_PARTS:
            raise ValueError(f"store_changed: {what!r} is not one of {STORE_PARTS}")
        self.store_changed.emit(what, camera_id)

    # -- the window's side --------------------------------------------------------------------------------
    def _project_switched(self) -> None:
        self.track_id = self.detection_id = None
        self.project_changed.emit(self._window.project)

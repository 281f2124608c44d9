"""Reconstruct > Fit vehicles / Fit people in 3D: the fitting stages of the camera shown, run as child jobs.

Each runs `walt3d fit vehicles|people PROJECT --camera C` in a process of its own (gui/process_jobs.py, the
`--progress jsonl` protocol): it is listed in the Jobs panel with its progress and Cancel, it locks the camera it
writes (labels, fit verdicts and keypoint edits on that camera wait; other cameras stay editable), and the
fitter stores a camera's fits, poses and keypoint proposals in one transaction at the end, so a cancel or a
crash leaves the store as it was. When the job ends the tracks table's fit columns, the fits overlay, the 3D
viewport and the keypoint editor's proposals are re-read from the store.

A person's verdicts on fits (W / Shift+W) are labels on the track: a re-fit keeps them.
"""
from __future__ import annotations

from ...errors import BadInputError, Walt3DError
from ..errors import show_error

KINDS = {"vehicles": "vehicle", "people": "person"}
TITLES = {"vehicles": "Fitting vehicles in 3D", "people": "Fitting people in 3D"}


class FitJobs:
    """The two fitting actions, their menu and buttons, and what happens when a fit job ends."""

    def __init__(self, rc):
        self.rc = rc
        w = rc.window
        self.last_result: dict | None = None
        self.act_vehicles = rc._action(
            "Fit &vehicles in 3D", lambda: self.fit("vehicles"),
            tip="Fit the 3D vehicle model to the usable vehicle tracks of this camera (a job: View > Jobs)")
        self.act_people = rc._action(
            "Fit &people in 3D", lambda: self.fit("people"),
            tip="Fit bodies on the ground plane to the usable person tracks of this camera (a job: View > Jobs)")
        mb = w.menuBar()
        m = self.menu = mb.addMenu("&Reconstruct")
        m.addActions([self.act_vehicles, self.act_people])
        m.addSeparator()
        m.addActions([rc.fits.act_accept, rc.fits.act_reject])
        m.addSeparator()
        m.addAction(rc.fits.act_show)
        rc.panel.add_fit_buttons([self.act_vehicles, self.act_people])
        self.update_actions()

    # ------------------------------------------------------------------------------ state
    def update_actions(self) -> None:
        w = self.rc.window
        p = w.project
        ok = p is not None and not p.readonly and w.camera_id is not None and not w.jobs.busy
        locked = w.lock_reason(w.camera_id) if ok else None
        for kind, a in (("vehicles", self.act_vehicles), ("people", self.act_people)):
            a.setEnabled(ok and not locked)
            base = a.statusTip()
            a.setToolTip(f"Locked: {locked}" if locked else base)

    def running(self, kind: str | None = None, camera_id: int | None = None) -> list:
        """The fit jobs still running (of one kind, on one camera)."""
        out = []
        for j in self.rc.window.process_jobs.running():
            k = getattr(j, "fit_kind", None)
            if k is not None and (kind is None or k == kind) and (camera_id is None or j.camera_id == camera_id):
                out.append(j)
        return out

    # ------------------------------------------------------------------------------ starting
    def fit(self, kind: str):
        """Fit the camera shown (`kind`: 'vehicles' or 'people') in a child process; returns its ProcessJob
        (None when refused: the reason is shown)."""
        if kind not in KINDS:
            raise ValueError(f"unknown fit kind {kind!r}")
        w = self.rc.window
        if not w.can_write():
            return None
        cam = w.camera_id
        if cam is None:
            show_error(w, BadInputError("No camera is selected.", "Add a time-lapse first (File menu)."))
            return None
        reason = w.lock_reason(cam)
        if reason:
            show_error(w, BadInputError("This camera is busy.", reason))
            return None
        project = w.project
        name = project.camera(cam).name
        title = f"{TITLES[kind]}: {name}"
        try:  # refuse before starting a process: the same message the fitter gives (how to calibrate)
            self._check_calibrated(project, cam, kind)
        except Walt3DError as e:
            job = w.process_jobs.failed_now(title, e, cam)
            job.failed.connect(lambda err: show_error(w, err))
            return job
        args = ["fit", kind, str(project.root), "--camera", name]
        job = w.run_process_job(args, title, cam, on_done=lambda result: self._finished(project, kind, result),
                                on_end=lambda: self._ended(project))
        job.fit_kind = kind
        self.rc.status(f"{title}… (View > Jobs shows its progress; Cancel there stores nothing)", 5000)
        return job

    @staticmethod
    def _check_calibrated(project, camera_id: int, kind: str) -> None:
        if kind == "vehicles":
            from ...reconstruct.vehicle_fit import _calibrated
        else:
            from ...reconstruct.people_fit import _calibrated
        _calibrated(project, camera_id)

    # ------------------------------------------------------------------------------ ending
    def _finished(self, project, kind: str, result) -> None:
        self.last_result = dict(result or {})
        if self.rc.window.project is not project:
            return
        out = (result or {}).get("output") or f"{TITLES[kind]} done."
        self.rc.status(out.splitlines()[0], 15000)

    def _ended(self, project) -> None:
        """Whatever the end (done, cancelled, failed): show what the store holds now."""
        w = self.rc.window
        if w.project is not project:
            return
        self.rc.reload()  # tracks, fit columns, overlay; re-checks the camera's lock
        viewport = getattr(w, "viewport", None)
        if viewport is not None and hasattr(viewport, "reload"):
            viewport.reload()  # no-op until the 3D dock was first shown
        kp = getattr(w, "keypoint_editor", None)
        editor = getattr(kp, "editor", None)
        if editor is not None and hasattr(editor, "revalidate"):
            editor.revalidate()  # new 'fit' keypoint proposals show as proposals

"""Reconstruct > Fit vehicles / Fit people in 3D: the fitting stages of the camera shown, run as child jobs.

Each runs `walt3d fit vehicles|people PROJECT --camera C` in a process of its own (gui/process_jobs.py, the
`--progress jsonl` protocol): it is listed in the Jobs panel with its progress and Cancel, it locks the camera it
writes (labels, fit verdicts and keypoint edits on that camera wait; other cameras stay editable), and the
fitter stores a camera's fits, poses and keypoint proposals in one transaction at the end, so a cancel or a
crash leaves the store as it was. When the job ends the tracks table's fit columns, the fits overlay, the 3D
viewport and the keypoint editor's proposals are re-read from the store.

A person's verdicts on fits (W / Shift+W) are labels on the track: a re-fit keeps them.

Reconstruct > People estimator chooses the body estimator (`walt3d bodies estimators`: the built-in one, the
HMR 2.0 plug-in when installed; unavailable ones are listed with why). Reconstruct > Body model… points the
project at the user's own SMPL file (`walt3d bodies set-model`, in a child process: a pickle is read there, once,
only after the person confirms they trust it, and kept as .npz); "Use the shipped proxy body" goes back.
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
        self.act_vehicles_selected = rc._action(
            "Fit &selected vehicle tracks in 3D", self.fit_selected_vehicles,
            tip="Fit again only the vehicle tracks selected in the review (e.g. after labelling their keypoints)")
        mb = w.menuBar()
        m = self.menu = mb.addMenu("&Reconstruct")
        m.addActions([self.act_vehicles, self.act_vehicles_selected, self.act_people])
        self.estimator = "builtin"
        self.est_menu = m.addMenu("People &estimator")
        self.est_menu.aboutToShow.connect(self._fill_estimators)  # lazily: plug-ins are looked up on first show
        self.act_body_info = m.addAction("Body model: proxy")
        self.act_body_info.setEnabled(False)
        self.act_body_model = rc._action("Body &model (your SMPL file)…", self.ask_body_model,
                                         tip="Fit people with your own SMPL model file (never shipped or downloaded)")
        self.act_proxy = rc._action("Use the shipped pro&xy body", lambda: self.set_body_model(None),
                                    tip="Fit people with the proxy body that ships with the app (CC BY 4.0 meshes)")
        m.addActions([self.act_body_model, self.act_proxy])
        m.aboutToShow.connect(self._show_body_model)
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
        for kind, a in (("vehicles", self.act_vehicles), ("vehicles", self.act_vehicles_selected),
                        ("people", self.act_people)):
            a.setEnabled(ok and not locked and not (kind == "people" and self._body_model_jobs()))
            base = a.statusTip()
            a.setToolTip(f"Locked: {locked}" if locked else base)
        for a in (self.act_body_model, self.act_proxy):  # not while a people fit reads the model
            a.setEnabled(p is not None and not p.readonly and not w.jobs.busy and not self.running("people")
                         and not self._body_model_jobs())

    def running(self, kind: str | None = None, camera_id: int | None = None) -> list:
        """The fit jobs still running (of one kind, on one camera)."""
        out = []
        for j in self.rc.window.process_jobs.running():
            k = getattr(j, "fit_kind", None)
            if k is not None and (kind is None or k == kind) and (camera_id is None or j.camera_id == camera_id):
                out.append(j)
        return out

    def _body_model_jobs(self) -> list:
        return [j for j in self.rc.window.process_jobs.running() if getattr(j, "body_model_job", False)]

    # ------------------------------------------------------------------------------ starting
    def fit_selected_vehicles(self):
        """Fit only the vehicle tracks selected in the table (or the track selected on the frame)."""
        from ...reconstruct.vehicle_fit import BIG_CATEGORIES, CAR_CATEGORIES

        rc = self.rc
        ids = rc.panel.selected_track_ids() or ([rc.track_id] if rc.track_id is not None else [])
        table = rc.panel.model.table
        vehicles = []
        for t in ids:
            i = rc.panel.model.table_index(int(t))
            if i is not None and str(table.category[i]) in CAR_CATEGORIES + BIG_CATEGORIES:
                vehicles.append(int(t))
        if not vehicles:
            rc.status("Select one or more vehicle tracks first (in the review table or on the frame).", 6000)
            return None
        return self.fit("vehicles", track_ids=vehicles)

    def fit(self, kind: str, track_ids: list[int] | None = None):
        """Fit the camera shown (`kind`: 'vehicles' or 'people'; vehicles optionally only `track_ids`) in a
        child process; returns its ProcessJob (None when refused: the reason is shown)."""
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
        if kind == "people" and self._body_model_jobs():
            show_error(w, BadInputError("The body model is being changed.",
                                        "Fit people when that job has ended (View > Jobs)."))
            return None
        project = w.project
        name = project.camera(cam).name
        title = f"{TITLES[kind]}: {name}"
        if track_ids:
            shown = ", ".join(map(str, track_ids[:5])) + ("…" if len(track_ids) > 5 else "")
            title += f", track{'s' if len(track_ids) > 1 else ''} {shown}"
        try:  # refuse before starting a process: the same message the fitter gives (how to calibrate)
            self._check_calibrated(project, cam, kind)
        except Walt3DError as e:
            job = w.process_jobs.failed_now(title, e, cam)
            job.failed.connect(lambda err: show_error(w, err))
            return job
        args = ["fit", kind, str(project.root), "--camera", name]
        if kind == "people" and self.estimator != "builtin":
            args += ["--estimator", self.estimator]
        if track_ids and kind == "vehicles":
            args += ["--tracks", *map(str, track_ids)]
        job = w.run_process_job(args, title, cam, on_done=lambda result: self._finished(project, kind, result),
                                on_end=lambda: self._ended(project))
        job.fit_kind = kind
        self.rc._update_actions()  # the body-model actions wait for a people fit
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
        # every panel re-reads what it shows: the review (tracks, fit columns, overlay, the camera's lock), the
        # 3D viewport, the keypoint editor (new 'fit' keypoint proposals show as proposals)
        w.context.notify_store_changed("fits")

    # ------------------------------------------------------------------------------ people: estimator, body model
    def _fill_estimators(self) -> None:
        from PySide6.QtGui import QAction, QActionGroup

        from ...reconstruct.body_estimators import list_estimators

        menu = self.est_menu
        menu.clear()
        group = QActionGroup(menu)
        for e in list_estimators():
            a = QAction(e.name if e.available else f"{e.name} (unavailable: {e.reason})", menu)
            a.setCheckable(True)
            a.setChecked(e.name == self.estimator)
            a.setEnabled(e.available)
            a.setStatusTip(e.description)
            a.setToolTip(e.description if e.available else e.reason)
            a.triggered.connect(lambda _=False, n=e.name: self.set_estimator(n))
            group.addAction(a)
            menu.addAction(a)

    def set_estimator(self, name: str) -> None:
        self.estimator = name
        self.rc.status(f"People are fitted with the {name} estimator.", 4000)

    def _show_body_model(self) -> None:
        from ...store.body_models import body_model

        p = self.rc.window.project
        info = body_model(p) if p is not None else None
        self.act_body_info.setText("Body model: proxy (ships with the app)" if info is None else
                                   f"Body model: SMPL {info['file']} ({info['sha256'][:10]}…)")
        self.act_proxy.setVisible(info is not None)

    def ask_body_model(self):
        """Reconstruct > Body model…: choose an SMPL file; a pickle is used only if the person trusts it."""
        from PySide6.QtWidgets import QFileDialog

        w = self.rc.window
        if not w.can_write():
            return None
        path, _ = QFileDialog.getOpenFileName(w, "Your SMPL model file", str(w.project.root.parent),
                                              "SMPL model (*.pkl *.npz);;All files (*)")
        if not path:
            return None
        return self.set_body_model(path)

    def set_body_model(self, path, trust: bool | None = None):
        """Run `walt3d bodies set-model` in a child process (None: back to the proxy). A pickle asks first."""
        from pathlib import Path

        w = self.rc.window
        if not w.can_write():
            return None
        if self.running("people"):
            show_error(w, BadInputError("A people fit is running.", "Wait for it or cancel it in View > Jobs."))
            return None
        project = w.project
        args = ["bodies", "set-model", str(project.root)]
        if path is None:
            args.append("--proxy")
            title = "Body model: the shipped proxy"
        else:
            path = Path(path)
            try:
                is_pickle = path.read_bytes()[:2] != b"PK"  # an .npz is a zip: read without running code
            except OSError as e:
                show_error(w, BadInputError(f"Cannot read {path}: {e.strerror or e}.", "Choose another file."))
                return None
            if is_pickle:
                if trust is None:
                    trust = ask_trust(w, path.name)
                if not trust:
                    self.rc.status("Body model unchanged: the pickle was not trusted.", 5000)
                    return None
            args += ["--smpl", str(path)] + (["--trust"] if is_pickle else [])
            title = f"Body model: {path.name}"
        job = w.run_process_job(args, title,
                                on_done=lambda result: self.rc.status((result or {}).get("output", "").split("\n")[0],
                                                                      10000))
        job.body_model_job = True
        self.rc._update_actions()  # no people fit while the model changes
        return job


def ask_trust(window, name: str) -> bool:
    """Ask whether the person trusts a pickled model file (reading a pickle can run code written into it)."""
    from PySide6.QtWidgets import QMessageBox

    answer = QMessageBox.question(
        window, "Trust this model file?",
        f"{name} is a Python pickle: loading it can run code written into the file.\n\nDo you trust it (e.g. you "
        "downloaded it yourself from smpl.is.tue.mpg.de)? It is read once, in a separate process, converted to "
        ".npz and never unpickled again.", QMessageBox.Yes | QMessageBox.No, QMessageBox.No)
    return answer == QMessageBox.Yes

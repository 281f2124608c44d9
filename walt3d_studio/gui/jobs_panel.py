"""The Jobs panel (View > Jobs, Ctrl+J): every child job of this session with progress, time, log and Cancel,
and a status-bar note naming the camera a running job locks.

`install_process_jobs(window)` gives the window its `process_jobs` runner, this dock (tabbed, never growing
the window) and the status-bar note; the main window only calls it.
"""
from __future__ import annotations

from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import (QDockWidget, QHBoxLayout, QLabel, QPlainTextEdit, QProgressBar, QPushButton,
                               QSplitter, QTreeWidget, QTreeWidgetItem, QVBoxLayout, QWidget)

from .docks import add_dock
from .process_jobs import ProcessJob, ProcessJobRunner

COLUMNS = ["Job", "State", "Progress", "Time", "Message"]
STATE_TEXT = {"starting": "starting", "running": "running", "merging": "storing", "finished": "done",
              "failed": "FAILED", "cancelled": "cancelled"}


def _hms(seconds: float) -> str:
    s = int(seconds)
    return f"{s // 3600}:{s // 60 % 60:02d}:{s % 60:02d}" if s >= 3600 else f"{s // 60}:{s % 60:02d}"


class JobsPanel(QDockWidget):
    def __init__(self, runner: ProcessJobRunner, parent: QWidget | None = None):
        super().__init__("Jobs", parent)
        self.setObjectName("jobsDock")
        self.runner = runner
        self.tree = QTreeWidget()
        self.tree.setHeaderLabels(COLUMNS)
        self.tree.setRootIsDecorated(False)
        self.tree.setUniformRowHeights(True)
        self.tree.setColumnWidth(0, 170)
        self.tree.setColumnWidth(1, 70)
        self.tree.setColumnWidth(2, 120)
        self.tree.setColumnWidth(3, 55)
        self.log = QPlainTextEdit()
        self.log.setReadOnly(True)
        self.log.setMaximumBlockCount(5000)
        self.log.setLineWrapMode(QPlainTextEdit.WidgetWidth)  # a narrow dock: wrap rather than scroll sideways
        self.log.setPlaceholderText("Select a job to see its log.")
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setToolTip("End the selected job's process group; nothing partial is stored")
        self.clear_button = QPushButton("Clear finished")
        self.cancel_button.clicked.connect(self.cancel_selected)
        self.clear_button.clicked.connect(runner.clear_finished)

        buttons = QHBoxLayout()
        buttons.addWidget(self.cancel_button)
        buttons.addWidget(self.clear_button)
        buttons.addStretch(1)
        split = QSplitter(Qt.Vertical)
        split.addWidget(self.tree)
        split.addWidget(self.log)
        split.setSizes([140, 160])
        body = QWidget()
        lay = QVBoxLayout(body)
        lay.setContentsMargins(4, 4, 4, 4)
        lay.addWidget(split, 1)
        lay.addLayout(buttons)
        self.setWidget(body)

        self._items: dict[int, QTreeWidgetItem] = {}
        self._bars: dict[int, QProgressBar] = {}
        self._shown_log: tuple[int, int, str] | None = None  # (job id, lines, last line) on screen
        runner.job_added.connect(self._add)
        runner.changed.connect(self._refresh)
        self.tree.currentItemChanged.connect(lambda *_: self._refresh())
        self._timer = QTimer(self)  # running jobs' clocks tick even when the child is quiet
        self._timer.setInterval(1000)
        self._timer.timeout.connect(self._refresh)
        self._timer.start()
        for job in runner.jobs:
            self._add(job)

    # -- rows --------------------------------------------------------------------------------------------
    def _add(self, job: ProcessJob) -> None:
        item = QTreeWidgetItem([job.title, "", "", "", ""])
        item.setData(0, Qt.UserRole, id(job))
        self.tree.insertTopLevelItem(0, item)  # newest first
        bar = QProgressBar()
        bar.setMaximumHeight(16)
        bar.setTextVisible(True)
        self.tree.setItemWidget(item, 2, bar)
        self._items[id(job)], self._bars[id(job)] = item, bar
        self.tree.setCurrentItem(item)
        self._refresh()

    def job_of(self, item: QTreeWidgetItem | None) -> ProcessJob | None:
        if item is None:
            return None
        key = item.data(0, Qt.UserRole)
        return next((j for j in self.runner.jobs if id(j) == key), None)

    def selected_job(self) -> ProcessJob | None:
        return self.job_of(self.tree.currentItem())

    def _refresh(self) -> None:
        live = {id(j): j for j in self.runner.jobs}
        for key in [k for k in self._items if k not in live]:  # cleared
            item = self._items.pop(key)
            self._bars.pop(key, None)
            self.tree.takeTopLevelItem(self.tree.indexOfTopLevelItem(item))
        for key, job in live.items():
            item = self._items.get(key)
            if item is None:
                continue
            item.setText(1, STATE_TEXT.get(job.state, job.state))
            item.setText(3, _hms(job.elapsed()))
            item.setText(4, job.message)
            item.setToolTip(4, job.message)
            if job.camera_id is not None:
                item.setToolTip(0, f"{job.title} (writes camera {job.camera_id})")
            bar = self._bars[key]
            if job.active and job.total <= 0:
                bar.setRange(0, 0)  # busy until the first report
            else:
                bar.setRange(0, max(job.total, 1))
                bar.setValue(min(job.done, job.total) if job.total > 0 else (1 if job.state == "finished" else 0))
            if job.state == "failed":
                for c in (1, 4):
                    item.setForeground(c, Qt.red)
        job = self.selected_job()
        self.cancel_button.setEnabled(job is not None and job.state == "running")
        self.clear_button.setEnabled(any(not j.active for j in self.runner.jobs))
        self._refresh_log(job)

    def _refresh_log(self, job: ProcessJob | None) -> None:
        if job is None:
            if self._shown_log is not None:
                self.log.clear()
                self._shown_log = None
            return
        sig = (id(job), len(job.log), job.log[-1] if job.log else "")
        if sig == self._shown_log:
            return
        self._shown_log = sig
        self.log.setPlainText(job.log_text())
        self.log.verticalScrollBar().setValue(self.log.verticalScrollBar().maximum())

    def cancel_selected(self) -> None:
        job = self.selected_job()
        if job is not None:
            job.cancel()
            self._refresh()


class LockNote(QLabel):
    """Status-bar note: what runs, and whether the camera on screen is locked by it (and why)."""

    def __init__(self, window, runner: ProcessJobRunner):
        super().__init__()
        self.window_, self.runner = window, runner
        self.context = window.context  # the camera shown, and when it changes (gui/context.py)
        self.setTextFormat(Qt.RichText)
        self.linkActivated.connect(lambda _: show_jobs_panel(window))
        runner.changed.connect(self.refresh)
        runner.locks_changed.connect(self.refresh)
        self.hide()

    def refresh(self) -> None:
        running = self.runner.running()
        if not running:
            self.hide()
            return
        j = running[0]
        pct = f" {100 * j.done // j.total}%" if j.total > 0 else ""
        more = f" (+{len(running) - 1} more)" if len(running) > 1 else ""
        cam = self.context.camera_id
        reason = self.runner.lock_reason(cam)
        lock = " · <b>this camera is locked</b>" if reason else ""
        self.setText(f"<a href='jobs'>{j.title}{pct}</a>{more}{lock}")
        self.setToolTip(reason or "Running in its own process; editing stays enabled. Click to open the Jobs panel.")
        self.show()


def show_jobs_panel(window, on: bool = True) -> None:
    """Show (or hide) the Jobs dock; the first time, place it as a tab beside the docks already there."""
    panel = window.jobs_panel
    if on and window.dockWidgetArea(panel) == Qt.NoDockWidgetArea and not panel.isFloating():
        add_dock(window, panel, Qt.RightDockWidgetArea)  # placed when first needed: after the other panels
    panel.setVisible(on)
    if on:
        panel.raise_()


def install_process_jobs(window) -> ProcessJobRunner:
    """The window's child-job runner, its Jobs dock (View > Jobs, Ctrl+J) and the status-bar lock note."""
    from PySide6.QtGui import QAction

    from . import keymap

    runner = ProcessJobRunner(window)
    window.process_jobs = runner
    window.jobs_panel = JobsPanel(runner, window)
    window.jobs_panel.hide()
    act = QAction("&Jobs", window)
    act.setCheckable(True)
    keymap.bind(act, "jobs.panel")
    act.setShortcutContext(Qt.WindowShortcut)
    act.setStatusTip("Running and finished jobs: progress, time, log, Cancel")
    act.triggered.connect(lambda on: show_jobs_panel(window, on))
    window.jobs_panel.visibilityChanged.connect(lambda _v: act.setChecked(window.jobs_panel.isVisible()))
    window.addAction(act)
    window.act_jobs = act
    view = next((a.menu() for a in window.menuBar().actions() if a.menu() and a.text().replace("&", "") == "View"),
                None)
    if view is not None:
        view.addSeparator()
        view.addAction(act)
    window.lock_note = LockNote(window, runner)
    window.statusBar().addPermanentWidget(window.lock_note)
    window.context.camera_changed.connect(lambda _: window.lock_note.refresh())  # is the camera shown locked?
    window.context.project_changed.connect(lambda _: window.lock_note.refresh())
    runner.locks_changed.connect(window._update_actions)
    # a failed job opens the panel on its log
    runner.job_added.connect(lambda job: job.failed.connect(lambda _e: show_jobs_panel(window)))
    return runner

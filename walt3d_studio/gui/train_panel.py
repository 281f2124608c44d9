"""The Train dock: pick an exported dataset and a preset, train in a child process (labelling goes on), watch the
loss fall, cancel or resume, then evaluate by occlusion level.

Training and evaluation are the `walt3d train` / `walt3d eval` commands run as child jobs (gui/process_jobs.py):
a CUDA or native crash ends the child, never the app. A run folder keeps its checkpoints, so Start on a folder
with an unfinished run resumes it. The loss curve is read from the child's progress lines ("loss 0.812 · …").
"""
from __future__ import annotations

import json
import re
import time
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (QComboBox, QDockWidget, QFileDialog, QFormLayout, QHBoxLayout, QLabel, QLineEdit,
                               QPushButton, QSpinBox, QTableWidget, QTableWidgetItem, QVBoxLayout, QWidget)

LOSS = re.compile(r"loss (\d+(?:\.\d+)?)")


class TrainPanel(QDockWidget):
    def __init__(self, window):
        super().__init__("Train", window)
        self.setObjectName("TrainDock")
        self.window_ = window
        self.context = window.context  # jobs start through it (gui/context.py)
        self.job = None
        self.losses: list[tuple[int, float]] = []
        body = QWidget()
        form = QFormLayout()
        self.dataset = QLineEdit()
        self.dataset.setPlaceholderText("a folder written by walt3d export (File > Export dataset…)")
        browse = QPushButton("Browse…")
        browse.clicked.connect(self._browse)
        row = QHBoxLayout()
        row.addWidget(self.dataset, 1)
        row.addWidget(browse)
        form.addRow("Dataset", row)
        self.preset = QComboBox()
        self.preset.addItems(["tiny", "standard"])
        self.preset.setToolTip("tiny: small backbone, short side 320 (CPU, minutes); standard: ResNet-50 FPN (GPU)")
        form.addRow("Preset", self.preset)
        self.iterations = QSpinBox()
        self.iterations.setRange(1, 1_000_000)
        self.iterations.setValue(200)
        form.addRow("Iterations", self.iterations)
        self.device = QComboBox()
        self.device.addItems(["auto", "cpu", "cuda"])
        form.addRow("Device", self.device)
        self.run_dir = QLineEdit()
        self.run_dir.setPlaceholderText("run folder (default: runs/<dataset>-<time> beside the dataset)")
        form.addRow("Run folder", self.run_dir)
        buttons = QHBoxLayout()
        self.start_btn = QPushButton("Start / resume")
        self.start_btn.clicked.connect(self.start)
        self.cancel_btn = QPushButton("Cancel")
        self.cancel_btn.clicked.connect(self.cancel)
        self.eval_btn = QPushButton("Evaluate on test")
        self.eval_btn.clicked.connect(self.evaluate)
        for b in (self.start_btn, self.cancel_btn, self.eval_btn):
            buttons.addWidget(b)
        self.state = QLabel("Pick a dataset, then Start. Labelling goes on while it trains.")
        self.state.setWordWrap(True)
        import pyqtgraph as pg

        self.plot = pg.PlotWidget()
        self.plot.setLabel("bottom", "iteration")
        self.plot.setLabel("left", "loss")
        self.plot.setMinimumHeight(150)
        self.curve = self.plot.plot([], [], pen=pg.mkPen((0, 130, 200), width=2))
        self.table = QTableWidget(0, 5)
        self.table.setHorizontalHeaderLabels(["occlusion", "objects", "AP box", "AP mask", "PCK@0.1"])
        self.table.verticalHeader().hide()
        lay = QVBoxLayout(body)
        lay.addLayout(form)
        lay.addLayout(buttons)
        lay.addWidget(self.state)
        lay.addWidget(self.plot, 1)
        lay.addWidget(self.table)
        self.setWidget(body)
        self._update_buttons()

    # -- actions --------------------------------------------------------------------------------------------
    def _browse(self):
        path = QFileDialog.getExistingDirectory(self, "Exported dataset", self.dataset.text() or str(Path.home()))
        if path:
            self.dataset.setText(path)

    def _run_folder(self) -> Path:
        if self.run_dir.text().strip():
            return Path(self.run_dir.text().strip())
        ds = Path(self.dataset.text().strip())
        path = ds.parent / "runs" / f"{ds.name}-{time.strftime('%Y%m%d-%H%M%S')}"
        self.run_dir.setText(str(path))  # Start again resumes this same run
        return path

    def _check_dataset(self) -> Path | None:
        ds = Path(self.dataset.text().strip())
        if not self.dataset.text().strip() or not (ds / "annotations").is_dir():
            self.state.setText("That folder is not an exported dataset (no annotations/ in it). "
                               "Export one with File > Export dataset…, then pick its folder.")
            return None
        return ds

    def start(self):
        ds = self._check_dataset()
        if ds is None or self.busy:
            return None
        run = self._run_folder()
        self.losses = []
        self.curve.setData([], [])
        args = ["train", str(ds), "--out", str(run), "--preset", self.preset.currentText(),
                "--iterations", str(self.iterations.value()), "--device", self.device.currentText()]
        self.job = self.context.run_process_job(args, f"Train {ds.name} ({self.preset.currentText()})",
                                                on_end=self._ended)
        self.job.progress.connect(self._progress)
        self.state.setText(f"Training into {run}…")
        self._update_buttons()
        return self.job

    def evaluate(self):
        ds = self._check_dataset()
        if ds is None or self.busy:
            return None
        model = self._run_folder() / "model.pt"
        if not model.is_file():
            self.state.setText(f"No trained model at {model} yet: train first (or pick the run folder).")
            return None
        out = model.parent / "eval-test"
        self.job = self.context.run_process_job(["eval", str(ds), "--model", str(model), "--out", str(out)],
                                                f"Evaluate {model.parent.name}", on_end=self._ended,
                                                on_done=lambda _r: self.show_eval(out / "eval.json"))
        self.state.setText("Evaluating on the test split…")
        self._update_buttons()
        return self.job

    def cancel(self):
        if self.job is not None and self.job.active:
            self.job.cancel()

    # -- what the child says ----------------------------------------------------------------------------------
    def _progress(self, done: int, total: int, message: str):
        m = LOSS.search(message or "")
        if m:
            self.losses.append((done, float(m.group(1))))
            xs, ys = zip(*self.losses)
            self.curve.setData(list(xs), list(ys))
        self.state.setText(f"{done}/{total}: {message}")

    def _ended(self):
        job = self.job
        if job is not None:
            self.state.setText(f"{job.title}: {job.state}" + (f" — {job.message}" if job.message else ""))
        self._update_buttons()

    def show_eval(self, path: Path):
        rep = json.loads(Path(path).read_text())
        rows = [("all", rep.get("n_annotations", ""), rep["overall"]["AP_box"], rep["overall"]["AP_mask"],
                 rep["overall"].get("PCK@0.1", float("nan")))]
        rows += [(b, r["n_gt"], r["AP_box"], r["AP_mask"], r["PCK@0.1"]) for b, r in rep["buckets"].items()]
        self.table.setRowCount(len(rows))
        for i, row in enumerate(rows):
            for j, v in enumerate(row):
                item = QTableWidgetItem(f"{v:.3f}" if isinstance(v, float) else str(v))
                item.setTextAlignment(Qt.AlignRight | Qt.AlignVCenter)
                self.table.setItem(i, j, item)
        self.state.setText(f"Evaluated: AP mask {rep['overall']['AP_mask']:.3f} overall; per occlusion level below.")

    @property
    def busy(self) -> bool:
        return self.job is not None and self.job.active

    def _update_buttons(self):
        self.start_btn.setEnabled(not self.busy)
        self.eval_btn.setEnabled(not self.busy)
        self.cancel_btn.setEnabled(self.busy)


def install_train_panel(window) -> TrainPanel:
    """Train > Train a detector… shows the dock (tabbed beside the others, never growing the window)."""
    from PySide6.QtGui import QAction

    from .docks import add_dock

    if isinstance(getattr(window, "train_panel", None), TrainPanel):
        return window.train_panel
    panel = window.train_panel = TrainPanel(window)
    panel.hide()  # until asked for: an undocked child would otherwise paint over the frame view's corner
    act = QAction("&Train a detector…", window)

    def show():
        if window.dockWidgetArea(panel) == Qt.NoDockWidgetArea and not panel.isFloating():
            add_dock(window, panel, Qt.RightDockWidgetArea)
        panel.show()
        panel.raise_()

    act.triggered.connect(show)
    window.act_train_panel = act
    window.menuBar().addMenu("T&rain").addAction(act)
    return panel

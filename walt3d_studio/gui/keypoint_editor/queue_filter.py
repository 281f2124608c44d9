"""Which mined vehicles the editor's queue offers: by camera, capture time and box size (and, optionally,
only tracks usable for the later stages). `filters()` gives the keyword arguments of the store's queue
functions (`next_to_label`, `queue_counts`). Times are entered in the filter camera's own time zone (UTC
for all cameras), as DESIGN "Time" asks for local hours."""
from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from PySide6.QtCore import QDate, QDateTime, QTime, QTimeZone, Signal
from PySide6.QtWidgets import QCheckBox, QComboBox, QDateTimeEdit, QGridLayout, QHBoxLayout, QLabel, QSpinBox, QWidget


class QueueFilter(QWidget):
    changed = Signal()

    def __init__(self, parent=None):
        super().__init__(parent)
        self.project = None
        self.camera = QComboBox()
        self.camera.setToolTip("Vehicles of this camera only")
        self.min_size = QSpinBox()
        self.min_size.setRange(0, 100000)
        self.min_size.setSuffix(" px")
        self.min_size.setSpecialValueText("any")
        self.min_size.setToolTip("Only vehicles whose box is at least this large (its longer side)")
        self.usable_only = QCheckBox("Usable tracks only")
        self.usable_only.setToolTip("Only vehicles of tracks with enough mined frames for the 3D fit")
        self.orphans = QCheckBox("Orphaned keypoints (0)")
        self.orphans.setObjectName("orphanedKeypoints")
        self.orphans.setToolTip("Keypoints a person placed whose vehicle a re-mine replaced without a close enough "
                                "match: N / P go through them; Enter re-attaches one to the vehicle now there, "
                                "Discard drops it (both undoable)")
        self.time_check = QCheckBox("Captured from")
        self.time_from, self.time_to = QDateTimeEdit(), QDateTimeEdit()
        for e in (self.time_from, self.time_to):
            e.setDisplayFormat("yyyy-MM-dd HH:mm")
            e.setTimeZone(QTimeZone.utc())  # the fields hold the camera's local wall time; no DST shifts here
            e.setEnabled(False)
            e.setKeyboardTracking(False)
        self.min_size.setKeyboardTracking(False)
        grid = QGridLayout(self)
        grid.setContentsMargins(0, 0, 0, 0)
        grid.addWidget(QLabel("Camera"), 0, 0)
        grid.addWidget(self.camera, 0, 1)
        grid.addWidget(QLabel("Min size"), 0, 2)
        grid.addWidget(self.min_size, 0, 3)
        grid.addWidget(self.usable_only, 0, 4)
        row = QHBoxLayout()
        for w in (self.time_check, self.time_from, QLabel("to"), self.time_to):
            row.addWidget(w)
        row.addStretch(1)
        row.addWidget(self.orphans)
        grid.addLayout(row, 1, 0, 1, 5)
        self.camera.currentIndexChanged.connect(lambda _: self.changed.emit())
        self.min_size.valueChanged.connect(lambda _: self.changed.emit())
        self.usable_only.toggled.connect(lambda _: self.changed.emit())
        self.time_check.toggled.connect(self._time_toggled)
        self.time_from.dateTimeChanged.connect(lambda _: self.changed.emit())
        self.time_to.dateTimeChanged.connect(lambda _: self.changed.emit())

    def set_project(self, project, camera_id: int | None) -> None:
        """Offer the project's cameras (preselect `camera_id`) and its capture span; emits nothing."""
        self.project = project
        self.blockSignals(True)
        self.camera.clear()
        self.camera.addItem("All cameras", None)
        for c in (project.cameras() if project is not None else []):
            self.camera.addItem(c.name, c.id)
        self.camera.setCurrentIndex(max(self.camera.findData(camera_id), 0))
        if project is not None:
            from ...store.frames import capture_span

            span = capture_span(project)
            if span is not None:
                self._set_times(span[0] // 60 * 60, (span[1] // 60 + 1) * 60)
        self.blockSignals(False)

    def set_camera(self, camera_id: int | None) -> None:
        """Follow the window's camera (None: all cameras); emits nothing."""
        i = self.camera.findData(camera_id)
        self.blockSignals(True)
        if i < 0 and self.project is not None:  # a camera added since the project opened
            self.camera.clear()
            self.camera.addItem("All cameras", None)
            for c in self.project.cameras():
                self.camera.addItem(c.name, c.id)
            i = self.camera.findData(camera_id)
        if i >= 0:
            self.camera.setCurrentIndex(i)
        self.blockSignals(False)

    def set_orphan_count(self, n: int) -> None:
        self.orphans.setText(f"Orphaned keypoints ({n})")

    def filters(self, schema: str) -> dict:
        out = {"schema": schema, "camera_id": self.camera.currentData(), "min_size": float(self.min_size.value()),
               "usable_only": self.usable_only.isChecked()}
        if self.time_check.isChecked():
            tz = ZoneInfo(self.tz())
            out["time_range"] = tuple(_edit_time(e, tz) for e in (self.time_from, self.time_to))
        return out

    def tz(self) -> str:
        cam = self.camera.currentData()
        return self.project.camera(cam).tz if cam is not None and self.project is not None else "UTC"

    def set_time_range(self, t0: float, t1: float) -> None:
        """Only vehicles captured in [t0, t1) (UTC seconds, to the minute)."""
        self.blockSignals(True)
        self._set_times(t0, t1)
        self.time_check.setChecked(True)
        self.blockSignals(False)
        self._time_toggled(True)

    def _set_times(self, t0: float, t1: float) -> None:
        tz = ZoneInfo(self.tz())
        for edit, t in ((self.time_from, t0), (self.time_to, t1)):
            d = datetime.fromtimestamp(t, tz)
            edit.blockSignals(True)
            edit.setDateTime(QDateTime(QDate(d.year, d.month, d.day), QTime(d.hour, d.minute), QTimeZone.utc()))
            edit.blockSignals(False)

    def _time_toggled(self, on: bool) -> None:
        self.time_from.setEnabled(on)
        self.time_to.setEnabled(on)
        self.changed.emit()


def _edit_time(edit: QDateTimeEdit, tz: ZoneInfo) -> float:
    d, t = edit.dateTime().date(), edit.dateTime().time()
    return datetime(d.year(), d.month(), d.day(), t.hour(), t.minute(), tzinfo=tz).timestamp()

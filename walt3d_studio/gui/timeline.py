"""The timeline: scrubber, play/pause and time label, plus the navigation keys of DESIGN "Keys".

It owns the playhead (a position in the camera's capture order) and emits `position_changed`; whoever
shows frames listens. Playback follows wall-clock time: each tick jumps to the frame that *should* be
showing now, so when decoding lags frames are skipped instead of piling up behind the playhead.
"""
from __future__ import annotations

import time
from datetime import datetime
from zoneinfo import ZoneInfo

import numpy as np
from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QHBoxLayout, QLabel, QSlider, QStyle, QToolButton, QWidget
from . import keymap

MAX_FPS = 25.0
TIMELAPSE_FPS = 10.0  # sources slower than 1 frame/s would stand still at their real rate


def format_time(t: float, tz: str, ms: bool | None = None) -> str:
    """ISO 8601 in the camera's local zone; milliseconds when `ms` (None: when the instant has a fraction)."""
    if ms is None:
        ms = abs(t - round(t)) > 5e-4
    return datetime.fromtimestamp(t, ZoneInfo(tz)).isoformat(timespec="milliseconds" if ms else "seconds")


def format_span(s: float, ms: bool = True) -> str:
    """A duration as [D d ]HH:MM:SS[.mmm], for the position within a camera's time span."""
    s = round(max(s, 0.0), 3 if ms else 0)
    days, rest = divmod(s, 86400.0)
    h, rest = divmod(rest, 3600.0)
    m, sec = divmod(rest, 60.0)
    text = f"{int(h):02d}:{int(m):02d}:" + (f"{sec:06.3f}" if ms else f"{int(sec):02d}")
    return f"{int(days)} d {text}" if days else text


def playback_fps(times: np.ndarray) -> float:
    """The source's real frame rate (median spacing), capped at MAX_FPS; time-lapses play at TIMELAPSE_FPS."""
    if len(times) < 2:
        return MAX_FPS
    dt = np.diff(times)
    dt = dt[dt > 0]
    if dt.size == 0:
        return MAX_FPS
    fps = 1.0 / float(np.median(dt))
    return TIMELAPSE_FPS if fps < 1.0 else min(fps, MAX_FPS)


class Timeline(QWidget):
    position_changed = Signal(int)
    playing_changed = Signal(bool)

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.table = None  # FrameTable
        self.tz = "UTC"
        self.position = -1
        self.fps = MAX_FPS
        self.ms = False
        self.play_button = QToolButton()
        self.play_button.setIcon(self.style().standardIcon(QStyle.SP_MediaPlay))
        self.play_button.setToolTip("Play / pause (K)")
        self.play_button.setFocusPolicy(Qt.NoFocus)
        self.slider = QSlider(Qt.Horizontal)
        self.slider.setFocusPolicy(Qt.NoFocus)  # keys belong to the window's shortcuts
        self.slider.setTracking(True)
        self.label = QLabel("no frames")
        self.label.setMinimumWidth(170)
        self.label.setToolTip("Capture time since the first frame / span of all frames")
        lay = QHBoxLayout(self)
        lay.setContentsMargins(6, 2, 6, 2)
        lay.addWidget(self.play_button)
        lay.addWidget(self.slider, 1)
        lay.addWidget(self.label)
        self._timer = QTimer(self)
        self._timer.setTimerType(Qt.PreciseTimer)
        self._timer.timeout.connect(self._tick)
        self._play_start = (0.0, 0)  # (wall time, position) when playback (re)started
        self.play_button.clicked.connect(self.toggle_play)
        self.slider.valueChanged.connect(self.set_position)
        self.actions_list = self._make_actions()
        self.set_table(None)

    def _make_actions(self) -> list[QAction]:
        specs = [
            ("Play / pause", "go.play", self.toggle_play),
            ("Next frame", "go.next", lambda: self.step(1)),
            ("Previous frame", "go.prev", lambda: self.step(-1)),
            ("Forward 1 s", "go.forward", lambda: self.step_seconds(1.0)),
            ("Back 1 s", "go.back", lambda: self.step_seconds(-1.0)),
            ("First frame", "go.first", lambda: self.set_position(0)),
            ("Last frame", "go.last", lambda: self.set_position(self.count - 1)),
        ]
        out = []
        for text, key, slot in specs:
            a = QAction(text, self)
            keymap.bind(a, key)
            a.setShortcutContext(Qt.WindowShortcut)
            a.triggered.connect(slot)
            self.addAction(a)  # active wherever focus is in the window
            out.append(a)
        return out

    # -- data ----------------------------------------------------------------------------------
    @property
    def count(self) -> int:
        return 0 if self.table is None else len(self.table)

    def set_table(self, table, tz: str = "UTC", position: int = 0) -> None:
        """Show another camera's frames (None: nothing). Emits position_changed for the new playhead."""
        self.pause()
        self.table, self.tz = table, tz
        n = self.count
        self.fps = playback_fps(table.times) if n else MAX_FPS
        # one format for the whole camera, so labels do not jump between whole and fractional seconds
        self.ms = bool(n) and bool(np.any(np.abs(table.times - np.round(table.times)) > 5e-4))
        self.slider.blockSignals(True)
        self.slider.setRange(0, max(n - 1, 0))
        self.slider.blockSignals(False)
        self.setEnabled(n > 0)
        for a in self.actions_list:
            a.setEnabled(n > 0)
        self.position = -1
        if n:
            self.set_position(min(max(position, 0), n - 1))
        else:
            self.label.setText("no frames")
            self.position_changed.emit(-1)

    def current_time_text(self) -> str:
        t = self.current_time()
        return "" if t is None else format_time(t, self.tz, self.ms)

    def current_time(self) -> float | None:
        return float(self.table.times[self.position]) if self.count and self.position >= 0 else None

    # -- moving the playhead -------------------------------------------------------------------
    def set_position(self, i: int) -> None:
        if not self.count:
            return
        i = min(max(int(i), 0), self.count - 1)
        if i == self.position:
            return
        self.position = i
        if self.slider.value() != i:
            self.slider.blockSignals(True)
            self.slider.setValue(i)
            self.slider.blockSignals(False)
        t = self.table.times
        self.label.setText(f"{format_span(t[i] - t[0], self.ms)} / {format_span(t[-1] - t[0], self.ms)}")
        if self.is_playing and not self._timer_driven:
            self._restart_clock()  # a manual jump while playing continues from there
        self.position_changed.emit(i)

    def step(self, n: int) -> None:
        self.set_position(self.position + n)

    def step_seconds(self, s: float) -> None:
        """Move by `s` seconds of capture time; at least one frame, so sparse time-lapses still move."""
        if not self.count:
            return
        target = self.table.position_at_time(self.current_time() + s)
        if target == self.position:
            target += 1 if s > 0 else -1
        self.set_position(target)

    # -- playback ------------------------------------------------------------------------------
    _timer_driven = False

    @property
    def is_playing(self) -> bool:
        return self._timer.isActive()

    def toggle_play(self) -> None:
        self.pause() if self.is_playing else self.play()

    def play(self) -> None:
        if self.count < 2 or self.is_playing:
            return
        if self.position >= self.count - 1:
            self.set_position(0)
        self._restart_clock()
        self._timer.start(max(1, int(round(1000.0 / self.fps))))
        self.play_button.setIcon(self.style().standardIcon(QStyle.SP_MediaPause))
        self.playing_changed.emit(True)

    def pause(self) -> None:
        if not self.is_playing:
            return
        self._timer.stop()
        self.play_button.setIcon(self.style().standardIcon(QStyle.SP_MediaPlay))
        self.playing_changed.emit(False)

    def _restart_clock(self) -> None:
        self._play_start = (time.monotonic(), self.position)

    def _tick(self) -> None:
        t0, p0 = self._play_start
        target = p0 + int((time.monotonic() - t0) * self.fps)
        self._timer_driven = True
        try:
            self.set_position(target)  # skips frames when drawing lags behind the clock
        finally:
            self._timer_driven = False
        if self.position >= self.count - 1:
            self.pause()

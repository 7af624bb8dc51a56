"""The window's live view: the Live button loops exposures off the GUI thread.

:func:`live_display` wraps the Qt-free :func:`app.live.run_live` (it opens, loops
and closes the camera on a pool thread, run by superqt's ``create_worker``) and
stretches each preview for display there. :class:`LiveView` starts it when Live is
ticked, draws the newest frame, histogram and mean, and stops it (the exposure is
aborted) when Live is unticked, when Auto flats starts, or when the window closes.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
from PyQt6.QtCore import QObject, QTimer
from superqt.utils import create_worker

from app.adu import AduScale, round_adu
from app.gui.form import SettingsForm
from app.gui.monitor import MonitorPane
from app.gui.run_panel import RunPanel
from app.gui.worker import CameraFacts, display_levels, lower_thread_priority, stretch
from app.live import LiveFrame, LiveSettings, run_live
from app.settings import SettingsError

SimPath = str | os.PathLike[str] | None
#: the newest frame is drawn at most this often (ms)
LIVE_RENDER_MS = 40


@dataclass(frozen=True, slots=True)
class LiveDisplay:
    """A live frame with its preview stretched to 8 bits for the screen."""

    frame: LiveFrame
    image: npt.NDArray[np.uint8]


def live_display(camera_id: str, settings: LiveSettings, cancel: threading.Event,
                 sim_config_path: SimPath = None) -> Iterator[LiveDisplay]:
    """The live loop for the window (runs on a worker thread, below the GUI's priority)."""
    lower_thread_priority()
    for frame in run_live(camera_id, settings, cancel, sim_config_path):
        yield LiveDisplay(frame, stretch(frame.preview, display_levels(frame.preview)))


def describe_live(frame: LiveFrame) -> str:
    """The live read-out: exposure, mean native / 16-bit, clipping, channels for colour."""
    s = frame.stats
    text = (f"Live {frame.exposure_s:.4g} s: mean {round_adu(s.mean_native)} native = "
            f"{round_adu(s.mean_16bit)} 16-bit, {s.clipped_fraction:.1%} clipped")
    if s.channel_means_native:
        scale = AduScale(frame.bit_depth)
        text += "\n" + " · ".join(
            f"{ch} {round_adu(m)} / {round_adu(scale.to_16bit(m))}"
            for ch, m in s.channel_means_native.items())
    if frame.note:
        text += f"\n{frame.note}"
    return text


class LiveView(QObject):
    """Drives the Live button of ``panel``; draws into ``monitor``; reads ``form``."""

    def __init__(
        self,
        panel: RunPanel,
        monitor: MonitorPane,
        form: SettingsForm,
        camera_id: Callable[[], str | None],
        facts: Callable[[], CameraFacts | None],
        sim_config: Callable[[], SimPath],
        show_error: Callable[[str], None],
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.panel, self.monitor, self.form = panel, monitor, form
        self._camera_id, self._facts, self._sim_config = camera_id, facts, sim_config
        self._show_error = show_error
        self._worker: Any = None
        self._cancel: threading.Event | None = None
        self._then: list[Callable[[], object]] = []
        self._pending: LiveDisplay | None = None
        self.frames_received = 0
        self.frames_drawn = 0
        self.last_frame: LiveFrame | None = None
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(LIVE_RENDER_MS)
        self._timer.timeout.connect(self._render)
        panel.liveButton.toggled.connect(self._toggled)

    # -- state -------------------------------------------------------------------------
    def active(self) -> bool:
        """Whether a live loop runs (or is still releasing the camera)."""
        return self._worker is not None

    def _toggled(self, checked: bool) -> None:
        if checked and not self.active():
            self.start()
        elif not checked:
            self.stop()

    def _uncheck(self) -> None:
        button = self.panel.liveButton
        button.blockSignals(True)
        button.setChecked(False)
        button.blockSignals(False)

    def settings(self) -> LiveSettings:
        """The live loop's settings from the form; raises SettingsError."""
        facts = self._facts()
        if facts is None:
            raise SettingsError("the camera has not been read yet; wait a moment")
        shown = self.form.show_target(AduScale(facts.info.bit_depth), bit_depth_known=True)
        exposure = self.panel.liveExposureSpin.value()
        if shown is None and exposure <= 0:
            raise SettingsError("the target is not valid; fix it or give a live exposure")
        target, tolerance = shown if shown is not None else (None, None)
        gain, offset = self.form.gainSpin.value(), self.form.offsetSpin.value()
        min_s = self.form.minExposureSpin.value()
        return LiveSettings(
            exposure_s=exposure if exposure > 0 else None, target_native=target,
            tolerance_native=tolerance, gain=gain if gain >= 0 else None,
            offset=offset if offset >= 0 else None,
            binning=int(self.form.binCombo.currentData() or 1),
            min_exposure_s=min_s if min_s > 0 else None,
            max_exposure_s=self.form.maxExposureSpin.value())

    # -- start / stop --------------------------------------------------------------------
    def start(self) -> bool:
        """Start looping; False (Live unticked, a message shown) if it cannot."""
        camera_id = self._camera_id()
        try:
            if camera_id is None:
                raise SettingsError("no camera chosen")
            settings = self.settings()
        except (SettingsError, ValueError) as error:
            self._uncheck()
            self._show_error(f"Live view not started: {error}.")
            return False
        if not self.panel.liveButton.isChecked():
            self.panel.liveButton.blockSignals(True)
            self.panel.liveButton.setChecked(True)
            self.panel.liveButton.blockSignals(False)
        self._cancel = threading.Event()
        self.last_frame = None
        self.frames_received = 0
        self.panel.liveLabel.setText("Live: starting…")
        self.panel.liveLabel.show()
        worker = create_worker(live_display, camera_id, settings, self._cancel,
                               self._sim_config(), _start_thread=False, _ignore_errors=True)
        worker.yielded.connect(self._on_frame)
        worker.errored.connect(self._on_error)
        worker.finished.connect(self._on_finished)
        self._worker = worker
        worker.start()
        return True

    def stop(self, then: Callable[[], object] | None = None) -> None:
        """Stop looping (aborts the exposure); ``then`` runs once the camera is released."""
        self._uncheck()
        if then is not None:
            self._then.append(then)
        if self._cancel is not None:
            self._cancel.set()
        if not self.active():
            self._run_then()

    def _run_then(self) -> None:
        pending, self._then = self._then, []
        for callback in pending:
            callback()

    # -- worker signals ------------------------------------------------------------------
    def _on_frame(self, item: LiveDisplay) -> None:
        self.frames_received += 1
        self._pending = item
        if not self._timer.isActive():
            self._timer.start()

    def _render(self) -> None:
        item, self._pending = self._pending, None
        if item is None:
            return
        frame = item.frame
        self.last_frame = frame
        self.monitor.imageView.show_frame(item.image, (0, 255))
        self.monitor.histogram.show_histogram(frame.histogram, frame.stats.clip_level_native)
        self.panel.liveLabel.setText(describe_live(frame))
        self.frames_drawn += 1

    def _on_error(self, error: BaseException) -> None:
        self._show_error(f"Live view stopped: {error}. Check the camera, then tick Live "
                         "again.")

    def _on_finished(self, *_: object) -> None:
        self._render()
        self._worker = None
        self._cancel = None
        self._uncheck()
        if self.last_frame is not None:
            self.panel.liveLabel.setText(
                f"Live view stopped after {self.frames_received} frame(s); last: "
                + describe_live(self.last_frame).removeprefix("Live "))
        else:
            self.panel.liveLabel.setText("Live view stopped")
        self._run_then()

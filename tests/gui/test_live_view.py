"""The Live button: loops exposures off the GUI thread, saves nothing, stops cleanly."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest
from PyQt6.QtCore import Qt
from PyQt6.QtWidgets import QPushButton

from app.events import FinishReason
from tests.gui.conftest import write_sim

pytestmark = pytest.mark.gui


def test_live_button_loops_frames_without_saving(make_window: Any, qtbot: Any,
                                                 tmp_path: Path) -> None:
    window = make_window()
    button = window.findChild(QPushButton, "liveButton")
    assert button is window.liveButton and button.isCheckable()
    window.runPanel.liveExposureSpin.setValue(0.25)
    updates = window.histogram.updates
    drawn = window.imageView.frames_drawn
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)
    assert button.isChecked() and window.live.active()
    qtbot.waitUntil(lambda: window.live.frames_drawn >= 3, timeout=20_000)
    assert window.imageView.frames_drawn >= drawn + 3
    assert window.histogram.updates >= updates + 3
    frame = window.live.last_frame
    assert frame is not None and frame.exposure_s == pytest.approx(0.25, rel=1e-3)
    text = window.runPanel.liveLabel.text()
    assert "native" in text and "16-bit" in text and "0.25 s" in text
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)  # untick: stop
    qtbot.waitUntil(lambda: not window.live.active(), timeout=10_000)
    assert not button.isChecked()
    assert "stopped" in window.runPanel.liveLabel.text()
    out = tmp_path / "flats"
    assert not out.exists() or not any(out.iterdir())  # nothing saved


def test_live_steers_toward_the_target(make_window: Any, qtbot: Any, tmp_path: Path) -> None:
    sim = write_sim(tmp_path / "dim.toml", "flux_e_s = 800.0\n")
    window = make_window(sim_config=sim)
    window.liveButton.click()  # exposure 'auto'

    def on_target() -> bool:
        frame = window.live.last_frame
        return frame is not None and frame.index >= 2 and abs(
            frame.stats.mean_native - 8191.875) <= 0.05 * 8191.875

    qtbot.waitUntil(on_target, timeout=30_000)
    window.liveButton.click()
    qtbot.waitUntil(lambda: not window.live.active(), timeout=10_000)


def test_live_colour_shows_channels(make_window: Any, qtbot: Any) -> None:
    window = make_window(camera="sim-color")
    window.runPanel.liveExposureSpin.setValue(0.5)
    window.liveButton.click()
    qtbot.waitUntil(lambda: window.live.frames_drawn >= 1, timeout=20_000)
    assert sorted(window.histogram.channel_names()) == ["B", "G", "R"]
    text = window.runPanel.liveLabel.text()
    assert "R " in text and "G " in text and "B " in text
    window.live.stop()
    qtbot.waitUntil(lambda: not window.live.active(), timeout=10_000)


def test_unticking_aborts_a_long_exposure(make_window: Any, qtbot: Any, tmp_path: Path,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    sim = write_sim(tmp_path / "slow.toml", "").read_text().replace(
        "time_scale = 0.0", "time_scale = 1.0")
    (tmp_path / "slow.toml").write_text(sim)
    window = make_window(sim_config=tmp_path / "slow.toml")
    started, aborted = threading.Event(), threading.Event()
    from drivers.simulator import SimulatedCamera

    real_start = SimulatedCamera._do_start_exposure
    real_abort = SimulatedCamera._do_abort_exposure

    def start(self: SimulatedCamera, exposure_s: float) -> float | None:
        applied = real_start(self, exposure_s)
        started.set()
        return applied

    def abort(self: SimulatedCamera) -> None:
        if started.is_set():
            aborted.set()
        real_abort(self)

    monkeypatch.setattr(SimulatedCamera, "_do_start_exposure", start)
    monkeypatch.setattr(SimulatedCamera, "_do_abort_exposure", abort)
    window.runPanel.liveExposureSpin.setValue(600.0)  # ten minutes
    window.liveButton.click()
    cancel = window.live._cancel
    try:
        qtbot.waitUntil(started.is_set, timeout=15_000)  # the exposure is running
        assert window.live.active() and window.live.frames_received == 0
        window.liveButton.click()
        qtbot.waitUntil(lambda: not window.live.active(), timeout=15_000)
        assert aborted.is_set()
        assert window.live.frames_received == 0
    finally:
        if cancel is not None:
            cancel.set()  # whatever happened, end the ten-minute exposure


def test_auto_flats_stops_the_live_view_first(make_window: Any, qtbot: Any,
                                              tmp_path: Path) -> None:
    window = make_window(count=2)
    window.runPanel.liveExposureSpin.setValue(0.2)
    window.liveButton.click()
    qtbot.waitUntil(lambda: window.live.frames_drawn >= 1, timeout=20_000)
    qtbot.mouseClick(window.autoFlatsButton, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: window.last_finished is not None and not window.is_running(),
                    timeout=30_000)
    assert not window.live.active() and not window.liveButton.isChecked()
    assert window.last_finished is not None
    assert window.last_finished.reason is FinishReason.COMPLETED
    assert len(list((tmp_path / "flats").glob("*.fits"))) == 2
    # Live is locked while a session runs, free again afterwards
    assert window.liveButton.isEnabled()


def test_live_is_locked_while_a_session_runs(make_window: Any, qtbot: Any,
                                             tmp_path: Path) -> None:
    sim = write_sim(tmp_path / "slow.toml", "").read_text().replace(
        "time_scale = 0.0", "time_scale = 0.3")
    (tmp_path / "slow.toml").write_text(sim)
    window = make_window(sim_config=tmp_path / "slow.toml", count=20)
    qtbot.mouseClick(window.autoFlatsButton, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(window.is_running, timeout=10_000)
    assert not window.liveButton.isEnabled()
    window.cancel()
    qtbot.waitUntil(lambda: not window.is_running(), timeout=20_000)
    assert window.liveButton.isEnabled()


def test_closing_stops_the_live_view(make_window: Any, qtbot: Any) -> None:
    window = make_window()
    window.runPanel.liveExposureSpin.setValue(0.2)
    window.liveButton.click()
    qtbot.waitUntil(lambda: window.live.frames_drawn >= 1, timeout=20_000)
    window.close()
    qtbot.waitUntil(lambda: not window.live.active() and not window.isVisible(),
                    timeout=15_000)

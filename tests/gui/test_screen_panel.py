"""This computer's screen as the light panel: its window's pixels are the panel's state."""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

import pytest
from PyQt6.QtGui import QColor

from app.events import FinishReason
from app.gui import job_control
from app.gui.job_panel import BRIGHTNESS_AUTO
from app.gui.job_worker import SCREEN_SPEC
from app.gui.screen_window import ScreenWindow, screen_panel_with_window
from drivers.panel import PanelValueError
from drivers.screen_panel import ScreenState, balanced_tint
from tests.gui.conftest import run_to_end, write_sim

pytestmark = pytest.mark.gui


def pixel(window: ScreenWindow) -> tuple[int, int, int]:
    """The colour in the middle of the window, as painted."""
    image = window.grab().toImage()
    colour = QColor(image.pixel(image.width() // 2, image.height() // 2))
    return (colour.red(), colour.green(), colour.blue())


def corners_equal_centre(window: ScreenWindow) -> bool:
    image = window.grab().toImage()
    w, h = image.width() - 1, image.height() - 1
    values = {image.pixel(x, y) for x, y in ((0, 0), (w, 0), (0, h), (w, h), (w // 2, h // 2))}
    return len(values) == 1


def test_the_screen_shows_the_level_and_tint(qtbot: Any) -> None:
    panel, window, _ = screen_panel_with_window()
    qtbot.addWidget(window)
    assert panel.info.brightness_max == 255 and not panel.info.has_cover
    with panel:
        assert window.isVisible() and window.isFullScreen()
        assert pixel(window) == (0, 0, 0)  # light off
        panel.set_brightness(200)
        panel.light_on()
        assert pixel(window) == (200, 200, 200) and corners_equal_centre(window)
        panel.set_tint(1.0, 0.5, 0.25)
        assert pixel(window) == (200, 100, 50) and corners_equal_centre(window)
        panel.set_brightness(40)
        assert pixel(window) == (40, 20, 10)
        with pytest.raises(PanelValueError, match=r"use r, g, b multipliers in 0\.\.1"):
            panel.set_tint(1.5, 1, 1)
        with pytest.raises(PanelValueError, match=r"use 0\.\.255"):
            panel.set_brightness(256)
        panel.light_off()
        assert pixel(window) == (0, 0, 0)
    assert not window.isVisible()


def test_a_worker_thread_drives_the_screen_through_the_gui_thread(qtbot: Any) -> None:
    panel, window, _ = screen_panel_with_window()
    qtbot.addWidget(window)
    painted_on: list[bool] = []

    def job() -> None:
        panel.open()
        panel.set_brightness(128)
        panel.set_tint(0.5, 1.0, 0.75)
        panel.light_on()
        painted_on.append(threading.current_thread() is not threading.main_thread())

    thread = threading.Thread(target=job)
    thread.start()
    thread.join(timeout=30)
    assert painted_on == [True]
    qtbot.waitUntil(lambda: window.state.light_on, timeout=10_000)
    assert window.state == ScreenState(True, True, 128, (0.5, 1.0, 0.75))
    assert pixel(window) == (64, 128, 96)
    panel.close()
    qtbot.waitUntil(lambda: not window.isVisible(), timeout=10_000)


def test_the_job_drives_the_screen_panel_in_brightness_mode(
        make_window: Any, qtbot: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[ScreenState] = []
    original = job_control.screen_panel_with_window

    def recording(screen: Any = None) -> Any:
        panel, window, bridge = original(screen)
        bridge.changed.connect(lambda state: seen.append(state))
        return panel, window, bridge

    monkeypatch.setattr(job_control, "screen_panel_with_window", recording)
    window = make_window(sim_config=write_sim(tmp_path / "s.toml", "seed = 5\n"), count=2)
    job = window.jobPanel
    job.panelCombo.setCurrentIndex(job.panelCombo.findData(SCREEN_SPEC))
    assert not job.screenRow.isHidden() and job.screenCombo.count() >= 1
    job.brightnessCombo.setCurrentIndex(job.brightnessCombo.findData(BRIGHTNESS_AUTO))
    job.tintSpins[2].setValue(0.8)  # a warmer white: blue at 80 %
    run_to_end(qtbot, window, 120_000)
    finished = window.last_finished
    assert finished is not None and finished.reason is FinishReason.COMPLETED, finished
    data = json.loads((tmp_path / "flats" / "session.json").read_text(encoding="utf-8"))
    level = data["brightness"]
    assert 0 < level < 255 and 1.0 <= data["exposure_s"] <= 10.0  # dimmed into the window
    lit = [s for s in seen if s.light_on and s.shown]
    assert lit and lit[-1].level == level and lit[-1].tint == (1.0, 1.0, 0.8)
    assert lit[-1].rgb == (level, level, round(level * 0.8))
    assert not seen[-1].shown  # the panel closed with the rig: the window is gone
    screen_window = window.jobControl.screenWindow
    assert screen_window is not None and not screen_window.isVisible()


def _channel_means(tint: tuple[float, float, float], level: int, response: dict[str, float],
                   bias: float, gamma: float) -> dict[str, float]:
    """A colour sensor under the screen: signal = response × (level × tint)^gamma."""
    return {c: bias + 1e4 * response[c] * (level * t / 255) ** gamma
            for c, t in zip("RGB", tint, strict=True)}


@pytest.mark.parametrize("model_gamma", [2.2, 3.0])
def test_the_balanced_tint_brings_the_channels_together(model_gamma: float) -> None:
    response = {"R": 0.6, "G": 1.0, "B": 0.75}  # an OSC sensor under a white screen
    tint = (1.0, 1.0, 1.0)
    for _ in range(6):
        means = _channel_means(tint, 200, response, 500.0, 2.2)
        tint = balanced_tint(tint, means, 500.0, gamma=model_gamma)
    means = _channel_means(tint, 200, response, 500.0, 2.2)
    signals = [means[c] - 500.0 for c in "RGB"]
    assert max(signals) / min(signals) < 1.01  # within 1 %
    assert max(tint) == 1.0 and tint[1] < tint[2] < tint[0]  # green dimmed most
    with pytest.raises(ValueError, match="colour"):
        balanced_tint(tint, {"L": 1000.0}, 500.0)
    with pytest.raises(ValueError, match="raise the level"):
        balanced_tint(tint, {"R": 400.0, "G": 900.0, "B": 800.0}, 500.0)

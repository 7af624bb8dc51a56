"""The simulated panel: its config table, its light physics, its cover and its faults."""

from __future__ import annotations

from dataclasses import fields
from typing import Any

import pytest

from drivers.clock import SimulatedClock
from drivers.errors import PanelDisconnectedError, PanelTimeoutError
from drivers.panel import CoverState
from drivers.panel_sim import SimPanelConfig, SimPanelConfigError, SimulatedPanel


def _panel(clock: SimulatedClock, **config: Any) -> SimulatedPanel:
    panel = SimulatedPanel(SimPanelConfig(**config), clock)
    panel.open()
    return panel


def test_config_keys_and_defaults_are_pinned() -> None:
    defaults = {f.name: f.default for f in fields(SimPanelConfig)}
    assert defaults == {
        "levels": 255, "flux_e_s_at_max": 40000.0, "gamma": 1.0, "min_level": 1,
        "has_cover": True, "light_leak": 0.0, "cover_move_s": 4.0,
    }


@pytest.mark.parametrize(("key", "value"), [
    ("levels", 0), ("levels", 2.5), ("levels", True), ("flux_e_s_at_max", 0.0),
    ("flux_e_s_at_max", float("nan")), ("gamma", 0.0), ("gamma", 20.0),
    ("min_level", -1), ("min_level", 256), ("has_cover", "yes"), ("light_leak", 1.5),
    ("light_leak", -0.1), ("cover_move_s", -1.0), ("cover_move_s", float("inf")),
])
def test_bad_config_is_a_one_line_error_naming_the_key(key: str, value: object) -> None:
    with pytest.raises(SimPanelConfigError) as info:
        SimPanelConfig(**{key: value})  # type: ignore[arg-type]
    message = str(info.value)
    assert message.startswith(f"[panel] {key} = ") and "; use " in message
    assert "\n" not in message
    assert isinstance(info.value, ValueError)


def test_flux_follows_brightness_with_gamma(clock: SimulatedClock) -> None:
    panel = _panel(clock, has_cover=False, gamma=2.2, flux_e_s_at_max=10000.0)
    panel.light_on()
    for level in (1, 64, 128, 255):
        panel.set_brightness(level)
        assert panel.flux_e_s() == pytest.approx(10000.0 * (level / 255) ** 2.2)
    panel.set_brightness(0)
    assert panel.flux_e_s() == 0.0


def test_levels_set_the_brightness_range(clock: SimulatedClock) -> None:
    panel = _panel(clock, has_cover=False, levels=100)
    assert (panel.info.brightness_min, panel.info.brightness_max) == (0, 100)
    panel.light_on()
    panel.set_brightness(50)
    assert panel.flux_e_s() == pytest.approx(20000.0)


def test_below_min_level_the_panel_stays_dark(clock: SimulatedClock) -> None:
    panel = _panel(clock, has_cover=False, min_level=10)
    panel.light_on()
    panel.set_brightness(9)
    assert panel.flux_e_s() == 0.0
    panel.set_brightness(10)
    assert panel.flux_e_s() == pytest.approx(40000.0 * 10 / 255)


def test_light_off_is_dark_unless_it_leaks(clock: SimulatedClock) -> None:
    panel = _panel(clock, has_cover=False)
    panel.set_brightness(255)
    assert panel.flux_e_s() == 0.0  # light off
    leaky = _panel(clock, has_cover=False, light_leak=0.01)
    leaky.set_brightness(255)
    assert leaky.flux_e_s() == pytest.approx(400.0)
    leaky.light_on()
    assert leaky.flux_e_s() == pytest.approx(40000.0)


def test_flip_flat_lights_the_scope_only_when_closed(clock: SimulatedClock) -> None:
    panel = _panel(clock, light_leak=0.5)
    panel.set_brightness(255)
    panel.light_on()
    assert panel.cover_state() is CoverState.CLOSED
    assert panel.flux_e_s() == pytest.approx(40000.0)
    panel.start_cover_move(CoverState.OPEN)
    assert panel.cover_state() is CoverState.MOVING and panel.flux_e_s() == 0.0
    clock.sleep(4.0)
    assert panel.cover_state() is CoverState.OPEN and panel.flux_e_s() == 0.0
    panel.light_off()
    assert panel.flux_e_s() == 0.0  # open: not even the leak reaches the scope
    panel.close_cover()
    assert panel.flux_e_s() == pytest.approx(20000.0)  # closed, off: the leak


def test_cover_moves_in_cover_move_s_of_clock_time(clock: SimulatedClock) -> None:
    panel = _panel(clock, cover_move_s=7.0)
    start = clock.monotonic()
    panel.open_cover()
    assert 7.0 <= clock.monotonic() - start < 7.0 + 1.0
    start = clock.monotonic()
    panel.open_cover()  # already open: returns at once
    assert clock.monotonic() == start
    assert panel.info.has_cover and panel.info.lights_only_when_closed


def test_flat_man_has_no_cover(clock: SimulatedClock) -> None:
    panel = _panel(clock, has_cover=False)
    assert panel.cover_state() is CoverState.NONE
    assert not panel.info.has_cover and not panel.info.lights_only_when_closed


def test_stuck_cover_times_out(clock: SimulatedClock) -> None:
    panel = _panel(clock)
    panel.faults.cover_stuck = True
    with pytest.raises(PanelTimeoutError, match="did not open within 5 s"):
        panel.open_cover(timeout_s=5.0)
    assert panel.cover_state() is CoverState.MOVING


def test_failing_cover_motor_reports_timed_out(clock: SimulatedClock) -> None:
    panel = _panel(clock)
    panel.faults.cover_motor_fails = True
    with pytest.raises(PanelTimeoutError, match="motor timed out"):
        panel.open_cover()
    assert panel.cover_state() is CoverState.TIMED_OUT


def test_unplugged_panel_raises_disconnected(clock: SimulatedClock) -> None:
    panel = _panel(clock)
    panel.faults.disconnected = True
    for call in (panel.light_on, panel.cover_state, lambda: panel.set_brightness(3)):
        with pytest.raises(PanelDisconnectedError, match="unplugged"):
            call()
    panel.close()
    with pytest.raises(PanelDisconnectedError):
        panel.open()

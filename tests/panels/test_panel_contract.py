"""Contract every LightPanel passes: the simulator and each serial driver over its pty sim.

A new driver joins by adding a builder to ``BUILDERS``.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

import pytest

from drivers.clock import SimulatedClock
from drivers.errors import PanelError
from drivers.panel import CoverState, LightPanel, PanelValueError
from drivers.panel_sim import SimPanelConfig, SimulatedPanel

Builder = Callable[[SimulatedClock, Callable[[Any], Any], Any], LightPanel]


def _sim(has_cover: bool) -> Builder:
    def build(clock: SimulatedClock, cleanup: Callable[[Any], Any], request: Any) -> LightPanel:
        panel = SimulatedPanel(SimPanelConfig(has_cover=has_cover), clock)
        cleanup(panel)
        return panel
    return build


def _pty(fixture: str, **server: Any) -> Builder:
    def build(clock: SimulatedClock, cleanup: Callable[[Any], Any], request: Any) -> LightPanel:
        if sys.platform == "win32":
            pytest.skip("pseudo-terminals are POSIX only")
        _, panel = request.getfixturevalue(fixture)(**server)
        return panel  # type: ignore[no-any-return]
    return build


BUILDERS: dict[str, Builder] = {
    "sim-flip-flat": _sim(True),
    "sim-flat-man": _sim(False),
    "alnitak-flip-flat": _pty("alnitak", product_id=99),
    "alnitak-flat-man": _pty("alnitak", product_id=19, filler="0"),
    "snapcap": _pty("alnitak", snapcap=True),
    "pegasus": _pty("pegasus"),
}


@pytest.fixture(params=sorted(BUILDERS))
def panel(request: pytest.FixtureRequest, clock: SimulatedClock,
          cleanup: Callable[[Any], Any]) -> LightPanel:
    """An unopened panel of each implementation, on an instant clock."""
    return BUILDERS[request.param](clock, cleanup, request)


def test_open_close_idempotent_and_context_manager(panel: LightPanel) -> None:
    assert not panel.is_open
    with panel as entered:
        assert entered is panel and panel.is_open
        panel.open()
        assert panel.is_open
    assert not panel.is_open
    panel.close()
    with panel:  # reopens
        assert panel.is_open


def test_calls_need_an_open_panel(panel: LightPanel) -> None:
    for call in (panel.light_on, panel.cover_state, panel.open_cover,
                 lambda: panel.set_brightness(1)):
        with pytest.raises(PanelError, match="not open"):
            call()


def test_info_is_consistent(panel: LightPanel) -> None:
    with panel:
        info = panel.info
        assert info.name and info.model and info.driver
        assert 0 <= info.brightness_min < info.brightness_max
        assert info.has_light or info.has_cover
        if info.lights_only_when_closed:
            assert info.has_cover and info.has_light


def test_brightness_round_trip_and_validation(panel: LightPanel) -> None:
    with panel:
        info = panel.info
        mid = (info.brightness_min + info.brightness_max) // 2
        for level in (info.brightness_max, info.brightness_min, mid):
            assert panel.set_brightness(level) == level
            assert panel.brightness == level
        for bad in (info.brightness_max + 1, info.brightness_min - 1):
            with pytest.raises(PanelValueError, match="out of range"):
                panel.set_brightness(bad)
        for bad_type in (1.5, True, "10"):
            with pytest.raises(PanelValueError, match="whole number"):
                panel.set_brightness(bad_type)  # type: ignore[arg-type]
        assert panel.brightness == mid


def test_light_on_off(panel: LightPanel) -> None:
    with panel:
        panel.light_on()
        assert panel.light_is_on
        panel.light_on()
        assert panel.light_is_on
        panel.light_off()
        assert not panel.light_is_on


def test_cover_or_its_absence(panel: LightPanel) -> None:
    with panel:
        if not panel.info.has_cover:
            assert panel.cover_state() is CoverState.NONE
            with pytest.raises(PanelError, match="has no cover"):
                panel.open_cover()
            return
        panel.close_cover()
        assert panel.cover_state() is CoverState.CLOSED
        panel.open_cover()
        assert panel.cover_state() is CoverState.OPEN
        panel.open_cover()  # idempotent
        assert panel.cover_state() is CoverState.OPEN
        panel.close_cover(timeout_s=10.0)
        assert panel.cover_state() is CoverState.CLOSED


def test_cover_timeout_must_be_positive(panel: LightPanel) -> None:
    with panel:
        for bad in (0.0, -1.0, float("nan")):
            with pytest.raises(PanelValueError, match="positive time"):
                panel.open_cover(timeout_s=bad)

"""An in-process simulated light panel: a Flip-Flat (with cover) or a Flat-Man (without).

It knows the light that reaches the telescope (:meth:`SimulatedPanel.flux_e_s`) so a
simulated camera can expose against it. The cover moves in ``cover_move_s`` of the
injected clock's time. Faults for tests: a cover that never arrives, a cover whose
motor times out, and an unplugged panel.
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass

from drivers.clock import Clock
from drivers.errors import PanelDisconnectedError, PanelError
from drivers.panel import CoverState, LightPanel, PanelInfo


class SimPanelConfigError(PanelError, ValueError):
    """A simulated-panel setting is invalid; the message names the key and what is allowed."""


@dataclass(frozen=True, slots=True)
class SimPanelConfig:
    """What the simulated panel is; the keys of the pinned TOML table ``[panel]``."""

    levels: int = 255  #: brightness runs 0..levels
    flux_e_s_at_max: float = 40000.0  #: e-/s/pixel at full brightness, before any filter
    gamma: float = 1.0  #: flux ∝ (brightness / levels) ** gamma
    min_level: int = 1  #: the dimmest level that lights at all
    has_cover: bool = True  #: a Flip-Flat: it lights the telescope only when closed
    light_leak: float = 0.0  #: share of the on-light that reaches the sensor with the light off
    cover_move_s: float = 4.0  #: time the cover takes to open or close

    def __post_init__(self) -> None:
        """Check every setting; the error names the key and what is allowed."""
        _require("levels", self.levels, _is_int(self.levels) and 1 <= self.levels <= 65535,
                 "use a whole number 1..65535")
        _require("flux_e_s_at_max", self.flux_e_s_at_max,
                 _is_real(self.flux_e_s_at_max) and 0 < self.flux_e_s_at_max < 1e9,
                 "use a positive number of e-/s/pixel below 1e9")
        _require("gamma", self.gamma, _is_real(self.gamma) and 0.1 <= self.gamma <= 10,
                 "use a number 0.1..10 (1 = linear)")
        _require("min_level", self.min_level,
                 _is_int(self.min_level) and 0 <= self.min_level <= self.levels,
                 f"use a whole number 0..levels ({self.levels})")
        _require("has_cover", self.has_cover, isinstance(self.has_cover, bool),
                 "use true (Flip-Flat) or false (Flat-Man)")
        _require("light_leak", self.light_leak,
                 _is_real(self.light_leak) and 0 <= self.light_leak <= 1,
                 "use a share 0..1 (0 = a dark panel when off)")
        _require("cover_move_s", self.cover_move_s,
                 _is_real(self.cover_move_s) and 0 <= self.cover_move_s <= 600,
                 "use 0..600 seconds")


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_real(value: object) -> bool:
    return (isinstance(value, int | float) and not isinstance(value, bool)
            and math.isfinite(value))


def _require(name: str, value: object, ok: bool, allowed: str) -> None:
    if not ok:
        raise SimPanelConfigError(f"[panel] {name} = {value!r} is not allowed; {allowed}")


@dataclass
class SimPanelFaults:
    """Faults a test switches on at any time."""

    cover_stuck: bool = False  #: the cover moves forever and never reaches its end state
    cover_motor_fails: bool = False  #: the cover stops after cover_move_s: TIMED_OUT
    disconnected: bool = False  #: every call raises PanelDisconnectedError


class SimulatedPanel(LightPanel):
    """A simulated Flip-Flat (``has_cover``) or Flat-Man, on an injectable clock."""

    def __init__(
        self,
        config: SimPanelConfig | None = None,
        clock: Clock | None = None,
        *,
        name: str | None = None,
    ) -> None:
        super().__init__(clock)
        self.config = config if config is not None else SimPanelConfig()
        self.faults = SimPanelFaults()
        model = "Simulated Flip-Flat" if self.config.has_cover else "Simulated Flat-Man"
        self._info = PanelInfo(
            name=name or model,
            model=model,
            driver="sim",
            brightness_min=0,
            brightness_max=self.config.levels,
            has_cover=self.config.has_cover,
            has_light=True,
            lights_only_when_closed=self.config.has_cover,
        )
        self._state_lock = threading.Lock()
        self._cover = CoverState.CLOSED if self.config.has_cover else CoverState.NONE
        self._cover_target = self._cover
        self._cover_started_s = 0.0

    @property
    def info(self) -> PanelInfo:
        """Fixed properties of the simulated panel."""
        return self._info

    # -- physics -----------------------------------------------------------------
    def flux_e_s(self) -> float:
        """The e-/s/pixel of panel light that reaches the telescope right now.

        A Flip-Flat lights the telescope only with its cover CLOSED (open, the
        telescope sees the sky, not the panel). With the light off only
        ``light_leak`` of the on-flux gets through.
        """
        if self.config.has_cover and self._current_cover() is not CoverState.CLOSED:
            return 0.0
        on_flux = self.flux_e_s_at_level(self._brightness)
        return on_flux if self._light_on else self.config.light_leak * on_flux

    def flux_e_s_at_level(self, level: int) -> float:
        """e-/s/pixel the light gives at ``level`` when on (0 below ``min_level``)."""
        cfg = self.config
        if level <= 0 or level < cfg.min_level:
            return 0.0
        share = min(level, cfg.levels) / cfg.levels
        return float(cfg.flux_e_s_at_max * share**cfg.gamma)

    # -- cover model (public so a protocol simulator can drive it without waiting) ----
    def start_cover_move(self, target: CoverState) -> None:
        """Start moving the cover to OPEN or CLOSED; returns at once."""
        if target not in (CoverState.OPEN, CoverState.CLOSED):
            raise ValueError(f"a cover moves to OPEN or CLOSED, not {target}")
        self._check_connected()
        if not self.config.has_cover:
            return
        with self._state_lock:
            if self._settled(self._cover) is target and self._cover_target is target:
                return
            self._cover = CoverState.MOVING
            self._cover_target = target
            self._cover_started_s = self.clock.monotonic()

    def _current_cover(self) -> CoverState:
        with self._state_lock:
            return self._settled(self._cover)

    def _settled(self, state: CoverState) -> CoverState:
        """``state`` advanced to now: a move ends after cover_move_s (unless faulted)."""
        if state is not CoverState.MOVING or self.faults.cover_stuck:
            return state
        if self.clock.monotonic() - self._cover_started_s < self.config.cover_move_s:
            return state
        self._cover = (CoverState.TIMED_OUT if self.faults.cover_motor_fails
                       else self._cover_target)
        return self._cover

    # -- hooks -------------------------------------------------------------------
    def _check_connected(self) -> None:
        if self.faults.disconnected:
            raise PanelDisconnectedError(
                f"{self._info.name} is unplugged; plug it back in and reconnect"
            )

    def _do_open(self) -> None:
        self._check_connected()

    def _do_close(self) -> None:
        pass

    def _do_set_brightness(self, level: int) -> int:
        self._check_connected()
        return level

    def _do_switch_light(self, on: bool) -> None:
        self._check_connected()

    def _do_cover_state(self) -> CoverState:
        self._check_connected()
        return self._current_cover()

    def _do_move_cover(self, target: CoverState) -> None:
        self.start_cover_move(target)


__all__ = ["SimPanelConfig", "SimPanelConfigError", "SimPanelFaults", "SimulatedPanel"]

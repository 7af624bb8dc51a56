"""This computer's screen as a light panel: a full-screen window showing one grey (or
tinted) level, 0-255, driven by the job like any panel.

The driver is Qt-free: every change is handed as a :class:`ScreenState` to a
``publish`` callback (the GUI turns it into a Qt signal and paints the window on its
own thread). Tint: r, g, b multipliers (0-1) of the white level, so a colour sensor's
red, green and blue can be brought together (OSC sensors under white light see green
first); the job's brightness sets the level, the tint the colour balance.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from drivers.clock import Clock
from drivers.panel import LightPanel, PanelInfo, PanelValueError

#: the screen's levels (8-bit colour)
#: the panel spec that names the screen (only the desktop app can show it)
SCREEN_SPEC = "screen"
SCREEN_LEVEL_MAX = 255


@dataclass(frozen=True, slots=True)
class ScreenState:
    """What the screen shows: ``shown`` = the window is up; ``rgb`` the colour painted."""

    shown: bool
    light_on: bool
    level: int
    tint: tuple[float, float, float]

    @property
    def rgb(self) -> tuple[int, int, int]:
        """The colour painted (0-255 each): black while the light is off or hidden."""
        if not (self.shown and self.light_on):
            return (0, 0, 0)
        r, g, b = (min(SCREEN_LEVEL_MAX, round(self.level * t)) for t in self.tint)
        return (r, g, b)


def check_tint(r: float, g: float, b: float) -> tuple[float, float, float]:
    """A tint as three multipliers in 0..1, at least one above 0."""
    tint = (float(r), float(g), float(b))
    if not all(math.isfinite(t) and 0.0 <= t <= 1.0 for t in tint) or max(tint) <= 0:
        raise PanelValueError(f"tint {tint} is not allowed; use r, g, b multipliers in 0..1, "
                              "at least one above 0 (1, 1, 1 = white)")
    return tint


#: the weakest multiplier a balanced tint may use (one 8-bit step of full white)
TINT_MIN = 1 / SCREEN_LEVEL_MAX


def balanced_tint(tint: tuple[float, float, float], channel_means_native: Mapping[str, float],
                  bias_native: float, gamma: float = 2.2) -> tuple[float, float, float]:
    """The tint that brings the R, G and B signals of a colour frame together.

    A screen's light per channel goes as (level × multiplier)^gamma, so a channel
    whose signal above the bias is s_c needs its multiplier scaled by
    (s_ref / s_c)^(1/gamma); the result is normalised so the strongest multiplier is 1
    (the level then sets the brightness). An exact gamma balances in one step; one
    too high converges over a few (repeat until the channels agree); one below half the
    true gamma overshoots and diverges, so err high (screens: 2.2 or more).
    """
    signals = []
    for channel in "RGB":
        if channel not in channel_means_native:
            raise ValueError(f"no {channel} mean: the tint is for colour (Bayer) frames")
        signals.append(channel_means_native[channel] - bias_native)
    if min(signals) <= 0 or not 0.1 <= gamma <= 10:
        raise ValueError("a channel has no signal above the bias (or gamma is not 0.1..10); "
                         "raise the level before balancing the tint")
    weakest = min(signals)
    raw = [t * (weakest / s) ** (1 / gamma) for t, s in zip(tint, signals, strict=True)]
    top = max(raw)
    r, g, b = (max(TINT_MIN, x / top) for x in raw)
    return (r, g, b)


@dataclass(frozen=True, slots=True)
class ScreenPanelInfo(PanelInfo):
    """A panel's facts, plus: its light can be tinted (:meth:`ScreenPanel.set_tint`)."""

    has_tint: bool = True


class ScreenPanel(LightPanel):
    """A screen as a dimmable panel without cover; see the module docstring."""

    def __init__(self, publish: Callable[[ScreenState], None], *, screen_name: str = "screen",
                 clock: Clock | None = None) -> None:
        super().__init__(clock)
        self._publish = publish
        self._tint = (1.0, 1.0, 1.0)
        self._shown = False
        self._tint_lock = threading.Lock()
        self._info = ScreenPanelInfo(
            name=f"screen {screen_name}", model="computer screen", driver="screen",
            brightness_min=0, brightness_max=SCREEN_LEVEL_MAX, has_cover=False,
            has_light=True, lights_only_when_closed=False)

    @property
    def info(self) -> ScreenPanelInfo:
        """A screen: 0-255, no cover, a light that can be tinted."""
        return self._info

    @property
    def tint(self) -> tuple[float, float, float]:
        """The r, g, b multipliers of the white level."""
        return self._tint

    def state(self) -> ScreenState:
        """What the screen shows now."""
        return ScreenState(self._shown, self.light_is_on, self.brightness, self._tint)

    def set_tint(self, r: float, g: float, b: float) -> tuple[float, float, float]:
        """Set the colour balance (multipliers 0..1 of the level); returns it."""
        tint = check_tint(r, g, b)
        with self._tint_lock:
            self._tint = tint
        self._send()
        return tint

    def _send(self) -> None:
        self._publish(self.state())

    # -- driver hooks ------------------------------------------------------------
    def _do_open(self) -> None:
        self._shown = True
        self._send()

    def _do_close(self) -> None:
        self._shown = False
        self._send()

    def _do_initial_light_state(self) -> tuple[int, bool]:
        return (SCREEN_LEVEL_MAX, False)

    def _do_set_brightness(self, level: int) -> int:
        self._brightness = level
        self._send()
        return level

    def _do_switch_light(self, on: bool) -> None:
        self._light_on = on
        self._send()


__all__ = ["SCREEN_LEVEL_MAX", "ScreenPanel", "ScreenPanelInfo", "ScreenState", "balanced_tint",
           "check_tint"]

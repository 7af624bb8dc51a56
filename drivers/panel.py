"""The light-panel interface every panel driver implements (flat panels and flip covers).

The public methods validate, take the device's lock and call the driver's ``_do_...``
hooks (python-microscope's template-method pattern). Waiting for a cover to reach its
end state lives here once, polling on the injected clock, so every driver times out
the same way with the same message.
"""

from __future__ import annotations

import logging
import math
import threading
from abc import abstractmethod
from dataclasses import dataclass
from enum import Enum

from drivers.clock import Clock, SystemClock
from drivers.device import Device
from drivers.errors import PanelError, PanelTimeoutError

log = logging.getLogger(__name__)


class PanelValueError(PanelError, ValueError):
    """A panel setting is outside what the panel accepts (e.g. brightness out of range)."""


class CoverState(Enum):
    """Where a panel's cover is."""

    NONE = "none"  #: the panel has no cover
    OPEN = "open"
    CLOSED = "closed"
    MOVING = "moving"
    TIMED_OUT = "timed out"  #: the panel's own motor timeout fired
    UNKNOWN = "unknown"  #: neither open nor closed, and not moving


@dataclass(frozen=True, slots=True)
class PanelInfo:
    """What a panel is: fixed properties, known once the panel is open."""

    name: str
    model: str
    driver: str
    brightness_min: int
    brightness_max: int
    has_cover: bool
    has_light: bool
    #: a Flip-Flat lights the telescope only with its cover closed over it
    lights_only_when_closed: bool

    def __post_init__(self) -> None:
        """Refuse a brightness range that is empty."""
        if self.brightness_min > self.brightness_max:
            raise ValueError(
                f"brightness range {self.brightness_min}..{self.brightness_max} is empty"
            )


class LightPanel(Device):
    """One light panel (and/or cover); public calls are serialised by one lock.

    Use as a context manager: ``with open_panel(...) as panel: ...``.
    """

    #: how often the cover state is polled while it moves, in the panel clock's seconds
    poll_interval_s: float = 0.25

    def __init__(self, clock: Clock | None = None) -> None:
        self.clock: Clock = clock if clock is not None else SystemClock()
        self._lock = threading.RLock()
        self._open = False
        self._brightness = 0
        self._light_on = False

    # -- lifecycle ---------------------------------------------------------------
    def open(self) -> None:
        """Connect to the panel (idempotent); reads its light state when it has a light."""
        with self._lock:
            if self._open:
                return
            self._do_open()
            self._open = True
            if self.info.has_light:
                try:
                    self._brightness, self._light_on = self._do_initial_light_state()
                except BaseException:
                    self.close()
                    raise

    def close(self) -> None:
        """Release the panel (idempotent). The light and cover stay as they are."""
        with self._lock:
            if self._open:
                self._open = False
                self._do_close()

    @property
    def is_open(self) -> bool:
        """Whether :meth:`open` has connected the panel."""
        return self._open

    @property
    @abstractmethod
    def info(self) -> PanelInfo:
        """Fixed properties of this panel (complete once it is open)."""

    # -- light -------------------------------------------------------------------
    @property
    def brightness(self) -> int:
        """The brightness last applied (0 for a panel without light)."""
        return self._brightness

    @property
    def light_is_on(self) -> bool:
        """Whether the light was last switched on (False for a panel without light)."""
        return self._light_on

    def set_brightness(self, level: int) -> int:
        """Set the brightness within ``info``'s [min, max]; returns the level applied."""
        if isinstance(level, bool) or not isinstance(level, int):
            raise PanelValueError(f"brightness must be a whole number, got {level!r}")
        with self._lock:
            self._require_light()
            info = self.info
            if not info.brightness_min <= level <= info.brightness_max:
                raise PanelValueError(
                    f"brightness {level} is out of range for {info.name}; use "
                    f"{info.brightness_min}..{info.brightness_max}"
                )
            self._brightness = self._do_set_brightness(level)
            return self._brightness

    def light_on(self) -> None:
        """Switch the light on at :attr:`brightness`."""
        self._switch_light(True)

    def light_off(self) -> None:
        """Switch the light off."""
        self._switch_light(False)

    def _switch_light(self, on: bool) -> None:
        with self._lock:
            self._require_light()
            self._do_switch_light(on)
            self._light_on = on

    # -- cover -------------------------------------------------------------------
    def cover_state(self) -> CoverState:
        """Where the cover is now; ``CoverState.NONE`` for a panel without cover."""
        with self._lock:
            self._require_open()
            if not self.info.has_cover:
                return CoverState.NONE
            return self._do_cover_state()

    def open_cover(self, timeout_s: float = 30.0) -> None:
        """Open the cover and wait until it reports open (idempotent)."""
        self._move_cover(CoverState.OPEN, timeout_s)

    def close_cover(self, timeout_s: float = 30.0) -> None:
        """Close the cover and wait until it reports closed (idempotent)."""
        self._move_cover(CoverState.CLOSED, timeout_s)

    def _move_cover(self, target: CoverState, timeout_s: float) -> None:
        if not (math.isfinite(timeout_s) and timeout_s > 0):
            raise PanelValueError(f"cover timeout must be a positive time, got {timeout_s}")
        verb = "open" if target is CoverState.OPEN else "close"
        with self._lock:
            self._require_open()
            if not self.info.has_cover:
                raise PanelError(
                    f"{self.info.name} has no cover to {verb}; leave the cover steps out "
                    "for this panel"
                )
            self._do_move_cover(target)
        deadline = self.clock.monotonic() + timeout_s
        seen_moving = False
        while True:
            now = self.clock.monotonic()  # before the state: a stall is no timeout
            state = self.cover_state()
            if state is target:
                return
            seen_moving = seen_moving or state is CoverState.MOVING
            if state is CoverState.TIMED_OUT and seen_moving:
                raise PanelTimeoutError(
                    f"the cover of {self.info.name} stopped before it could {verb} (its "
                    "motor timed out); check that nothing blocks the cover and try again"
                )
            if now >= deadline:
                raise PanelTimeoutError(
                    f"the cover of {self.info.name} did not {verb} within {timeout_s:g} s "
                    f"(it reports {state.value}); check that nothing blocks the cover and "
                    "that the panel has power"
                )
            self.clock.sleep(min(self.poll_interval_s, deadline - now))

    # -- checks ------------------------------------------------------------------
    def _require_open(self) -> None:
        if not self._open:
            raise PanelError(f"{self.info.name} is not open; open the panel first")

    def _require_light(self) -> None:
        self._require_open()
        if not self.info.has_light:
            raise PanelError(
                f"{self.info.name} has no light (a dust cover only); use a light panel "
                "for flats"
            )

    # -- driver hooks ------------------------------------------------------------
    @abstractmethod
    def _do_open(self) -> None:
        """Connect; afterwards :attr:`info` is complete."""

    @abstractmethod
    def _do_close(self) -> None:
        """Disconnect; never raises."""

    def _do_initial_light_state(self) -> tuple[int, bool]:
        """(brightness, light on) as the panel reports them right after opening."""
        return (self.info.brightness_min, False)

    @abstractmethod
    def _do_set_brightness(self, level: int) -> int:
        """Apply a validated brightness; return the level the panel reports."""

    @abstractmethod
    def _do_switch_light(self, on: bool) -> None:
        """Switch the light on or off."""

    def _do_cover_state(self) -> CoverState:
        """Where the cover is (only called for panels with a cover)."""
        return CoverState.NONE

    def _do_move_cover(self, target: CoverState) -> None:
        """Start moving the cover to ``target`` (OPEN or CLOSED); do not wait."""
        raise PanelError(f"{self.info.name} has no cover")


__all__ = ["CoverState", "LightPanel", "PanelInfo", "PanelValueError"]

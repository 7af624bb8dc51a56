"""A simulated filter wheel on an injectable clock, with each filter's throughput.

Every move takes ``move_s`` seconds of the wheel's clock, whatever the distance (a
move to the slot it is already at takes none). While moving the position is None
and the light path is blocked: :meth:`SimulatedWheel.throughput` is 0.

Fault knobs for tests: ``fault_never_arrive`` (a started move never ends) and
``fault_disconnected`` (every call raises :class:`FilterWheelDisconnectedError`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from drivers.clock import Clock
from drivers.errors import FilterWheelDisconnectedError
from drivers.wheel import DEFAULT_POLL_S, FilterWheel, FilterWheelInfo, FilterWheelValueError


class SimWheelConfigError(FilterWheelValueError):
    """A ``[wheel]`` setting is invalid; the message names the key."""


@dataclass(frozen=True, slots=True)
class SimWheelConfig:
    """The simulated wheel (the pinned ``[wheel]`` TOML table).

    ``throughput`` is the fraction of the panel's light each filter passes, in
    (0, 1], one per filter; ``move_s`` the time of one move, any distance.
    """

    filters: tuple[str, ...] = ("L", "R", "G", "B", "Ha", "OIII", "SII")
    throughput: tuple[float, ...] = (1.0, 0.33, 0.36, 0.30, 0.012, 0.015, 0.010)
    move_s: float = 1.5

    def __post_init__(self) -> None:
        """Check every key; lists from a TOML parser become tuples."""
        filters = _as_tuple(self.filters, "filters")
        throughput = _as_tuple(self.throughput, "throughput")
        object.__setattr__(self, "filters", filters)
        object.__setattr__(self, "throughput", throughput)
        if not filters:
            raise SimWheelConfigError("[wheel] filters must name at least one filter")
        seen: set[str] = set()
        for name in filters:
            if not isinstance(name, str) or not name.strip():
                raise SimWheelConfigError(
                    f"[wheel] filters must be non-empty strings, got {name!r}")
            if name.strip().casefold() in seen:
                raise SimWheelConfigError(
                    f"[wheel] filters must be unique (case does not count): {name!r} repeats")
            seen.add(name.strip().casefold())
        if len(throughput) != len(filters):
            raise SimWheelConfigError(
                f"[wheel] throughput needs one value per filter: {len(filters)} filters, "
                f"{len(throughput)} values")
        for name, value in zip(filters, throughput, strict=True):
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not (
                    math.isfinite(value) and 0 < value <= 1):
                raise SimWheelConfigError(
                    f"[wheel] throughput of {name} must be in (0, 1], got {value!r}")
        move_s = self.move_s
        if isinstance(move_s, bool) or not isinstance(move_s, (int, float)) or not (
                math.isfinite(move_s) and move_s >= 0):
            raise SimWheelConfigError(f"[wheel] move_s must be >= 0 seconds, got {move_s!r}")


def _as_tuple(value: Any, key: str) -> tuple[Any, ...]:
    if isinstance(value, (str, bytes)) or not isinstance(value, (tuple, list)):
        raise SimWheelConfigError(f"[wheel] {key} must be a list, got {value!r}")
    return tuple(value)


class SimulatedWheel(FilterWheel):
    """A filter wheel that exists only in memory, on ``clock``."""

    def __init__(
        self,
        config: SimWheelConfig | None = None,
        *,
        clock: Clock | None = None,
        name: str = "Simulated wheel",
        poll_s: float = DEFAULT_POLL_S,
    ) -> None:
        """Closed, at slot 0."""
        super().__init__(clock=clock, poll_s=poll_s)
        self.config = config if config is not None else SimWheelConfig()
        self._name = name
        self._slot = 0
        self._arrive_s: float | None = None
        #: a started move never ends (the position stays None)
        self.fault_never_arrive = False
        #: every call raises FilterWheelDisconnectedError
        self.fault_disconnected = False

    def _check_connected(self) -> None:
        if self.fault_disconnected:
            raise FilterWheelDisconnectedError(
                f"the filter wheel {self._name} went away; check its cable and power")

    def _do_open(self) -> FilterWheelInfo:
        self._check_connected()
        return FilterWheelInfo(self._name, "simulated", "sim", len(self.config.filters))

    def _do_close(self) -> None:
        """Nothing to release."""

    def _do_get_position(self) -> int | None:
        self._check_connected()
        if self._arrive_s is None:
            return self._slot
        if self.fault_never_arrive or self._clock.monotonic() < self._arrive_s:
            return None
        self._arrive_s = None
        return self._slot

    def _do_start_move(self, slot: int) -> None:
        self._check_connected()
        if self._do_get_position() == slot:
            return
        self._slot = slot
        self._arrive_s = self._clock.monotonic() + self.config.move_s

    def _default_filter_names(self, slot_count: int) -> tuple[str, ...]:
        return tuple(n.strip() for n in self.config.filters)

    def throughput(self) -> float:
        """The current filter's throughput; 0.0 while moving (the light path is blocked)."""
        with self._lock:
            slot = self.position()
        return 0.0 if slot is None else float(self.config.throughput[slot])

"""Clocks a driver runs on: the wall clock, or simulated time for tests.

Drivers take the clock as a parameter so that a 60 s simulated exposure can run in
no wall time at all (ophyd-async's ``PatternGenerator(sleep=...)`` idea).
"""

from __future__ import annotations

import threading
import time
from typing import Protocol


class Clock(Protocol):
    """Monotonic time and a sleep that can be interrupted."""

    def monotonic(self) -> float:
        """Seconds on a monotonic scale."""

    def sleep(self, seconds: float) -> None:
        """Let ``seconds`` of this clock's time pass."""


class SystemClock:
    """Real time."""

    def monotonic(self) -> float:
        """Wall-clock monotonic seconds."""
        return time.monotonic()

    def sleep(self, seconds: float) -> None:
        """Sleep for real."""
        if seconds > 0:
            time.sleep(seconds)


class SimulatedClock:
    """Simulated time that runs ``1 / time_scale`` times as fast as the wall clock.

    ``time_scale`` = 1 is real time, 0.1 ten times faster. With a positive scale the
    clock follows the wall clock, so time passes while the host computes, as it does
    for a real camera exposing while the program handles the last frame (a clock
    that advanced only in :meth:`sleep` would stop the exposure whenever the program
    works, and hide how much of the program's work overlaps the exposure).
    ``time_scale`` = 0 makes simulated time pass instantly and only through
    :meth:`sleep`, so it is deterministic (tests).
    """

    def __init__(self, time_scale: float = 1.0, start_s: float = 0.0) -> None:
        if not time_scale >= 0:
            raise ValueError(f"time_scale must be >= 0, got {time_scale}")
        self.time_scale = time_scale
        self._now_s = start_s
        self._wall0 = time.monotonic()
        self._lock = threading.Lock()

    def monotonic(self) -> float:
        """Simulated seconds since the start."""
        if self.time_scale > 0:
            return self._now_s + (time.monotonic() - self._wall0) / self.time_scale
        with self._lock:
            return self._now_s

    def sleep(self, seconds: float) -> None:
        """Let ``seconds`` of simulated time pass (``seconds * time_scale`` of wall time)."""
        if seconds <= 0:
            return
        if self.time_scale > 0:
            time.sleep(seconds * self.time_scale)
            return
        with self._lock:
            self._now_s += seconds

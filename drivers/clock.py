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
    """Simulated time that runs ``time_scale`` times as fast as the wall clock wants.

    ``time_scale`` = 1 sleeps for real; 0 makes simulated time pass instantly.
    Simulated time only advances through :meth:`sleep`, so it is deterministic.
    """

    def __init__(self, time_scale: float = 1.0, start_s: float = 0.0) -> None:
        if not time_scale >= 0:
            raise ValueError(f"time_scale must be >= 0, got {time_scale}")
        self.time_scale = time_scale
        self._now_s = start_s
        self._lock = threading.Lock()

    def monotonic(self) -> float:
        """Simulated seconds since the start."""
        with self._lock:
            return self._now_s

    def sleep(self, seconds: float) -> None:
        """Advance simulated time, sleeping ``seconds * time_scale`` of wall time."""
        if seconds <= 0:
            return
        if self.time_scale > 0:
            time.sleep(seconds * self.time_scale)
        with self._lock:
            self._now_s += seconds

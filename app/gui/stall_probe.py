"""Event-loop latency probe: how long the GUI thread stalls while a session runs.

A QTimer asks to fire every ``interval_ms``; each late arrival beyond the interval is
a stall. ``python -m bench.gui_stall`` (``make gui-stall``: 26 MP) runs an Auto flats
session in the window with it and prints the worst stall.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from PyQt6.QtCore import QElapsedTimer, QEventLoop, QObject, Qt, QTimer


@dataclass
class StallReport:
    """Latencies measured by :class:`LatencyProbe`, in milliseconds."""

    interval_ms: int
    samples: int = 0
    worst_ms: float = 0.0
    stalls: list[float] = field(default_factory=list)

    def percentile(self, p: float) -> float:
        """A percentile of the lateness (0 when nothing was measured)."""
        if not self.stalls:
            return 0.0
        ordered = sorted(self.stalls)
        return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))]

    def __str__(self) -> str:
        """One line: worst, p99, samples."""
        return (f"worst GUI stall {self.worst_ms:.1f} ms, p99 {self.percentile(99):.1f} ms, "
                f"median {self.percentile(50):.1f} ms over {self.samples} ticks of "
                f"{self.interval_ms} ms")


class LatencyProbe(QObject):
    """A repeating QTimer that records how late each tick arrives."""

    def __init__(self, interval_ms: int = 10, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.report = StallReport(interval_ms)
        self._timer = QTimer(self)
        self._timer.setTimerType(Qt.TimerType.PreciseTimer)
        self._timer.setInterval(interval_ms)
        self._timer.timeout.connect(self._tick)
        self._clock = QElapsedTimer()
        self._first = True

    def start(self) -> None:
        """Start measuring (from the first tick: the time before it is spent outside
        the event loop by whoever called this, not a stall of the loop)."""
        self._first = True
        self._clock.start()
        self._timer.start()

    def stop(self) -> StallReport:
        """Stop measuring; the report."""
        self._timer.stop()
        return self.report

    def _tick(self) -> None:
        elapsed_ms = self._clock.nsecsElapsed() / 1e6
        self._clock.restart()
        if self._first:
            self._first = False
            return
        late = max(0.0, elapsed_ms - self.report.interval_ms)
        self.report.samples += 1
        self.report.stalls.append(late)
        self.report.worst_ms = max(self.report.worst_ms, late)


def wait_until(condition: Callable[[], bool], timeout_s: float) -> bool:
    """Run the Qt event loop until ``condition()`` holds or ``timeout_s`` passes."""
    loop = QEventLoop()
    deadline = time.monotonic() + timeout_s

    def check() -> None:
        if condition() or time.monotonic() > deadline:
            loop.quit()

    poll = QTimer()
    poll.setInterval(20)
    poll.timeout.connect(check)
    poll.start()
    if not condition():
        loop.exec()
    poll.stop()
    return condition()


"""Event-loop latency probe: how long the GUI thread stalls while a session runs.

A QTimer asks to fire every ``interval_ms``; each late arrival beyond the interval is
a stall. ``python -m app.gui.stall_probe`` runs an Auto flats session on the 26 MP
simulator (simulated time instant, so the worker is as busy as it can be) and prints
the worst stall.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

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


def main(argv: list[str] | None = None) -> int:
    """Run a simulated 26 MP session in the window and print the worst GUI stall."""
    parser = argparse.ArgumentParser(prog="python -m app.gui.stall_probe")
    parser.add_argument("--count", type=int, default=5, help="flats to capture (default 5)")
    parser.add_argument("--interval-ms", type=int, default=10)
    parser.add_argument("--timeout-s", type=float, default=300.0)
    args = parser.parse_args(argv)

    from app.gui.app import make_app, settle_heap
    from app.gui.main_window import SETTINGS_ENV, MainWindow

    with tempfile.TemporaryDirectory(prefix="autoflats-stall-") as tmp:
        root = Path(tmp)
        os.environ[SETTINGS_ENV] = str(root / "gui.ini")
        sim = root / "sim.toml"
        sim.write_text("time_scale = 0.0\n", encoding="utf-8")  # 6248 x 4176 frames
        qt_app = make_app()  # keep a reference: the window needs it alive
        window = MainWindow(camera="sim", sim_config=sim, out=root / "flats", count=args.count)
        window.show()
        wait_until(lambda: window.facts is not None, args.timeout_s)
        settle_heap()  # as run_gui does
        probe = LatencyProbe(args.interval_ms)
        probe.start()
        window.start()
        wait_until(lambda: not window.is_running() and window.last_finished is not None,
                   args.timeout_s)
        report = probe.stop()
        finished = window.last_finished
        status = finished.reason.value if finished else "timeout"
        files = len(finished.files) if finished else 0
        print(f"26 MP session: {status}, {files} flats; {report}")
        if finished is not None and finished.message:
            print(f"session message: {finished.message}")
        window.close()
        qt_app.processEvents()
    return 0 if finished is not None else 1


if __name__ == "__main__":
    sys.exit(main())

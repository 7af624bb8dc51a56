"""``python -m bench.gui_stall``: the GUI event loop's worst stall while capturing.

The Auto flats window runs a session on the simulator with instant simulated time,
so 61 MP frames (``--size``) are captured back to back and the worker threads are as
busy as they can be. A 10 ms QTimer (:class:`app.gui.stall_probe.LatencyProbe`)
records how late each tick arrives; ``worst_ms`` and ``p99_ms`` are its worst and
99th-percentile lateness. ``--load`` starts one process that keeps a core busy for
the duration (the issue's condition: "with another process keeping one core busy")
and stops it afterwards. Runs offscreen unless QT_QPA_PLATFORM says otherwise.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bench.common import FULL_SIZE, busy_core, emit, load_average, parse_size, say


def measure(width: int, height: int, flats: int, interval_ms: int, timeout_s: float
            ) -> tuple[Any, str, float]:
    """(StallReport, how the session ended, ms the click's handler took) for one session."""
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from app.gui.app import make_app, settle_heap
    from app.gui.main_window import SETTINGS_ENV, MainWindow
    from app.gui.stall_probe import LatencyProbe, wait_until
    from app.stats import warm_up

    warm_up(wait=True)  # compiled kernels, as on any machine after the first session
    with tempfile.TemporaryDirectory(prefix="autoflats-bench-stall-") as tmp:
        root = Path(tmp)
        os.environ[SETTINGS_ENV] = str(root / "gui.ini")
        sim = root / "sim.toml"
        sim.write_text(f"time_scale = 0.0\nwidth = {width}\nheight = {height}\n",
                       encoding="utf-8")
        qt_app = make_app()  # keep a reference: the window needs it alive
        window = MainWindow(camera="sim", sim_config=sim, out=root / "flats", count=flats)
        window.show()
        wait_until(lambda: window.facts is not None, timeout_s)
        settle_heap()  # as run_gui does
        # The click's own handler (settings saved, the run planned, the worker
        # started) is timed apart; the probe then measures the event loop while the
        # frames are captured, which is what the figure is about.
        clicked = time.perf_counter()
        window.start()
        start_ms = (time.perf_counter() - clicked) * 1000
        probe = LatencyProbe(interval_ms)
        probe.start()
        wait_until(lambda: not window.is_running() and window.last_finished is not None,
                   timeout_s)
        report = probe.stop()
        finished = window.last_finished
        status = finished.reason.value if finished else "timeout"
        window.close()
        qt_app.processEvents()
    return report, status, start_ms


def main(argv: Sequence[str] | None = None) -> int:
    """One measured session; table on stderr, pinned JSON on stdout."""
    parser = argparse.ArgumentParser(prog="python -m bench.gui_stall", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--json", action="store_true", help="print the pinned JSON")
    parser.add_argument("--size", default="x".join(map(str, FULL_SIZE)),
                        help="frame WxH (default the 61 MP 9576x6388)")
    parser.add_argument("--flats", type=int, default=5, help="flats to capture")
    parser.add_argument("--load", action="store_true",
                        help="keep one core busy with another process meanwhile")
    parser.add_argument("--interval-ms", type=int, default=10)
    parser.add_argument("--timeout-s", type=float, default=600.0)
    args = parser.parse_args(argv)
    width, height = parse_size(args.size)
    busy = busy_core() if args.load else contextlib.nullcontext(0)
    with busy as busy_pid:
        report, status, start_ms = measure(width, height, max(1, args.flats),
                                           args.interval_ms, args.timeout_s)
        load = load_average()
    extra = f", busy process pid {busy_pid}" if args.load else ""
    say(f"GUI event loop while capturing {width}x{height} frames back to back "
        f"({args.flats} flats, session {status}{extra}); {load}")
    say(f"{report}; the Auto flats click's own handler took {start_ms:.1f} ms")
    emit({"worst_ms": round(report.worst_ms, 2), "p99_ms": round(report.percentile(99), 2),
          "start_ms": round(start_ms, 2)}, args.json)
    return 0 if status != "timeout" else 1


if __name__ == "__main__":
    raise SystemExit(main())

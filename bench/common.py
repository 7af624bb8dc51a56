"""Helpers shared by the benchmark commands: sizes, timing, machine load, a busy core.

The dev box has 2 cores shared with other people: single timings are noise. Every
benchmark reports ratios to a yardstick measured in the same run (memcpy of the
same frame), taking the median (or best) of several repeats, and prints the load
average next to its table.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import statistics
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

#: the 61 MP frame of the issue (ASI6200-like)
FULL_SIZE = (9576, 6388)


def parse_size(text: str) -> tuple[int, int]:
    """'9576x6388' -> (width, height)."""
    try:
        width, height = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise SystemExit(f"size {text!r}: use WIDTHxHEIGHT, e.g. 9576x6388") from None
    if width < 16 or height < 16:
        raise SystemExit(f"size {text!r}: at least 16x16")
    return width, height


def timings_s(action: Callable[[], object], repeats: int) -> list[float]:
    """Wall time of ``repeats`` calls of ``action``."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        action()
        times.append(time.perf_counter() - start)
    return times


def median(values: list[float]) -> float:
    """The median (the middle of the sorted values)."""
    return float(statistics.median(values))


def load_average() -> str:
    """'1-min load x.xx on n cores', as uptime shows it."""
    try:
        one, five, _ = os.getloadavg()
    except OSError:
        return "load unknown"
    return f"load average {one:.2f} (1 min), {five:.2f} (5 min) on {os.cpu_count()} cores"


def emit(results: dict[str, Any], as_json: bool) -> None:
    """The pinned JSON on stdout (tables go to stderr)."""
    if as_json:
        print(json.dumps(results))


def say(text: str) -> None:
    """A table line, on stderr so stdout stays pure JSON."""
    print(text, file=sys.stderr, flush=True)


def _spin(stop: Any) -> None:  # pragma: no cover - runs in the child
    while not stop.is_set():
        for _ in range(100_000):
            pass


@contextmanager
def busy_core() -> Iterator[int]:
    """Another process keeping one core busy for the duration; yields its pid."""
    context = multiprocessing.get_context("spawn")
    stop = context.Event()
    process = context.Process(target=_spin, args=(stop,), name="bench-busy-core", daemon=True)
    process.start()
    try:
        yield process.pid or 0
    finally:
        stop.set()
        process.join(timeout=5)
        if process.is_alive():
            process.terminate()
            process.join(timeout=5)

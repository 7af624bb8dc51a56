"""Frame-statistics benchmark: each statistic's time as a ratio to memcpy of the frame."""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np

from app.adu import AduScale
from app.stats import frame_stats, histogram, shot_noise_signal_native

#: a 26 MP frame, as the ASI2600 delivers
WIDTH, HEIGHT = 6248, 4176


def _best_of(action: Callable[[], object], repeats: int) -> float:
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        action()
        best = min(best, time.perf_counter() - start)
    return best


def run_stats_bench(repeats: int = 5, width: int = WIDTH, height: int = HEIGHT
                    ) -> dict[str, dict[str, float]]:
    """Seconds (best of ``repeats``) and ratio to memcpy for each statistic."""
    rng = np.random.default_rng(1)
    scale = AduScale(14)
    native = rng.normal(8000, 120, size=(height, width)).clip(0, scale.full_scale_native)
    frame = (native.astype(np.uint16) << np.uint16(scale.shift)).astype(np.uint16)
    del native
    copy = np.empty_like(frame)
    cases: dict[str, Callable[[], object]] = {
        "memcpy": lambda: np.copyto(copy, frame),
        "frame_stats mono": lambda: frame_stats(frame, scale),
        "frame_stats colour": lambda: frame_stats(frame, scale, "RGGB"),
        "histogram colour": lambda: histogram(frame, "RGGB"),
        "shot_noise_signal mono": lambda: shot_noise_signal_native(frame, scale, 1.0),
        "shot_noise_signal colour": lambda: shot_noise_signal_native(frame, scale, 1.0,
                                                                     "RGGB"),
    }
    seconds = {name: _best_of(action, repeats) for name, action in cases.items()}
    base = seconds["memcpy"]
    return {name: {"seconds": s, "ratio_to_memcpy": s / base} for name, s in seconds.items()}


def format_stats(results: dict[str, dict[str, float]], megapixels: float) -> str:
    """A small table."""
    lines = [f"frame statistics on a {megapixels:.0f} MP uint16 frame (best of runs)",
             f"{'statistic':<28}{'ms':>9}{'x memcpy':>10}"]
    for name, row in results.items():
        lines.append(f"{name:<28}{row['seconds'] * 1e3:>9.1f}{row['ratio_to_memcpy']:>10.2f}")
    return "\n".join(lines)

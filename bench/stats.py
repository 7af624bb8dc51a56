"""``python -m bench.stats``: the per-frame analysis as a ratio to memcpy of the frame.

Times, on one synthetic 61 MP uint16 flat (``--size`` for a quicker run), in one run
and interleaved so load changes hit every case alike:

* memcpy of the frame (the yardstick: one read and one write of 122 MB);
* the fused per-frame analysis :func:`app.stats.analyse_frame` (statistics +
  histogram + shot-noise estimate), mono and colour (RGGB) -> ``ratio_to_memcpy``,
  ``ratio_to_memcpy_colour``;
* the pre-existing separate calls (:mod:`app.stats_reference` frame_stats +
  histogram + shot_noise_signal_native) on mono -> ``naive_ratio``;
* for the table only: the same analysis on the numpy fallback, and frame_stats.

Ratios: median time over ``--repeats`` interleaved rounds ÷ memcpy's median time
(the table also shows best ÷ best).
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable, Sequence

import numpy as np
import numpy.typing as npt

from app.adu import AduScale
from app.stats import analyse_frame, frame_stats, warm_up
from app.stats_reference import frame_stats as reference_frame_stats
from app.stats_reference import histogram as reference_histogram
from app.stats_reference import shot_noise_signal_native as reference_shot_noise
from bench.common import FULL_SIZE, emit, load_average, median, parse_size, say

#: e-/ADU of the synthetic 14-bit sensor (ASI533-like)
E_PER_ADU_NATIVE = 3.1


def synthetic_flat(width: int, height: int, bit_depth: int = 14, seed: int = 1
                   ) -> npt.NDArray[np.uint16]:
    """A 50 % flat: vignetted, shot noise, a few saturated pixels, MSB-aligned."""
    rng = np.random.default_rng(seed)
    scale = AduScale(bit_depth)
    ys = np.linspace(-1, 1, height, dtype=np.float32)[:, None]
    xs = np.linspace(-1, 1, width, dtype=np.float32)[None, :]
    level = np.float32(0.5 * scale.full_scale_native)
    frame = level * (np.float32(1.1) - np.float32(0.2) * (xs * xs + ys * ys))
    frame += rng.standard_normal((height, width), dtype=np.float32) * np.float32(50)
    np.clip(frame, 0, scale.full_scale_native, out=frame)
    raw = frame.astype(np.uint16)
    del frame
    raw <<= np.uint16(scale.shift)
    hot = rng.integers(0, raw.size, size=max(1, raw.size // 100_000))
    raw.ravel()[hot] = scale.max_raw16
    return raw


def run(width: int, height: int, repeats: int) -> dict[str, dict[str, float]]:
    """Per case: median ms, median / memcpy median, best / memcpy best."""
    scale = AduScale(14)
    frame = synthetic_flat(width, height)
    copy = np.empty_like(frame)
    warm_up(wait=True)
    cases: dict[str, Callable[[], object]] = {
        "memcpy": lambda: np.copyto(copy, frame),
        "analyse_frame mono": lambda: analyse_frame(frame, scale, None, E_PER_ADU_NATIVE),
        "analyse_frame colour": lambda: analyse_frame(frame, scale, "RGGB", E_PER_ADU_NATIVE),
        "separate calls mono (before)": lambda: (
            reference_frame_stats(frame, scale), reference_histogram(frame),
            reference_shot_noise(frame, scale, E_PER_ADU_NATIVE)),
        "separate calls colour (before)": lambda: (
            reference_frame_stats(frame, scale, "RGGB"), reference_histogram(frame, "RGGB"),
            reference_shot_noise(frame, scale, E_PER_ADU_NATIVE, "RGGB")),
        "analyse_frame mono, numpy path": lambda: analyse_frame(
            frame, scale, None, E_PER_ADU_NATIVE, backend="numpy"),
        "analyse_frame colour, numpy path": lambda: analyse_frame(
            frame, scale, "RGGB", E_PER_ADU_NATIVE, backend="numpy"),
        "frame_stats colour": lambda: frame_stats(frame, scale, "RGGB"),
    }
    for action in cases.values():  # first touch: page faults, caches, compilation
        action()
    seconds: dict[str, list[float]] = {name: [] for name in cases}
    for _ in range(repeats):  # interleaved: a burst of load hits every case alike
        for name, action in cases.items():
            start = time.perf_counter()
            action()
            seconds[name].append(time.perf_counter() - start)
    base_median, base_best = median(seconds["memcpy"]), min(seconds["memcpy"])
    return {name: {"ms": median(s) * 1e3, "ratio": median(s) / base_median,
                   "best_ratio": min(s) / base_best} for name, s in seconds.items()}


def main(argv: Sequence[str] | None = None) -> int:
    """Print the table (stderr) and, with --json, the pinned keys (stdout)."""
    parser = argparse.ArgumentParser(prog="python -m bench.stats", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--json", action="store_true", help="print the pinned JSON")
    parser.add_argument("--size", default="x".join(map(str, FULL_SIZE)),
                        help="frame WxH (default the 61 MP 9576x6388)")
    parser.add_argument("--repeats", type=int, default=9, help="rounds (median taken)")
    args = parser.parse_args(argv)
    width, height = parse_size(args.size)
    results = run(width, height, max(1, args.repeats))
    say(f"per-frame statistics on a {width}x{height} ({width * height / 1e6:.0f} MP) uint16 "
        f"frame, median of {args.repeats} rounds; {load_average()}")
    say(f"{'case':<36}{'ms':>8}{'x memcpy':>10}{'best/best':>10}")
    for name, row in results.items():
        say(f"{name:<36}{row['ms']:>8.1f}{row['ratio']:>10.2f}{row['best_ratio']:>10.2f}")
    emit({"ratio_to_memcpy": round(results["analyse_frame mono"]["ratio"], 3),
          "ratio_to_memcpy_colour": round(results["analyse_frame colour"]["ratio"], 3),
          "naive_ratio": round(results["separate calls mono (before)"]["ratio"], 3)},
         args.json)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""``python -m bench``: the exposure search over scenario grids, then frame statistics.

Search: every scenario runs end to end on the real simulator (camera -> frame_stats
-> shot-noise estimate -> solver) at a small frame size with instant simulated time,
for autoflats and for NINA-like and Ekos-like re-implementations (DOMAIN.md). Two
counts: *search frames* = all frames until the accepted one, including it; *test
frames* = frames not saved as flats (search frames - 1). Grids: the fixed grid
(14 exposures 50 us..60 s x 12/14/16-bit x mono/colour x bias 0/1/5/10 %) and a
held-out random grid (every sensor parameter drawn at random).

Statistics: frame_stats, histogram and the shot-noise estimate on a 26 MP frame, as
ratios to memcpy of the same frame.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections.abc import Sequence
from typing import Any

from bench.grid import METHODS, Run, Scenario, fixed_grid, random_grid
from bench.stats_bench import HEIGHT, WIDTH, format_stats, run_stats_bench


def summarise(runs: list[Run]) -> dict[str, Any]:
    """Median / worst of both counts, how many were found, the worst landing error."""
    search = [r.search_frames for r in runs]
    found = [r for r in runs if r.found]
    test = [r.test_frames for r in found]
    errors = [r.error_fraction for r in found if r.error_fraction is not None]
    return {
        "scenarios": len(runs),
        "found": len(found),
        "search_frames_median": statistics.median(search),
        "search_frames_worst": max(search),
        "search_frames_mean": round(statistics.mean(search), 3),
        "test_frames_median": statistics.median(test) if test else None,
        "test_frames_worst": max(test) if test else None,
        "worst_error_vs_true_t_star": max(errors) if errors else None,
    }


def run_grid(name: str, scenarios: list[Scenario], methods: Sequence[str],
             size: tuple[int, int], table: bool) -> dict[str, Any]:
    """Run ``methods`` over ``scenarios``; print a table and the summary lines."""
    started = time.perf_counter()
    runs: dict[str, list[Run]] = {m: [] for m in methods}
    for scenario in scenarios:
        for method in methods:
            runs[method].append(METHODS[method](scenario, *size))
    elapsed = time.perf_counter() - started
    summaries = {m: summarise(r) for m, r in runs.items()}
    if table:
        header = f"{'scenario':<28}" + "".join(f"{m:>12}" for m in methods)
        print(f"\n== {name} grid: {len(scenarios)} scenarios, search frames "
              "(x = not found) ==", file=sys.stderr)
        print(header, file=sys.stderr)
        for i, scenario in enumerate(scenarios):
            cells = "".join(
                f"{runs[m][i].search_frames:>11}{'' if runs[m][i].found else 'x'}"
                f"{' ' if runs[m][i].found else ''}" for m in methods)
            print(f"{scenario.label():<28}{cells}", file=sys.stderr)
    print(f"\n== {name} grid ({len(scenarios)} scenarios, {elapsed:.1f} s) ==",
          file=sys.stderr)
    for method, s in summaries.items():
        print(f"{method:<10} search frames median {s['search_frames_median']:g} worst "
              f"{s['search_frames_worst']} (mean {s['search_frames_mean']:.2f}); "
              f"test frames median {s['test_frames_median']} worst "
              f"{s['test_frames_worst']}; found {s['found']}/{s['scenarios']}",
              file=sys.stderr)
    return {"scenarios": len(scenarios), "seconds": round(elapsed, 2),
            "methods": summaries}


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmarks; ``--json`` prints the results as JSON on stdout."""
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--json", action="store_true", help="print results as JSON")
    parser.add_argument("--only", choices=("search", "stats"), help="run one part")
    parser.add_argument("--grid", choices=("fixed", "random", "both"), default="both")
    parser.add_argument("--random-count", type=int, default=120)
    parser.add_argument("--random-seed", type=int, default=20240607)
    parser.add_argument("--methods", default="autoflats,autoflats-next-night,nina-like,ekos-like",
                        help="comma-separated: " + ", ".join(METHODS))
    parser.add_argument("--size", default="512x384", help="simulated frame WxH")
    parser.add_argument("--table", action="store_true", help="print every scenario")
    parser.add_argument("--repeats", type=int, default=5, help="stats: best of N runs")
    args = parser.parse_args(argv)
    methods = [m.strip() for m in args.methods.split(",") if m.strip()]
    unknown = [m for m in methods if m not in METHODS]
    if unknown:
        parser.error(f"unknown method(s) {', '.join(unknown)}; use {', '.join(METHODS)}")
    width, height = (int(v) for v in args.size.lower().split("x"))
    results: dict[str, Any] = {}
    if args.only in (None, "search"):
        grids: dict[str, list[Scenario]] = {}
        if args.grid in ("fixed", "both"):
            grids["fixed"] = fixed_grid()
        if args.grid in ("random", "both"):
            grids["random"] = random_grid(args.random_count, args.random_seed)
        results["search"] = {
            name: run_grid(name, scenarios, methods, (width, height), args.table)
            for name, scenarios in grids.items()
        }
    if args.only in (None, "stats"):
        stats = run_stats_bench(args.repeats)
        print("\n" + format_stats(stats, WIDTH * HEIGHT / 1e6), file=sys.stderr)
        results["stats"] = stats
    if args.json:
        print(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

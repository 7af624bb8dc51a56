"""``python -m bench.convergence``: frames per exposure search, ours vs NINA and Ekos.

Every scenario of the bench grid (:mod:`bench.grid`; default the fixed grid of 336:
14 needed exposures 50 us..60 s x 12/14/16-bit x mono/colour x bias 0/1/5/10 %) runs
end to end on the real simulator at a small frame size with instant simulated time:
autoflats' own FlatSession (``ours``), and the NINA-like and Ekos-like searches
re-implemented from their sources (``nina``, ``ekos``; DOMAIN.md).

The default grid is the harsh one (:func:`bench.grid.harsh_grid`: the fixed grid with
real sensors' effects). Per method: ``median`` and ``worst`` of the *search frames*
(every frame taken until the accepted one, including it; a search that never finds
counts the frames it took), ``success``: the share of scenarios found, in [0, 1], and
``off_target``: accepted frames whose level misses the target.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Sequence
from typing import Any

from bench.common import emit, load_average, parse_size, say
from bench.grid import (
    METHODS,
    TOLERANCE,
    Run,
    Scenario,
    fixed_grid,
    harsh_grid,
    random_grid,
    reachable,
)

#: JSON key -> bench.grid method
PINNED_METHODS = {"ours": "autoflats", "nina": "nina-like", "ekos": "ekos-like"}


def summarise(runs: list[Run]) -> dict[str, Any]:
    """median / worst search frames, the share found, and accepted flats off target."""
    frames = [r.search_frames for r in runs]
    off = [r for r in runs if r.found and r.error_fraction is not None
           and r.error_fraction > TOLERANCE + 3 * r.scenario.flux_jitter]
    possible = [r for r in runs if r.reachable]
    return {"median": statistics.median(frames), "worst": max(frames),
            "success": round(sum(r.found for r in runs) / len(runs), 4),
            "off_target": len(off),
            "success_reachable": round(sum(r.found for r in possible) / max(len(possible), 1),
                                       4)}


def scenarios_for(grid: str, count: int, seed: int, limit: int | None) -> list[Scenario]:
    """The chosen grid, optionally every k-th scenario so that ``limit`` remain."""
    chosen = {"fixed": fixed_grid, "harsh": harsh_grid}.get(
        grid, lambda: random_grid(count, seed))()
    if limit is not None and 0 < limit < len(chosen):
        step = len(chosen) / limit
        chosen = [chosen[int(i * step)] for i in range(limit)]
    return chosen


def main(argv: Sequence[str] | None = None) -> int:
    """Run the three searches over the grid; table on stderr, pinned JSON on stdout."""
    parser = argparse.ArgumentParser(prog="python -m bench.convergence", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--json", action="store_true", help="print the pinned JSON")
    parser.add_argument("--grid", choices=("harsh", "fixed", "random"), default="harsh",
                        help="harsh (default): the fixed grid with real sensors' effects")
    parser.add_argument("--random-count", type=int, default=120)
    parser.add_argument("--random-seed", type=int, default=20240607)
    parser.add_argument("--limit", type=int, help="run only this many scenarios, spread out")
    parser.add_argument("--size", default="512x384", help="simulated frame WxH")
    parser.add_argument("--table", action="store_true", help="one line per scenario")
    args = parser.parse_args(argv)
    width, height = parse_size(args.size)
    scenarios = scenarios_for(args.grid, args.random_count, args.random_seed, args.limit)
    started = time.perf_counter()
    runs: dict[str, list[Run]] = {key: [] for key in PINNED_METHODS}
    if args.table:
        say(f"{'scenario':<28}" + "".join(f"{key:>8}" for key in PINNED_METHODS)
            + "   (search frames; x = not found)")
    for scenario in scenarios:
        can = reachable(scenario)
        for key, method in PINNED_METHODS.items():
            run = METHODS[method](scenario, width, height)
            run.reachable = can
            runs[key].append(run)
        if args.table:
            say(f"{scenario.label():<28}" + "".join(
                f"{runs[k][-1].search_frames:>7}{' ' if runs[k][-1].found else 'x'}"
                for k in PINNED_METHODS))
    results = {key: summarise(method_runs) for key, method_runs in runs.items()}
    say(f"\nexposure search on the {args.grid} grid: {len(scenarios)} scenarios at "
        f"{width}x{height}, {time.perf_counter() - started:.0f} s; {load_average()}")
    say("search frames = frames until the accepted one, including it; "
        "success = share of scenarios found (0..1)")
    say("off target = accepted frames whose true level misses the target by more than the "
        "tolerance (+ 3x the light's jitter)")
    unreachable = sum(not r.reachable for r in runs["ours"])
    say(f"{unreachable} scenarios cannot reach the target at all (the camera's exposure "
        "grid skips it); success_reachable counts the others")
    say(f"{'method':<8}{'median':>8}{'worst':>7}{'success':>9}{'reachable':>11}"
        f"{'off target':>12}")
    for key, row in results.items():
        say(f"{key:<8}{row['median']:>8g}{row['worst']:>7}{row['success']:>9.3f}"
            f"{row['success_reachable']:>11.3f}{row['off_target']:>12}")
    emit(results, args.json)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""``python -m bench`` (``make bench``): the four benchmarks, one after the other.

Each runs in its own process (clean peak-memory figures, its own Qt application):

* ``python -m bench.stats``       per-frame analysis ÷ memcpy (61 MP);
* ``python -m bench.convergence`` frames per exposure search, ours vs NINA / Ekos;
* ``python -m bench.capture``     real-time 61 MP session: overhead, peak memory;
* ``python -m bench.gui_stall --load``  GUI stall while capturing, one core busy.

Their tables go to stderr; ``--json`` prints one object keyed by benchmark, each
value the benchmark's own pinned JSON. ``--quick`` runs small sizes (a smoke run).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from collections.abc import Sequence
from typing import Any

QUICK = {
    "stats": ["--size", "640x480", "--repeats", "3"],
    "convergence": ["--limit", "12"],
    "capture": ["--size", "640x480", "--flats", "5", "--memory-flats", "5",
                "--exposure", "0.1"],
    "gui_stall": ["--size", "640x480", "--flats", "3"],
}
DEFAULT: dict[str, list[str]] = {"stats": [], "convergence": [], "capture": [],
                                 "gui_stall": ["--load"]}


def main(argv: Sequence[str] | None = None) -> int:
    """Run the chosen benchmarks in subprocesses; gather their JSON."""
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--json", action="store_true", help="print all results as JSON")
    parser.add_argument("--quick", action="store_true", help="small sizes: a smoke run")
    parser.add_argument("--only", action="append", choices=list(DEFAULT),
                        help="run only this benchmark (repeatable)")
    args = parser.parse_args(argv)
    results: dict[str, Any] = {}
    failed = 0
    for name in args.only or list(DEFAULT):
        extra = QUICK[name] if args.quick else DEFAULT[name]
        if args.quick and name == "gui_stall":
            extra = [*extra, "--load"]
        command = [sys.executable, "-m", f"bench.{name}", "--json", *extra]
        print(f"\n$ {' '.join(command[1:])}", file=sys.stderr, flush=True)
        done = subprocess.run(command, stdout=subprocess.PIPE, text=True, check=False)
        if done.returncode != 0:
            failed += 1
            results[name] = None
            continue
        results[name] = json.loads(done.stdout.strip().splitlines()[-1])
    if args.json:
        print(json.dumps(results, indent=2))
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())

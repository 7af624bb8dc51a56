"""Frames per exposure search on the simulated DSLR, through the command line, with and
without a dimmable simulated panel.

    PYTHONPATH=. python -m bench.dslr_frames

Twenty lights from 50 to ~380 000 e-/s (the camera's flux without a panel, the panel's
flux at full brightness with one: four times that), one flat each, instant simulated
time. Frames per search = test frames + the accepted one.
"""

from __future__ import annotations

import json
import statistics
import tempfile
from pathlib import Path

from app.cli.main import main

BASE = "width = 240\nheight = 160\ntime_scale = 0.0\n"
FLUXES = [round(50 * 1.6**k) for k in range(20)]
PANEL = ("--panel", "sim", "--brightness", "auto")


def _run(toml: str, extra: tuple[str, ...]) -> tuple[int, int, list[str]]:
    with tempfile.TemporaryDirectory() as folder:
        config = Path(folder) / "sim.toml"
        config.write_text(toml, encoding="utf-8")
        out = Path(folder) / "out"
        code = main(["flats", "--camera", "sim-dslr", "--sim-config", str(config), "--count",
                     "1", "--out", str(out), "--no-history", "--quiet", *extra])
        record = json.loads((out / "session.json").read_text(encoding="utf-8"))
        return code, len(record.get("test_exposures", [])) + 1, list(record.get("warnings", []))


def _panel(gamma: float) -> str:
    return f"[panel]\nflux_e_s_at_max = {{}}.0\ngamma = {gamma}\nhas_cover = false\n"


def main_bench() -> None:
    """Print one line per light source kind."""
    cases = (("no panel", "flux_e_s = {}.0\n", ()),
             ("dimmable panel, gamma 1", _panel(1.0), PANEL),
             ("dimmable panel, gamma 2.2", _panel(2.2), PANEL))
    for label, table, extra in cases:
        frames: list[int] = []
        settled = failed = 0
        for seed, flux in enumerate(FLUXES):
            value = flux if not extra else flux * 4
            code, count, warnings = _run(BASE + f"seed = {seed}\n" + table.format(value),
                                         extra)
            if code != 0:
                failed += 1
                continue
            frames.append(count)
            settled += any("falls between" in w or "too coarse" in w for w in warnings)
        print(f"{label}: frames per search median {statistics.median(frames):g}, worst "
              f"{max(frames)}, mean {statistics.mean(frames):.2f} over {len(frames)} lights; "
              f"settled at the nearest speed {settled}; failed {failed} (too dark at 30 s)")


if __name__ == "__main__":
    main_bench()

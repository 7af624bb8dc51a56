"""``python -m bench.sky``: sky flats at dusk and dawn on the simulated twilight.

Three methods on the same simulated skies (``[sky]``: exponential, halving 90-600 s;
1, 3 or 7 filters; readout 0.2 or 3 s; flats of 1-30 s, 20 per filter, target 50 %
± 5 %):

* ``autoflats-sky``: this project's sky flats (app.procedures.sky_flats) through the
  job, filters ordered by throughput, waiting for the sky when it is too bright
  (dusk) or too dark (dawn).
* ``resolve-on-drift``: today's panel-flats job (search, then flats at one exposure
  re-solved when the level drifts) on the same sky, filters in wheel order.
* ``nina-recurrence``: N.I.N.A.'s sky-flat recurrence re-implemented from DOMAIN.md
  (a first exposure e0 by its search, then t_{i+1} = ln(a^(t_i + t_rot) + e0 ln a) /
  ln a; out of tolerance -> search again), with tau set from the simulated sky's true
  rate (its best case), filters in wheel order.

Every frame is judged by the simulator's truth (the light it integrated): *kept ok*
= kept flats whose true level is within the tolerance; *wasted* = frames not kept;
*reached* = flats per filter taken before the sky ran out, over those asked for.
The dusk sky starts so the least sensitive filter needs 1.5 s, the dawn sky so the
most sensitive needs 20 s.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from app.adu import AduScale
from app.job import FlatJob, JobSettings
from app.rig import Rig
from app.settings import FlatSettings
from app.stats import frame_stats
from drivers.devices import Devices, open_devices
from drivers.sim_sky import SkyLight
from drivers.simulator import SimulatedCamera

WIDTH, HEIGHT = 160, 120
COUNT = 20
TOLERANCE = 0.05
MIN_S, MAX_S = 1.0, 30.0
WHEEL = {"L": 1.0, "R": 0.33, "G": 0.36, "B": 0.30, "Ha": 0.012, "OIII": 0.015, "SII": 0.010}
FILTER_SETS = {1: ("L",), 3: ("L", "R", "Ha"), 7: tuple(WHEEL)}
#: e- a flat at the target collects (50 % of 14-bit at gain 100)
TARGET_E = 8030.0


@dataclass(frozen=True, slots=True)
class SkyScenario:
    """One twilight."""

    kind: str
    halving_s: float
    filters: int
    readout_s: float

    def label(self) -> str:
        """A short name for the table."""
        return f"{self.kind} {self.halving_s:>3.0f}s {self.filters}f ro {self.readout_s:g}s"

    def flux_at_start(self) -> float:
        """e-/s/pixel so the first filter fits (module docstring)."""
        throughputs = [WHEEL[f] for f in FILTER_SETS[self.filters]]
        if self.kind == "dusk":
            return TARGET_E / 1.5 / min(throughputs)
        return TARGET_E / 20.0 / max(throughputs)


def grid() -> list[SkyScenario]:
    """Dusk and dawn x halving 90/180/600 s x 1/3/7 filters x readout 0.2/3 s."""
    return [SkyScenario(kind, halving, n, readout)
            for kind in ("dusk", "dawn") for halving in (90.0, 180.0, 600.0)
            for n in (1, 3, 7) for readout in (0.2, 3.0)]


def _toml(sc: SkyScenario, seed: int) -> str:
    names = ", ".join(f'"{n}"' for n in WHEEL)
    values = ", ".join(str(v) for v in WHEEL.values())
    return (f"width = {WIDTH}\nheight = {HEIGHT}\ntime_scale = 0\nseed = {seed}\n"
            f"readout_s_per_mp = {sc.readout_s / (WIDTH * HEIGHT / 1e6)}\n\n"
            f'[sky]\nkind = "{sc.kind}"\nhalving_s = {sc.halving_s}\n'
            f"flux_e_s_at_start = {sc.flux_at_start()}\n\n"
            f"[wheel]\nfilters = [{names}]\nthroughput = [{values}]\nmove_s = 1.5\n")


@dataclass(slots=True)
class Outcome:
    """One method on one scenario."""

    frames: int
    kept: int
    kept_ok: int
    flats_per_filter: dict[str, int]

    @property
    def wasted(self) -> int:
        """Frames not kept as flats."""
        return self.frames - self.kept


class _Truth:
    """Every frame the camera took, with the level its light truly gave."""

    def __init__(self, camera: SimulatedCamera, light: SkyLight) -> None:
        self.frames: list[tuple[float, float, float]] = []  # (exposure, measured, true)
        self._camera, self._light = camera, light
        scale = AduScale(camera.info.bit_depth)
        original = camera.capture

        def capture(exposure_s: float, **kw: Any) -> Any:
            taken = original(exposure_s, **kw)
            mean = frame_stats(taken.frame, scale, None).mean_native
            true = camera.true_mean_native(taken.exposure_s, light.served[-1].mean_flux_e_s)
            self.frames.append((taken.exposure_s, mean, true))
            return taken

        camera.capture = capture  # type: ignore[method-assign]

    def outcome(self, kept_means: dict[str, list[float]], target: float) -> Outcome:
        by_mean = {round(m, 6): t for _, m, t in self.frames}
        kept = sum(len(v) for v in kept_means.values())
        ok = sum(1 for means in kept_means.values() for m in means
                 if abs(by_mean[round(m, 6)] - target) <= TOLERANCE * target)
        return Outcome(len(self.frames), kept, ok, {f: len(v) for f, v in kept_means.items()})


def _devices(sc: SkyScenario, tmp: Path, seed: int) -> tuple[Devices, _Truth]:
    path = tmp / "sky.toml"
    path.write_text(_toml(sc, seed))
    devices = open_devices("sim", wheel="sim", sim_config_path=path)
    camera = devices.camera
    assert isinstance(camera, SimulatedCamera) and isinstance(camera._light, SkyLight)
    return devices, _Truth(camera, camera._light)


def _target(devices: Devices) -> float:
    return AduScale(devices.camera.info.bit_depth).to_native(0.5 * 65535)


def _job_method(sky: bool) -> Callable[[SkyScenario, int], Outcome]:
    def run(sc: SkyScenario, seed: int) -> Outcome:
        filters = FILTER_SETS[sc.filters]
        with tempfile.TemporaryDirectory(prefix="autoflats-sky-") as name:
            tmp = Path(name)
            devices, truth = _devices(sc, tmp, seed)
            settings = FlatSettings(out_dir=tmp / "out", count=COUNT,
                                    tolerance_percent=TOLERANCE * 100, min_exposure_s=MIN_S,
                                    max_exposure_s=MAX_S, max_rejected_flats=1000)
            job = JobSettings(settings, filters=filters, sky=sc.kind if sky else None,
                              throughput=WHEEL if sky else None)
            with devices:
                for _ in FlatJob(Rig(devices.camera, None, devices.wheel), job).events():
                    pass
                data = json.loads((tmp / "out" / "session.json").read_text())
                kept = {e["filter"]: [f["mean_native"] for f in e["flats"]]
                        for e in data["filters"]}
                # the record rounds to 3 decimals: match the frames the same way
                truth.frames = [(e, round(m, 3), t) for e, m, t in truth.frames]
                return truth.outcome(kept, _target(devices))
    return run


def run_nina(sc: SkyScenario, seed: int) -> Outcome:
    """N.I.N.A.'s recurrence (module docstring), on the camera and wheel directly."""
    filters = FILTER_SETS[sc.filters]
    with tempfile.TemporaryDirectory(prefix="autoflats-sky-") as name:
        devices, truth = _devices(sc, Path(name), seed)
        with devices:
            camera, wheel = devices.camera, devices.wheel
            assert wheel is not None
            clock = camera.clock
            scale = AduScale(camera.info.bit_depth)
            target = _target(devices)
            growth = math.log(2) / sc.halving_s * (-1 if sc.kind == "dusk" else 1)
            ln_a = growth  # a = 10^(k / tau) with tau chosen so that a = e^growth
            buffer = np.empty(camera.frame_shape, dtype=np.uint16)
            kept: dict[str, list[float]] = {}

            def shoot(e: float) -> tuple[float, float, float]:
                start = clock.monotonic()
                taken = camera.capture(e, out=buffer)
                return start, taken.exposure_s, frame_stats(buffer, scale, None).mean_native

            for f in filters:
                wheel.move_to_filter(f, 60.0)
                kept[f] = []
                t_rot = camera.readout_s + 0.05
                while len(kept[f]) < COUNT:
                    found = _nina_search(shoot, target)
                    if found is None:
                        break
                    start0, e0, mean = found
                    kept[f].append(mean)
                    end = start0 + e0
                    while len(kept[f]) < COUNT:
                        begin = end + t_rot - start0
                        inner = math.exp(ln_a * begin) + e0 * ln_a
                        if inner <= 0:
                            break
                        e = math.log(inner) / ln_a - begin
                        if not MIN_S <= e <= MAX_S:
                            break
                        start, e_applied, mean = shoot(e)
                        t_rot = start - end
                        end = start + e_applied
                        if abs(mean - target) > TOLERANCE * target:
                            break  # back to the search
                        kept[f].append(mean)
                    else:
                        continue
                    if not MIN_S <= e <= MAX_S or inner <= 0:
                        break  # out of sky for this filter
            return truth.outcome(kept, target)


def _nina_search(shoot: Callable[[float], tuple[float, float, float]], target: float
                 ) -> tuple[float, float, float] | None:
    """NINA's search in [min, max] (see bench.grid.run_nina_like), 21 frames at most."""
    low, high = MIN_S, MAX_S
    exposure = (low + high) / 2
    full = 2**14 - 1
    for _ in range(21):
        start, applied, mean = shoot(exposure)
        if abs(mean - target) <= TOLERANCE * target:
            return start, applied, mean
        if mean >= full * 0.99 and applied <= MIN_S:
            return None  # too bright at the shortest exposure
        if mean > target:
            high = applied
        else:
            low = applied
        if 0.1 <= mean / full <= 0.9:
            exposure = applied * target / mean
        else:
            exposure = (low + high) / 2
        if high - low < 1e-3:  # the sky moved past the bracket: open it again
            low, high = MIN_S, MAX_S
        exposure = min(max(exposure, MIN_S), MAX_S)
    return None


METHODS: dict[str, Callable[[SkyScenario, int], Outcome]] = {
    "autoflats-sky": _job_method(sky=True),
    "resolve-on-drift": _job_method(sky=False),
    "nina-recurrence": run_nina,
}


def summarise(outcomes: list[Outcome], scenarios: list[SkyScenario]) -> dict[str, Any]:
    """Totals over the grid."""
    frames = sum(o.frames for o in outcomes)
    kept = sum(o.kept for o in outcomes)
    asked = sum(COUNT * sc.filters for sc in scenarios)
    reached = sum(min(n, COUNT) for o in outcomes for n in o.flats_per_filter.values())
    return {
        "frames": frames, "kept": kept,
        "kept_ok_percent": round(100 * sum(o.kept_ok for o in outcomes) / kept, 2)
        if kept else None,
        "wasted_percent": round(100 * (frames - kept) / frames, 2) if frames else None,
        "reached_percent": round(100 * reached / asked, 2),
    }


def main(argv: Sequence[str] | None = None) -> int:
    """Run the grid; a table on stderr, ``--json`` on stdout."""
    parser = argparse.ArgumentParser(prog="python -m bench.sky", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--json", action="store_true", help="print results as JSON")
    parser.add_argument("--methods", default=",".join(METHODS))
    parser.add_argument("--quick", action="store_true", help="a third of the grid")
    args = parser.parse_args(argv)
    methods = [m for m in args.methods.split(",") if m]
    scenarios = grid()[::3] if args.quick else grid()
    started = time.perf_counter()
    results: dict[str, list[Outcome]] = {m: [] for m in methods}
    header = f"{'scenario':<24}" + "".join(f"{m:>26}" for m in methods)
    print(f"kept ok / kept / frames (reached of {COUNT} per filter)", file=sys.stderr)
    print(header, file=sys.stderr)
    for i, sc in enumerate(scenarios):
        cells = ""
        for m in methods:
            o = METHODS[m](sc, 100 + i)
            results[m].append(o)
            reached = min(o.flats_per_filter.values()) if o.flats_per_filter else 0
            cells += f"{f'{o.kept_ok}/{o.kept}/{o.frames} (min {reached})':>26}"
        print(f"{sc.label():<24}{cells}", file=sys.stderr)
    elapsed = time.perf_counter() - started
    summary = {m: summarise(results[m], scenarios) for m in methods}
    print(f"\n{'method':<18}{'kept ok %':>10}{'wasted %':>10}{'reached %':>11}{'frames':>8}",
          file=sys.stderr)
    for m, s in summary.items():
        print(f"{m:<18}{s['kept_ok_percent']!s:>10}{s['wasted_percent']!s:>10}"
              f"{s['reached_percent']!s:>11}{s['frames']:>8}", file=sys.stderr)
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
    machine = {"cpus": os.cpu_count(), "load_1min": load, "python": platform.python_version(),
               "seconds": round(elapsed, 1)}
    print(f"\n{len(scenarios)} scenarios in {elapsed:.1f} s; {machine}", file=sys.stderr)
    if args.json:
        print(json.dumps({"scenarios": len(scenarios), "summary": summary,
                          "machine": machine, "per_scenario": {
                              m: [{"scenario": sc.label(), "frames": o.frames,
                                   "kept": o.kept, "kept_ok": o.kept_ok,
                                   "flats_per_filter": o.flats_per_filter}
                                  for sc, o in zip(scenarios, results[m], strict=True)]
                              for m in methods}}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

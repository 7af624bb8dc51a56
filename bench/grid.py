"""Exposure-search scenarios on the real simulator, and the searches that run on them.

A scenario fixes a sensor (bit depth, mono or colour, gain, e-/ADU, read noise,
PRNU, vignetting, bias) and the exposure the target needs, t*. The simulator's flux
is set so that t* = (target - bias) / rate; the solver never sees it: it only gets
frames, their statistics and the camera's reported properties, exactly as in a
session. Two counts per run:

* search frames: every frame taken until the accepted one, including it;
* test frames: the frames not saved as flats (search frames - 1), what
  ``session.json`` lists under ``test_exposures``.
"""

from __future__ import annotations

import json
import math
import random
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from app.adu import AduScale
from app.events import ExposureSolved, SessionFinished, TestFrame
from app.history import ExposureHistory
from app.session import FlatSession
from app.settings import FlatSettings
from app.stats import Frame, frame_stats
from drivers.simulator import SimConfig, SimulatedCamera

#: the target (share of full scale) and tolerance (share of the target) of issue 3
TARGET_FRACTION = 0.5
TOLERANCE = 0.05
#: the session's default longest exposure
MAX_EXPOSURE_S = 120.0

#: ZWO-like sensors per ADC depth: (e-/ADU at gain 0, gain used, full well e-)
SENSORS: dict[int, tuple[float, int, float]] = {
    12: (5.0, 139, 20_000.0),  # ASI1600-like at unity gain
    14: (3.1, 100, 50_000.0),  # ASI533-like
    16: (0.77, 100, 50_000.0),  # ASI2600-like
}


@dataclass(frozen=True, slots=True)
class Scenario:
    """One flat-search situation."""

    t_star_s: float
    bit_depth: int
    colour: bool
    bias_fraction: float
    gain: int | None = None
    e_per_adu0: float | None = None
    read_noise_e: float = 1.5
    prnu: float = 0.006
    vignetting: float = 0.3
    channel_ratio: tuple[float, float, float] = (0.6, 1.0, 0.75)
    seed: int = 1
    #: the harsh effects of real sensors (see the simulator's keys)
    exposure_step_s: float = 0.0
    exposure_offset_s: float = 0.0
    flux_jitter: float = 0.0
    nonlinearity: float = 0.0
    linear_limit: float = 1.0
    reported_e_per_adu_factor: float = 1.0

    def label(self) -> str:
        """A short name for tables."""
        kind = "C" if self.colour else "M"
        harsh = ""
        if self.exposure_step_s:
            harsh += " grid"
        if self.exposure_offset_s:
            harsh += " offset"
        if self.flux_jitter:
            harsh += f" jitter{self.flux_jitter:.0%}"
        if self.nonlinearity:
            harsh += " nonlin"
        if self.reported_e_per_adu_factor != 1:
            harsh += f" e/ADU×{self.reported_e_per_adu_factor:g}"
        if self.colour and self.channel_ratio != (0.6, 1.0, 0.75):
            harsh += " R>G" if self.channel_ratio[0] > 1 else " B>G" if (
                self.channel_ratio[2] > 1) else ""
        return (f"{_fmt_s(self.t_star_s):>7} {self.bit_depth}b {kind} "
                f"bias {self.bias_fraction:4.0%}{harsh}")


@dataclass(slots=True)
class Run:
    """How one search went."""

    scenario: Scenario
    method: str
    search_frames: int
    found: bool
    exposure_s: float | None
    true_t_star_s: float
    error_fraction: float | None  # |true mean at the exposure - target| / target
    exposures: list[float] = field(default_factory=list)
    verdict: str = ""
    #: whether the target can be reached at all (see :func:`reachable`)
    reachable: bool = True

    @property
    def test_frames(self) -> int:
        """Frames not saved as flats: every search frame but the accepted one."""
        return self.search_frames - 1 if self.found else self.search_frames


def _fmt_s(t: float) -> str:
    if t < 1e-3:
        return f"{t * 1e6:.0f}us"
    if t < 1:
        return f"{t * 1e3:.3g}ms"
    return f"{t:.3g}s"


def make_camera(sc: Scenario, width: int = 512, height: int = 384) -> SimulatedCamera:
    """An open simulated camera whose flux makes ``sc.t_star_s`` the right exposure."""
    e0, gain, full_well = SENSORS[sc.bit_depth]
    e0 = sc.e_per_adu0 if sc.e_per_adu0 is not None else e0
    gain = sc.gain if sc.gain is not None else gain
    full_scale = 2**sc.bit_depth - 1
    base = SimConfig(
        width=width, height=height, bit_depth=sc.bit_depth,
        bayer="RGGB" if sc.colour else None, e_per_adu=e0, full_well_e=full_well,
        bias_adu=sc.bias_fraction * full_scale, read_noise_e=sc.read_noise_e,
        prnu=sc.prnu, vignetting=sc.vignetting, channel_ratio=sc.channel_ratio,
        seed=sc.seed, time_scale=0.0, gain_default=gain, flux_e_s=1000.0,
        pattern_seed=7919 + sc.seed, exposure_step_s=sc.exposure_step_s,
        exposure_offset_s=sc.exposure_offset_s, flux_jitter=sc.flux_jitter,
        nonlinearity=sc.nonlinearity, linear_limit=sc.linear_limit,
        reported_e_per_adu_factor=sc.reported_e_per_adu_factor,
    )
    probe = SimulatedCamera(base)
    probe.open()
    per_flux = (probe.true_mean_native(1.0) - probe.true_mean_native(0.0)) / base.flux_e_s
    probe.close()
    target = target_native(sc.bit_depth)
    bias = sc.bias_fraction * full_scale
    flux = (target - bias) / sc.t_star_s / per_flux
    camera = SimulatedCamera(replace(base, flux_e_s=flux))
    camera.open()
    camera.set_gain(gain)
    return camera


def target_native(bit_depth: int) -> float:
    """50 % of full scale, native ADU (as the session computes it)."""
    return AduScale(bit_depth).to_native(TARGET_FRACTION * 65535)


def true_t_star(camera: SimulatedCamera, target: float) -> float:
    """The exposure that truly gives ``target`` (hidden truth, for judging only)."""
    bias = camera.true_mean_native(0.0)
    return (target - bias) / (camera.true_mean_native(1.0) - bias)


Capture = Callable[[float], tuple[Frame, float]]


def _judge(camera: SimulatedCamera, sc: Scenario, method: str, exposures: list[float],
           accepted: float | None, verdict: str) -> Run:
    target = target_native(sc.bit_depth)
    t_star = true_t_star(camera, target)
    error = (abs(camera.true_mean_native(accepted) - target) / target
             if accepted is not None else None)
    return Run(sc, method, len(exposures), accepted is not None, accepted, t_star, error,
               exposures, verdict)


def run_autoflats(sc: Scenario, width: int = 512, height: int = 384,
                  max_frames: int = 12, history: ExposureHistory | None = None,
                  method: str = "autoflats") -> Run:
    """The product's own path: a FlatSession for one flat, counting its frames."""
    camera = make_camera(sc, width, height)
    exposures: list[float] = []
    accepted: float | None = None
    verdict = ""
    with tempfile.TemporaryDirectory(prefix="autoflats-bench-") as tmp:
        settings = FlatSettings(out_dir=Path(tmp), count=1, tolerance_percent=TOLERANCE * 100,
                                max_exposure_s=MAX_EXPOSURE_S, max_test_frames=max_frames)
        for event in FlatSession(camera, settings, history=history).events():
            if isinstance(event, TestFrame):
                exposures.append(event.exposure_s)
            elif isinstance(event, ExposureSolved):
                accepted = event.exposure_s
                exposures.append(event.exposure_s)
            elif isinstance(event, SessionFinished):
                verdict = event.reason.value if accepted is None else "accept"
        record = json.loads((Path(tmp) / "session.json").read_text(encoding="utf-8"))
    run = _judge(camera, sc, method, exposures, accepted, verdict)
    camera.close()
    aim = record.get("aim") or {}
    channel = aim.get("channel")
    if channel is not None and accepted is not None and record.get("flats"):
        # A colour search that aimed its brightest channel (to keep it linear) is judged
        # on that channel, as it was taken: its own target, not the whole-frame one.
        scale = AduScale(sc.bit_depth)
        measured = scale.to_native(record["flats"][0]["channels_16bit"][channel])
        target = float(aim["target_native"])
        run.error_fraction = abs(measured - target) / target
        run.verdict = f"accept (aimed {channel})"
    return run


def run_autoflats_next_night(sc: Scenario, width: int = 512, height: int = 384) -> Run:
    """The second night: the same setup found once before, the panel 0.7-1.4x as bright.

    The first run fills a fresh exposure history; only the second run is counted.
    """
    with tempfile.TemporaryDirectory(prefix="autoflats-history-") as tmp:
        history = ExposureHistory(Path(tmp) / "history.json")
        run_autoflats(sc, width, height, history=history)
        brightness = random.Random(sc.seed + 17).uniform(0.7, 1.4)
        tonight = replace(sc, t_star_s=sc.t_star_s / brightness)
        return run_autoflats(tonight, width, height, history=history,
                             method="autoflats-next-night")


def run_nina_like(sc: Scenario, width: int = 512, height: int = 384) -> Run:
    """NINA's AutoExposureFlat search, re-implemented from DOMAIN.md.

    Target 50 % of 65535 (ZWO frames are 16-bit to NINA), +-10 % relative; sequencer
    defaults min 0 s, max 10 s; first exposure the middle of [min, max]; proportional
    step t x target/mean ignoring bias while the mean is within 10-90 %, bisection of
    [min, max] otherwise; pure bisection once R^2 < 0.95 after 3 points; 21 frames.
    """
    camera = make_camera(sc, width, height)
    scale = AduScale(camera.info.bit_depth)
    target16 = TARGET_FRACTION * 65535
    low, high = 0.0, 10.0
    exposure = (low + high) / 2
    exposures: list[float] = []
    points: list[tuple[float, float]] = []
    accepted: float | None = None
    buffer = np.empty(camera.frame_shape, dtype=np.uint16)
    for _ in range(21):
        actual = camera.clamp_exposure(exposure)
        frame = camera.capture(actual, out=buffer).frame
        exposures.append(actual)
        mean16 = frame_stats(frame, scale, camera.info.bayer_pattern).mean_16bit
        if abs(mean16 - target16) <= 0.1 * target16:
            accepted = actual
            break
        points.append((actual, mean16))
        if mean16 > target16:
            high = actual
        else:
            low = actual
        fraction = mean16 / 65535
        if 0.1 <= fraction <= 0.9 and not (len(points) >= 3 and _r_squared(points) < 0.95):
            exposure = actual * target16 / mean16
        else:
            exposure = (low + high) / 2
        exposure = min(max(exposure, 0.0), 10.0)
    run = _judge(camera, sc, "nina-like", exposures, accepted, "")
    camera.close()
    return run


def _r_squared(points: list[tuple[float, float]]) -> float:
    ts = np.array([p[0] for p in points])
    ms = np.array([p[1] for p in points])
    if np.ptp(ts) == 0:
        return 0.0
    slope, intercept = np.polyfit(ts, ms, 1)
    residual = float(np.sum((ms - (slope * ts + intercept)) ** 2))
    total = float(np.sum((ms - ms.mean()) ** 2))
    return 1.0 - residual / total if total > 0 else 0.0


def run_ekos_like(sc: Scenario, width: int = 512, height: int = 384,
                  max_frames: int = 50) -> Run:
    """Ekos' flat ADU search, re-implemented from DOMAIN.md.

    ADU = mean of the per-channel means (16-bit); first exposure 1 s; above 95 % of
    65535 -> t x 0.1; a nearly uniform (all clipped) frame -> t x 0.5; otherwise least
    squares ADU = a t + b over all frames so far, t = (target - b) / a, falling back
    to x1.25 / x0.75; tolerance +-1000 ADU; no give-up (capped here at 50 frames).
    """
    camera = make_camera(sc, width, height)
    info = camera.info
    scale = AduScale(info.bit_depth)
    target16 = TARGET_FRACTION * 65535
    exposure = 1.0
    exposures: list[float] = []
    points: list[tuple[float, float]] = []
    accepted: float | None = None
    buffer = np.empty(camera.frame_shape, dtype=np.uint16)
    for _ in range(max_frames):
        actual = camera.clamp_exposure(exposure)
        frame = camera.capture(actual, out=buffer).frame
        exposures.append(actual)
        stats = frame_stats(frame, scale, info.bayer_pattern)
        channels = stats.channel_means_native
        if channels:
            adu = scale.to_16bit(sum(channels.values()) / len(channels))
        else:
            adu = stats.mean_16bit
        if abs(adu - target16) <= 1000:
            accepted = actual
            break
        if adu > 0.95 * 65535:
            exposure = actual * 0.1
            continue
        if stats.clipped_fraction > 0.99:
            exposure = actual * 0.5
            continue
        points.append((actual, adu))
        next_s = None
        if len(points) >= 2 and len({p[0] for p in points}) >= 2:
            slope, intercept = np.polyfit([p[0] for p in points], [p[1] for p in points], 1)
            if slope > 0:
                next_s = (target16 - intercept) / slope
        if next_s is None or next_s <= 0:
            next_s = actual * (1.25 if adu < target16 else 0.75)
        exposure = next_s
    run = _judge(camera, sc, "ekos-like", exposures, accepted, "")
    camera.close()
    return run


METHODS: dict[str, Callable[[Scenario, int, int], Run]] = {
    "autoflats": run_autoflats,
    "autoflats-next-night": run_autoflats_next_night,
    "nina-like": run_nina_like,
    "ekos-like": run_ekos_like,
}

#: needed exposures of the fixed grid: 50 us .. 60 s
GRID_T_STAR_S = (50e-6, 120e-6, 300e-6, 1e-3, 3e-3, 0.01, 0.03, 0.1, 0.3, 1.0, 3.0, 10.0,
                 30.0, 60.0)


def fixed_grid() -> list[Scenario]:
    """14 exposures x 12/14/16-bit x mono/colour x bias 0 / 1 / 5 / 10 % (336)."""
    return [
        Scenario(t, bits, colour, bias, seed=i)
        for i, (t, bits, colour, bias) in enumerate(
            (t, bits, colour, bias)
            for t in GRID_T_STAR_S
            for bits in (12, 14, 16)
            for colour in (False, True)
            for bias in (0.0, 0.01, 0.05, 0.1)
        )
    ]


#: the harsh effects the harsh grid cycles through (with a scenario-fixed choice each)
_STEPS_S = (0.0, 20e-6, 0.0, 1e-4)
_OFFSETS_S = (0.0, 0.0, 15e-6, 0.0, 200e-6)
_JITTERS = (0.0, 0.01, 0.0, 0.02, 0.0)
_RESPONSES = ((0.0, 1.0), (0.0, 1.0), (0.05, 0.7), (0.1, 0.6))
_FACTORS = (1.0, 0.5, 1.0, 2.0, 1.0, 3.0)
_PANELS = ((0.6, 1.0, 0.75), (1.6, 1.0, 0.5), (0.5, 1.0, 1.6), (2.5, 1.0, 0.6))


def reachable(sc: Scenario, width: int = 64, height: int = 48) -> bool:
    """Whether any exposure the camera can apply puts the true mean within tolerance.

    An exposure grid can skip the target (both neighbouring steps miss it), and a
    hidden offset can make even the shortest exposure too bright: then stopping with
    the reason is the right answer. Judged on the simulator's truth.
    """
    camera = make_camera(sc, width, height)
    try:
        target = target_native(sc.bit_depth)
        t_star = true_t_star(camera, target)
        low_s = camera.config.min_exposure_s
        step = sc.exposure_step_s
        candidates = [max(t_star, low_s)]
        if step:
            below = low_s + step * math.floor(max(t_star - low_s, 0.0) / step)
            candidates = [below, below + step]
        return any(abs(camera.true_mean_native(t) - target) <= TOLERANCE * target
                   for t in candidates)
    finally:
        camera.close()


def harsh_grid() -> list[Scenario]:
    """The fixed grid with the harsh effects real sensors have, drawn per scenario.

    Exposure grids (20 us line times, 100 us steps), hidden exposure offsets, a light
    that wobbles 1-2 % from frame to frame, soft saturation that leaves the 1 % band
    at 60-70 % of full scale, a reported e-/ADU that is half, twice or three times the
    true one, and for colour sensors red- and blue-dominant panels. Each effect cycles
    with its own period, so the grid holds every combination often.
    """
    harsh = []
    for i, sc in enumerate(fixed_grid()):
        nonlinearity, limit = _RESPONSES[i % len(_RESPONSES)]
        harsh.append(replace(
            sc,
            exposure_step_s=_STEPS_S[i % len(_STEPS_S)],
            # an overhead a tenth of the needed exposure at most: larger, the target
            # could not be reached at all (the shortest exposure would be too bright)
            exposure_offset_s=min(_OFFSETS_S[i % len(_OFFSETS_S)], 0.1 * sc.t_star_s),
            flux_jitter=_JITTERS[i % len(_JITTERS)],
            nonlinearity=nonlinearity, linear_limit=limit,
            reported_e_per_adu_factor=_FACTORS[i % len(_FACTORS)],
            channel_ratio=_PANELS[(i // 2) % len(_PANELS)] if sc.colour else sc.channel_ratio,
        ))
    return harsh


def random_grid(count: int = 120, seed: int = 20240607) -> list[Scenario]:
    """A held-out grid: every parameter drawn at random (log-uniform t* 50 us..60 s).

    Gain, e-/ADU, read noise, PRNU, vignetting and colour balance vary too, so the
    solver cannot be tuned to one sensor.
    """
    rng = random.Random(seed)
    scenarios = []
    for i in range(count):
        bits = rng.choice((12, 14, 16))
        e0 = SENSORS[bits][0] * rng.uniform(0.7, 1.4)
        scenarios.append(Scenario(
            t_star_s=math.exp(rng.uniform(math.log(50e-6), math.log(60.0))),
            bit_depth=bits,
            colour=rng.random() < 0.5,
            bias_fraction=rng.uniform(0.0, 0.10),
            gain=rng.choice((0, 50, 100, 120, 139, 200)),
            e_per_adu0=e0,
            read_noise_e=rng.uniform(0.8, 3.5),
            prnu=rng.uniform(0.002, 0.01),
            vignetting=rng.uniform(0.05, 0.5),
            channel_ratio=(rng.uniform(0.3, 1.0), 1.0, rng.uniform(0.3, 1.0)),
            seed=1000 + i,
        ))
    return scenarios

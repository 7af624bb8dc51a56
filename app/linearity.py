"""Where a sensor's response stops being linear: an exposure ramp and its reading.

Flats must sit in the sensor's linear range or they calibrate badly (some sensors,
like the ASI1600 at unity gain, bend from about 30 % of full scale). The ramp:
find the exposure that gives about 20 % of full scale (the solver, a few frames),
then expose from 0.1x to 5x that, fit a straight line through the frames between
2 % and 20 % of full scale (least squares: bias and rate), and report the highest
level below which every frame lies within 1 % of the line (departure = shortfall
÷ signal). The safe target is 90 % of that limit, at most 50 %.

The ramp sees only what any camera gives (exposures and frame means): nothing here
asks the simulator for its truth.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass

from app import defaults
from app.adu import AduScale
from app.solver import ExposureSolver, SolverConfig, Verdict
from app.stats import frame_stats
from drivers.base import Camera

#: levels (share of full scale) of the frames the reference line is fitted through
REFERENCE_LOW, REFERENCE_HIGH = 0.02, 0.20
#: the ramp spans these multiples of the exposure that gives REFERENCE_HIGH
RAMP_LOW, RAMP_HIGH = 0.1, 5.0
RAMP_POINTS = 16
#: the safe target: this share of the linear limit, never above the usual 50 %
SAFE_SHARE = 0.9


class LinearityError(Exception):
    """The ramp could not be measured; the message says what to change."""


@dataclass(frozen=True, slots=True)
class RampPoint:
    """One ramp frame."""

    exposure_s: float
    mean_native: float
    mean_16bit: float
    clipped_fraction: float


@dataclass(frozen=True, slots=True)
class LinearityResult:
    """The ramp and what it says."""

    points: tuple[RampPoint, ...]
    bias_native: float
    rate_native_per_s: float
    linear_limit_native: float
    full_scale_native: int

    @property
    def linear_limit_percent(self) -> float:
        """The linear limit as a percentage of full scale."""
        return 100 * self.linear_limit_native / self.full_scale_native

    @property
    def safe_target_percent(self) -> float:
        """A flat target that stays inside the linear range."""
        return min(defaults.TARGET_PERCENT, SAFE_SHARE * self.linear_limit_percent)


def departures(points: list[RampPoint], full_scale_native: int
               ) -> tuple[float, float, list[float]]:
    """(bias, rate, departure per point) from the line through the reference frames."""
    reference = [p for p in points if REFERENCE_LOW * full_scale_native <= p.mean_native
                 <= REFERENCE_HIGH * full_scale_native and p.clipped_fraction == 0]
    if len(reference) < 2:
        raise LinearityError("too few ramp frames between 2 % and 20 % of full scale; "
                             "steady the light and run it again")
    n = len(reference)
    t_mean = sum(p.exposure_s for p in reference) / n
    m_mean = sum(p.mean_native for p in reference) / n
    sxx = sum((p.exposure_s - t_mean) ** 2 for p in reference)
    rate = sum((p.exposure_s - t_mean) * (p.mean_native - m_mean) for p in reference) / sxx
    bias = m_mean - rate * t_mean
    result = []
    for p in points:
        expected = rate * p.exposure_s
        result.append((expected - (p.mean_native - bias)) / expected if expected > 0 else 0.0)
    return bias, rate, result


def linear_limit(points: list[RampPoint], full_scale_native: int) -> LinearityResult:
    """Read the ramp: the highest level below which the response is within 1 % of linear."""
    ordered = sorted(points, key=lambda p: p.exposure_s)
    bias, rate, away = departures(ordered, full_scale_native)
    limit = None
    last_good = None
    for point, departure in zip(ordered, away, strict=True):
        if point.mean_native < REFERENCE_HIGH * full_scale_native:
            last_good = point
            continue
        if point.clipped_fraction > defaults.CLIPPED_SHARE_MAX or (
                abs(departure) > defaults.NONLINEAR_DEPARTURE):
            limit = _interpolate(last_good, point, bias, rate) if last_good else (
                point.mean_native)
            break
        last_good = point
    if limit is None:
        limit = max(p.mean_native for p in ordered if
                    p.clipped_fraction <= defaults.CLIPPED_SHARE_MAX)
    return LinearityResult(tuple(ordered), bias, rate, limit, full_scale_native)


def _interpolate(good: RampPoint, bad: RampPoint, bias: float, rate: float) -> float:
    """The level between two frames where the departure crosses the 1 % line."""
    def departure(p: RampPoint) -> float:
        expected = rate * p.exposure_s
        return (expected - (p.mean_native - bias)) / expected

    d_good, d_bad = departure(good), departure(bad)
    if bad.clipped_fraction > defaults.CLIPPED_SHARE_MAX or d_bad == d_good:
        return good.mean_native
    share = (defaults.NONLINEAR_DEPARTURE - d_good) / (d_bad - d_good)
    share = min(max(share, 0.0), 1.0)
    return good.mean_native + share * (bad.mean_native - good.mean_native)


def measure_linearity(camera: Camera, *, cancel: threading.Event | None = None,
                      on_point: Callable[[RampPoint], None] | None = None,
                      ramp_points: int = RAMP_POINTS) -> LinearityResult:
    """Run the ramp on an open camera at its current gain, offset and binning."""
    scale = AduScale(camera.info.bit_depth)
    full = scale.full_scale_native
    controls = camera.controls.exposure_s
    bayer = camera.info.bayer_pattern
    points: list[RampPoint] = []

    def take(exposure_s: float) -> RampPoint:
        taken = camera.capture(exposure_s, cancel=cancel)
        stats = frame_stats(taken.frame, scale, bayer)
        point = RampPoint(taken.exposure_s, stats.mean_native, stats.mean_16bit,
                          stats.clipped_fraction)
        points.append(point)
        if on_point is not None:
            on_point(point)
        return point

    solver = ExposureSolver(SolverConfig(
        target_native=REFERENCE_HIGH * full, tolerance_native=0.15 * REFERENCE_HIGH * full,
        full_scale_native=full, min_exposure_s=controls.minimum,
        max_exposure_s=min(controls.maximum, defaults.MAX_EXPOSURE_S),
        e_per_adu_native=camera.reported_e_per_adu()))
    exposure_s = solver.first_exposure()
    while True:
        point = take(exposure_s)
        step = solver.observe(point.exposure_s, point.mean_native, point.clipped_fraction)
        if step.verdict is Verdict.ACCEPT:
            break
        if step.verdict is not Verdict.NEXT:
            raise LinearityError(f"cannot find the ramp's start: {step.reason}")
        exposure_s = step.exposure_s
    base_s = point.exposure_s
    for i in range(ramp_points):
        share = RAMP_LOW + (RAMP_HIGH - RAMP_LOW) * i / (ramp_points - 1)
        wanted = min(max(base_s * share, controls.minimum), controls.maximum)
        if not any(abs(p.exposure_s - wanted) <= 1e-9 * wanted for p in points):
            take(wanted)
    return linear_limit(points, full)


def departure_from_line(points: list[tuple[float, float]], bias_native: float | None = None
                        ) -> tuple[float, float] | None:
    """(departure, level) of the brightest point from the line through the two dimmest.

    ``points`` are (exposure, mean) pairs at distinct exposures; a known bias counts as
    the point (0, bias). The departure is the brightest point's shortfall from the
    line, as a share of its signal above the line's bias; None with fewer than three
    points or too little spread (the brightest under 1.5x the dimmest's signal).
    """
    distinct: dict[float, float] = {}
    if bias_native is not None:
        distinct[0.0] = bias_native
    for exposure_s, mean in points:
        distinct.setdefault(round(exposure_s, 12), mean)
    if len(distinct) < 3:
        return None
    ordered = sorted(distinct.items(), key=lambda item: item[1])
    (t1, m1), (t2, m2), (t3, m3) = ordered[0], ordered[1], ordered[-1]
    if t2 == t1 or (m2 - m1) * (t2 - t1) <= 0:
        return None
    rate = (m2 - m1) / (t2 - t1)
    bias = m1 - rate * t1
    expected = rate * t3
    if expected <= 0 or (m3 - bias) < 1.5 * max(m1 - bias, 1e-9):
        return None
    return (expected - (m3 - bias)) / expected, m3

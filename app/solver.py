"""The exposure solver: from test frames to the exposure that hits the target.

The model is the sensor's: mean = bias + rate x t, linear until the full well or
the ADC clips. One frame well inside the linear range predicts the exposure:
t_next = t x (target - bias) / (mean - bias). Two frames at different exposures
give bias and rate exactly (least squares over every linear frame), so the bias
need not be known in advance. Frames that are clipped or barely above black only
bound the answer: the solver then brackets (geometric steps) and bisects in
log t. It stops as soon as a frame lands within tolerance, and says early when
the target is out of reach: clipped at the shortest exposure ("too bright") or
needing more than the longest ("too dark").

The solver sees only what a real camera gives: exposures, frame means, the clipped
share, and the exposure range. It is a plain state machine, easy to test.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import Enum

#: share of clipped pixels above which a frame counts as saturated
SATURATED_FRACTION = 0.001
#: mean above this share of full scale is treated as outside the linear range
LINEAR_CEILING = 0.85
#: the largest factor between one test exposure and the next
MAX_STEP = 1000.0
#: geometric step when a frame is clipped and nothing else is known
STEP_DOWN = 40.0
#: shot-noise signal estimates are trusted within this share of full scale: above
#: it pixel-response non-uniformity inflates them, below it read noise does
SHOT_SIGNAL_MIN = 0.001
SHOT_SIGNAL_MAX = 0.08


class Verdict(Enum):
    """What the solver wants next."""

    ACCEPT = "accept"
    NEXT = "next"
    TOO_BRIGHT = "too_bright"
    TOO_DARK = "too_dark"
    GAVE_UP = "gave_up"


@dataclass(frozen=True, slots=True)
class Step:
    """The solver's answer to a frame: accept it, try ``exposure_s``, or stop."""

    verdict: Verdict
    exposure_s: float
    reason: str


@dataclass(frozen=True, slots=True)
class Observation:
    """One test frame as the solver sees it."""

    exposure_s: float
    mean_native: float
    clipped_fraction: float
    shot_signal_native: float | None = None

    @property
    def saturated(self) -> bool:
        """Clipped pixels beyond hot-pixel level."""
        return self.clipped_fraction > SATURATED_FRACTION


@dataclass(frozen=True, slots=True)
class LinearFit:
    """mean = bias + rate x t, in native ADU."""

    bias_native: float
    rate_native_per_s: float
    fitted: bool  # False when the bias is an assumption, not measured

    def exposure_for(self, mean_native: float) -> float:
        """The exposure that gives ``mean_native``."""
        return (mean_native - self.bias_native) / self.rate_native_per_s

    def mean_at(self, exposure_s: float) -> float:
        """The mean the model predicts at ``exposure_s``."""
        return self.bias_native + self.rate_native_per_s * exposure_s


@dataclass(frozen=True, slots=True)
class SolverConfig:
    """What the solver aims for and within which limits."""

    target_native: float
    tolerance_native: float
    full_scale_native: float
    min_exposure_s: float
    max_exposure_s: float
    first_exposure_s: float | None = None
    bias_hint_native: float | None = None
    max_frames: int = 12

    def __post_init__(self) -> None:
        """Refuse a target or range the solver cannot work with."""
        if not 0 < self.target_native < self.full_scale_native:
            raise ValueError(
                f"target {self.target_native:g} must lie inside (0, "
                f"{self.full_scale_native:g}) native ADU"
            )
        if not 0 < self.tolerance_native < self.target_native:
            raise ValueError(f"tolerance {self.tolerance_native:g} ADU is not usable")
        if not 0 < self.min_exposure_s <= self.max_exposure_s:
            raise ValueError(
                f"exposure range {self.min_exposure_s:g}..{self.max_exposure_s:g} s "
                "is empty"
            )
        if self.max_frames < 1:
            raise ValueError("max_frames must be at least 1")


class ExposureSolver:
    """Feed it frames with :meth:`observe`; it answers with the next :class:`Step`."""

    def __init__(self, config: SolverConfig) -> None:
        self.config = config
        self.observations: list[Observation] = []

    # -- the plan ----------------------------------------------------------------
    def first_exposure(self) -> float:
        """Where to start: the hint, else the geometric middle of the usual range."""
        cfg = self.config
        start = cfg.first_exposure_s
        if start is None:
            low = max(cfg.min_exposure_s, 1e-4)
            high = min(cfg.max_exposure_s, 30.0)
            start = math.sqrt(low * high) if high > low else cfg.min_exposure_s
        return self._clamp(start)

    def observe(
        self,
        exposure_s: float,
        mean_native: float,
        clipped_fraction: float,
        shot_signal_native: float | None = None,
    ) -> Step:
        """Take in one test frame and decide.

        ``shot_signal_native`` is the signal implied by the frame's shot noise (see
        :func:`app.stats.shot_noise_signal_native`), when the camera reports its
        e-/ADU; it lets a single frame tell signal from bias.
        """
        cfg = self.config
        obs = Observation(exposure_s, mean_native, clipped_fraction, shot_signal_native)
        self.observations.append(obs)
        error = mean_native - cfg.target_native
        if not obs.saturated and abs(error) <= cfg.tolerance_native:
            return Step(Verdict.ACCEPT, exposure_s,
                        f"mean {mean_native:.1f} ADU is within tolerance")
        at_min = exposure_s <= cfg.min_exposure_s * 1.0001
        at_max = exposure_s >= cfg.max_exposure_s * 0.9999
        if (obs.saturated or error > 0) and at_min:
            return Step(Verdict.TOO_BRIGHT, exposure_s,
                        "too bright even at the camera's shortest exposure "
                        f"({cfg.min_exposure_s:g} s): dim the panel or add a diffuser")
        if error < 0 and not obs.saturated and at_max:
            return Step(Verdict.TOO_DARK, exposure_s,
                        f"too dark even at the longest exposure ({cfg.max_exposure_s:g} s): "
                        "brighten the panel or allow longer flats")
        if len(self.observations) >= cfg.max_frames:
            return Step(Verdict.GAVE_UP, exposure_s,
                        f"no exposure found in {cfg.max_frames} frames: the light may be "
                        "unsteady or the sensor non-linear; check the panel")
        next_s, why = self._next_exposure()
        fit = self.fit()
        if (
            fit is not None
            and fit.fitted
            and next_s >= cfg.max_exposure_s * 0.9999
            and fit.exposure_for(cfg.target_native - cfg.tolerance_native)
            > cfg.max_exposure_s * 1.5
        ):
            needed = fit.exposure_for(cfg.target_native)
            return Step(Verdict.TOO_DARK, next_s,
                        f"too dark: the target needs about {needed:.3g} s, more than the "
                        f"longest allowed {cfg.max_exposure_s:g} s; brighten the panel "
                        "or allow longer flats")
        return Step(Verdict.NEXT, next_s, why)

    # -- the model ---------------------------------------------------------------
    def _linear(self) -> list[Observation]:
        ceiling = LINEAR_CEILING * self.config.full_scale_native
        return [o for o in self.observations if not o.saturated and o.mean_native <= ceiling]

    def _bias_upper_bound(self) -> float:
        """The bias cannot exceed the darkest frame's mean."""
        return min(o.mean_native for o in self.observations)

    def fit(self) -> LinearFit | None:
        """The linear model from the frames so far, or None without a usable frame."""
        points = self._linear()
        if not points:
            return None
        min_spread = 0.003 * self.config.full_scale_native
        means = [p.mean_native for p in points]
        if len(points) >= 2 and max(means) - min(means) >= min_spread:
            fit = _least_squares(points)
            if fit is not None:
                bias = min(max(fit.bias_native, 0.0), self._bias_upper_bound())
                best = max(points, key=lambda p: p.mean_native)
                rate = (best.mean_native - bias) / best.exposure_s
                if rate > 0:
                    return LinearFit(bias, rate, fitted=True)
        bias = self._bias_prior()
        best = max(points, key=lambda p: p.mean_native)
        signal = best.mean_native - bias
        if signal <= 0:
            return None
        return LinearFit(bias, signal / best.exposure_s, fitted=False)

    def _bias_prior(self) -> float:
        """The bias assumed while only one linear frame is known.

        A remembered bias (same camera, gain, offset) wins; else the photon-transfer
        estimate of the frame with the least signal still clear of read noise
        (pixel-response non-uniformity inflates it at high signal); else 0.
        """
        hint = self.config.bias_hint_native
        upper = self._bias_upper_bound()
        if hint is not None:
            return min(max(hint, 0.0), upper)
        full = self.config.full_scale_native
        usable = [
            o for o in self._linear()
            if o.shot_signal_native is not None
            and SHOT_SIGNAL_MIN * full <= o.shot_signal_native <= SHOT_SIGNAL_MAX * full
        ]
        if usable:
            best = min(usable, key=lambda o: o.shot_signal_native or 0.0)
            assert best.shot_signal_native is not None
            return min(max(best.mean_native - best.shot_signal_native, 0.0), upper)
        return 0.0

    def _bracket(self) -> tuple[float | None, float | None]:
        """(longest exposure below target, shortest exposure above it)."""
        cfg = self.config
        below = [o.exposure_s for o in self.observations
                 if not o.saturated and o.mean_native < cfg.target_native]
        above = [o.exposure_s for o in self.observations
                 if o.saturated or o.mean_native > cfg.target_native]
        return (max(below) if below else None, min(above) if above else None)

    def _next_exposure(self) -> tuple[float, str]:
        cfg = self.config
        low, high = self._bracket()
        last = self.observations[-1].exposure_s
        fit = self.fit()
        if fit is not None and fit.rate_native_per_s > 0:
            predicted = fit.exposure_for(cfg.target_native)
            predicted = min(max(predicted, last / MAX_STEP), last * MAX_STEP)
            inside = (low is None or predicted > low) and (high is None or predicted < high)
            if inside:
                how = "fitted bias and rate" if fit.fitted else "one frame, assumed bias"
                return self._clamp(predicted), (
                    f"linear prediction ({how}: bias {fit.bias_native:.1f} ADU, "
                    f"{fit.rate_native_per_s:.4g} ADU/s)"
                )
        if low is not None and high is not None:
            return self._clamp(math.sqrt(low * high)), "bisecting in log t"
        if high is not None:
            return self._clamp(high / STEP_DOWN), "clipped: stepping down"
        assert low is not None
        return self._clamp(low * MAX_STEP), "no signal: stepping up"

    def _clamp(self, exposure_s: float) -> float:
        return min(max(exposure_s, self.config.min_exposure_s), self.config.max_exposure_s)


def _least_squares(points: list[Observation]) -> LinearFit | None:
    """Ordinary least squares mean = a + b t over ``points``."""
    n = len(points)
    ts = [p.exposure_s for p in points]
    ms = [p.mean_native for p in points]
    t_mean = sum(ts) / n
    m_mean = sum(ms) / n
    sxx = sum((t - t_mean) ** 2 for t in ts)
    if sxx <= 0:
        return None
    slope = sum((t - t_mean) * (m - m_mean) for t, m in zip(ts, ms, strict=True)) / sxx
    if slope <= 0:
        return None
    return LinearFit(m_mean - slope * t_mean, slope, fitted=True)

"""The exposure solver: from test frames to the exposure that hits the target.

The model is the sensor's: mean = bias + rate x t, linear until the full well or
the ADC clips. Two frames at different exposures, both inside the linear range,
give bias and rate exactly (least squares over every linear frame), so the third
frame lands on the target. The solver's work is to make the first two count:

* **One frame.** The frame's shot noise tells its signal apart from the bias
  (single-frame photon transfer, :func:`app.stats.shot_noise_signal_native`). That
  estimate carries read noise and pixel-response non-uniformity (PRNU); with the
  camera's e-/ADU the solver bounds both from generous priors (read noise up to
  ``read_noise_max_e``, PRNU up to ``prnu_max``) and aims with the middle of the
  interval, but never so low that the worst case would clip: the next frame then
  lands on the target or, at worst, inside the linear range, where two frames fix
  bias and rate.
* **Clipped frames.** A frame that is only partly clipped still bounds the signal
  (the unclipped mean is a lower bound, the clipped share says by how much it
  falls short); a fully clipped one only says "shorter". The solver then jumps far
  down (to the camera's shortest exposure from a usual first guess), because a frame
  that clips again costs a frame, while a dim one still measures bias and rate.
* **Brackets.** Once frames lie on both sides of the target, predictions outside the
  bracket are replaced by bisection in log t.

It stops as soon as a frame lands within tolerance and says early when the target
is out of reach: clipped at the shortest exposure ("too bright") or needing more
than the longest ("too dark").

The solver sees only what a real camera gives: exposures, frame means, the clipped
share, the shot-noise signal estimate, the reported e-/ADU and the exposure range.
It is a plain state machine, easy to test.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import Enum

from app import defaults

#: share of clipped pixels above which a frame counts as saturated
SATURATED_FRACTION = defaults.CLIPPED_SHARE_MAX
#: a frame with more than this share clipped tells nothing but "shorter"
FULLY_CLIPPED_FRACTION = 0.5
#: mean above this share of full scale is treated as outside the linear range
LINEAR_CEILING = defaults.LINEAR_CEILING_SHARE
#: the largest factor between one test exposure and the next
MAX_STEP = 1000.0
#: how far down to jump after a fully clipped frame with nothing else known
STEP_DOWN = 1000.0
#: the next frame may overshoot the target signal by at most this factor in the
#: worst case of the signal estimate (still linear, so two frames fix the model)
MAX_OVERSHOOT = 1.4
#: shot-noise signal estimates are trusted within this share of full scale when the
#: e-/ADU is unknown (no correction possible): above it PRNU inflates them, below it
#: read noise does
SHOT_SIGNAL_MIN = 0.001
SHOT_SIGNAL_MAX = 0.08
#: a prediction must lie this factor inside the bracket's ends to be tried
BRACKET_MARGIN = 1.001
#: two linear frames must differ by this share of full scale to fit bias and rate
MIN_SPREAD = 0.0005


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
class SignalEstimate:
    """One frame's signal above bias (native ADU): a best value and hard bounds."""

    best: float
    low: float
    high: float


@dataclass(frozen=True, slots=True)
class SolverConfig:
    """What the solver aims for and within which limits.

    ``e_per_adu_native`` is the camera's reported electrons per native ADU at the
    session's gain; with it the solver corrects the shot-noise signal estimate for
    read noise (at most ``read_noise_max_e``) and PRNU (at most ``prnu_max``).
    ``first_exposure_s`` overrides the solver's first guess, which is the geometric
    point ``first_position`` of the way from ``search_low_s`` to ``search_high_s``
    (clamped to the camera's range): the range where flats usually are.
    """

    target_native: float
    tolerance_native: float
    full_scale_native: float
    min_exposure_s: float
    max_exposure_s: float
    first_exposure_s: float | None = None
    bias_hint_native: float | None = None
    max_frames: int = 12
    e_per_adu_native: float | None = None
    read_noise_max_e: float = 3.0
    prnu_max: float = 0.01
    linear_ceiling_native: float | None = None
    search_low_s: float = 5e-5
    search_high_s: float = 60.0
    first_position: float = 0.45

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
        if self.e_per_adu_native is not None and not self.e_per_adu_native > 0:
            raise ValueError("e_per_adu_native must be positive")
        if self.read_noise_max_e < 0 or not 0 <= self.prnu_max < 0.2:
            raise ValueError("read_noise_max_e must be >= 0 and prnu_max in [0, 0.2)")
        if not 0 < self.search_low_s < self.search_high_s:
            raise ValueError("search_low_s must be positive and below search_high_s")
        if not 0 <= self.first_position <= 1:
            raise ValueError("first_position must lie in [0, 1]")


class ExposureSolver:
    """Feed it frames with :meth:`observe`; it answers with the next :class:`Step`."""

    def __init__(self, config: SolverConfig) -> None:
        self.config = config
        self.observations: list[Observation] = []

    # -- the plan ----------------------------------------------------------------
    def first_exposure(self) -> float:
        """Where to start: the hint, else a point in the usual range of flats.

        The point sits above the geometric middle: a first frame that is too dim
        still measures (photon transfer, then two frames fix the model), one that
        clips costs a jump down, and short exposures are where panels are too bright.
        """
        cfg = self.config
        start = cfg.first_exposure_s
        if start is None:
            low = max(cfg.min_exposure_s, cfg.search_low_s)
            high = min(cfg.max_exposure_s, cfg.search_high_s)
            if high > low:
                start = low * (high / low) ** cfg.first_position
            else:
                start = min(max(cfg.search_low_s, cfg.min_exposure_s), cfg.max_exposure_s)
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
                        "too bright even at the shortest exposure allowed "
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
        cfg = self.config
        ceiling = cfg.linear_ceiling_native
        if ceiling is None or ceiling < cfg.target_native:
            # No measured limit, or a target the user keeps above it: the frames near
            # the target must still count (else nothing does), up to the usual ceiling.
            ceiling = LINEAR_CEILING * cfg.full_scale_native
        return [o for o in self.observations if not o.saturated and o.mean_native <= ceiling]

    def _bias_upper_bound(self) -> float:
        """The bias cannot exceed the darkest frame's mean."""
        return min(o.mean_native for o in self.observations)

    def _two_point_fit(self) -> LinearFit | None:
        """Bias and rate measured from two or more linear frames, else None."""
        points = self._linear()
        if len(points) < 2:
            return None
        means = [p.mean_native for p in points]
        if max(means) - min(means) < MIN_SPREAD * self.config.full_scale_native:
            return None
        fit = _least_squares(points)
        if fit is None:
            return None
        bias = min(max(fit.bias_native, 0.0), self._bias_upper_bound())
        best = max(points, key=lambda p: p.mean_native)
        rate = (best.mean_native - bias) / best.exposure_s
        return LinearFit(bias, rate, fitted=True) if rate > 0 else None

    def fit(self) -> LinearFit | None:
        """The linear model from the frames so far, or None without a usable frame."""
        fitted = self._two_point_fit()
        if fitted is not None:
            return fitted
        points = self._linear()
        if not points:
            return None
        best = max(points, key=lambda p: p.mean_native)
        signal = self.signal_estimate(best)
        if signal.best <= 0:
            return None
        return LinearFit(best.mean_native - signal.best, signal.best / best.exposure_s,
                         fitted=False)

    def signal_estimate(self, obs: Observation) -> SignalEstimate:
        """The signal above bias in one frame, from the bias hint or its shot noise.

        Bounds: the bias lies in [0, darkest mean], so the signal lies in
        [mean - darkest mean, mean]. The raw photon-transfer estimate is
        signal + e-/ADU x read noise^2 + e-/ADU x PRNU^2 x signal^2 (in native ADU
        with e-/ADU in electrons): it is an upper bound, and with the e-/ADU known
        the priors give a lower bound too.
        """
        cfg = self.config
        mean = obs.mean_native
        low = max(mean - self._bias_upper_bound(), 0.0)
        high = max(mean, 0.0)
        if cfg.bias_hint_native is not None:
            exact = min(max(mean - cfg.bias_hint_native, low), high)
            return SignalEstimate(exact, exact, exact)
        raw = obs.shot_signal_native
        if raw is None or not math.isfinite(raw):
            return SignalEstimate(high, low, high)
        gain = cfg.e_per_adu_native
        if gain is None:
            # Uncorrectable: trust it only where read noise and PRNU are small.
            # Uncorrectable: read noise and PRNU only inflate it, so it is an upper
            # bound; trusted as the best value where both are small.
            full = cfg.full_scale_native
            if raw >= SHOT_SIGNAL_MIN * full:
                high = max(min(high, raw), low)
            best = high
            if SHOT_SIGNAL_MIN * full <= raw <= SHOT_SIGNAL_MAX * full:
                best = min(max(raw, low), high)
            return SignalEstimate(best, low, high)
        read_term = cfg.read_noise_max_e**2 / gain  # native ADU
        prnu_k = gain * cfg.prnu_max**2  # per native ADU
        raw_high = max(raw, 0.0)
        raw_low = _solve_signal(raw - read_term, prnu_k)
        low = max(low, min(raw_low, high))
        high = max(min(high, raw_high), low)
        best = _solve_signal(raw - read_term / 2, prnu_k / 2)
        return SignalEstimate(min(max(best, low), high), low, high)

    def bracket(self) -> tuple[float | None, float | None]:
        """(longest exposure below target, shortest exposure above it), None when unknown."""
        return self._bracket()

    def _bracket(self) -> tuple[float | None, float | None]:
        """(longest exposure below target, shortest exposure above it)."""
        cfg = self.config
        below = [o.exposure_s for o in self.observations
                 if not o.saturated and o.mean_native < cfg.target_native]
        above = [o.exposure_s for o in self.observations
                 if o.saturated or o.mean_native > cfg.target_native]
        return (max(below) if below else None, min(above) if above else None)

    def _one_frame_prediction(self) -> tuple[float, str] | None:
        """Aim from the brightest linear frame alone, safe against its worst case."""
        cfg = self.config
        points = self._linear()
        if not points:
            return None
        best = max(points, key=lambda p: p.mean_native)
        signal = self.signal_estimate(best)
        needed = cfg.target_native - (best.mean_native - signal.best)
        if signal.high <= 0 or needed <= 0:
            return None
        aim = max(signal.best, signal.high / MAX_OVERSHOOT)
        if aim <= 0:
            return None
        ratio = (cfg.target_native - (best.mean_native - aim)) / aim
        return best.exposure_s * ratio, (
            f"one frame: signal {signal.best:.1f} ADU "
            f"(bounds {signal.low:.1f}..{signal.high:.1f}) above bias "
            f"{best.mean_native - signal.best:.1f} ADU"
        )

    def _partial_clip_prediction(self) -> tuple[float, str] | None:
        """Aim from a partly clipped frame: its mean understates the signal."""
        cfg = self.config
        partial = [o for o in self.observations
                   if o.saturated and o.clipped_fraction <= FULLY_CLIPPED_FRACTION]
        if not partial:
            return None
        obs = min(partial, key=lambda o: o.exposure_s)
        bias = self._bias_guess()
        seen = obs.mean_native - bias
        if seen <= 0:
            return None
        # Clipped pixels would have read more: a share f of them, each short by a
        # fair part of the signal, so the full signal is roughly seen x (1 + f).
        signal = seen * (1 + obs.clipped_fraction)
        return obs.exposure_s * (cfg.target_native - bias) / signal, (
            f"partly clipped ({obs.clipped_fraction:.1%}): scaling down from the "
            "unclipped mean"
        )

    def _bias_guess(self) -> float:
        """The bias for frames the model cannot use: hint, else the darkest frame's."""
        cfg = self.config
        if cfg.bias_hint_native is not None:
            return cfg.bias_hint_native
        points = self._linear()
        if not points:
            return 0.0
        darkest = min(points, key=lambda p: p.mean_native)
        estimate = self.signal_estimate(darkest)
        return max(darkest.mean_native - estimate.best, 0.0)

    def _next_exposure(self) -> tuple[float, str]:
        cfg = self.config
        low, high = self._bracket()
        last = self.observations[-1].exposure_s
        candidates: list[tuple[float, str] | None] = []
        fitted = self._two_point_fit()
        if fitted is not None:
            candidates.append((fitted.exposure_for(cfg.target_native), (
                f"linear fit: bias {fitted.bias_native:.1f} ADU, "
                f"{fitted.rate_native_per_s:.4g} ADU/s"
            )))
        candidates += [self._one_frame_prediction(), self._partial_clip_prediction()]
        for candidate in candidates:
            if candidate is None:
                continue
            predicted, why = candidate
            if not (predicted > 0 and math.isfinite(predicted)):
                continue
            predicted = min(max(predicted, last / MAX_STEP), last * MAX_STEP)
            # Strictly inside the bracket: a camera that rounds exposures to a grid can
            # apply a hair more (or less) than asked, which must not repeat a frame.
            inside = ((low is None or predicted > low * BRACKET_MARGIN)
                      and (high is None or predicted < high / BRACKET_MARGIN))
            if inside:
                return self._clamp(predicted), why
        if low is not None and high is not None:
            return self._clamp(math.sqrt(low * high)), "bisecting in log t"
        if high is not None:
            return self._clamp(high / STEP_DOWN), "clipped: jumping down"
        assert low is not None
        return self._clamp(low * MAX_STEP), "no signal: stepping up"

    def _clamp(self, exposure_s: float) -> float:
        return min(max(exposure_s, self.config.min_exposure_s), self.config.max_exposure_s)


@dataclass(frozen=True, slots=True)
class SpeedChoice:
    """A camera's listed exposure chosen by the model, with the level it predicts."""

    exposure_s: float
    predicted_native: float
    within: bool


def choose_from_list(fit: LinearFit, choices: tuple[float, ...], target_native: float,
                     tolerance_native: float, ceiling_native: float) -> SpeedChoice | None:
    """The listed exposure whose predicted level is nearest the target.

    For cameras with a discrete list (a DSLR's shutter speeds, 26 % apart in 1/3
    stops): exposures that would leave the linear range are avoided while another
    one stays inside it. None for an empty list.
    """
    if not choices:
        return None
    inside = [c for c in choices if fit.mean_at(c) <= ceiling_native] or [min(choices)]
    best = min(inside, key=lambda c: abs(fit.mean_at(c) - target_native))
    predicted = fit.mean_at(best)
    return SpeedChoice(best, predicted, abs(predicted - target_native) <= tolerance_native)


def _solve_signal(excess: float, k: float) -> float:
    """The signal s >= 0 with s + k s^2 = ``excess`` (0 when ``excess`` <= 0)."""
    if excess <= 0:
        return 0.0
    if k <= 0:
        return excess
    return 2 * excess / (1 + math.sqrt(1 + 4 * k * excess))


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

"""The simulated sensor's physics, free of threads and camera state.

Signal chain per pixel: photo-electron rate = flux x vignetting x pixel response
non-uniformity (PRNU) x dust donuts x the CFA channel's response; shot noise
(Poisson, normal approximation once counts are large) and read noise; dark
current; full-well clipping; conversion to ADU at e-/ADU(gain); the sensor's
response curve (below); bias from the offset; ADC clipping, quantisation to the
native bit depth and MSB alignment into RAW16.

Response curve. With F the native ADC full scale (2^bits - 1), x = s / F the
linear signal s (ADU above bias) as a share of full scale, n = ``nonlinearity`` and
L = ``linear_limit``, the recorded signal is F * y(x) with::

    y(x) = x                                 for x <= k (the knee)
    y(x) = k + c * ln(1 + (x - k) / c)       for x > k

where c > 0 is the one value that makes y(1) = 1 - n (found by bisection: the
left side grows strictly with c), and the knee k <= min(L, (1 - n)^2) is placed so
that the shortfall reaches exactly 1 % at x = L (bisection again: the shortfall at
L falls as the knee moves up), so L is where the response leaves the 1 % band, as
``autoflats linearity`` measures it (an ASI1600 at unity gain: L about 0.3).
y is strictly increasing (y' = 1 / (1 + (x - k) / c) > 0), has a continuous first
derivative (slope 1 on both sides of the knee) and is concave, so the shortfall
(x - y) / x never falls as x grows: 0 up to the knee, 1 % at L, exactly n at full
scale; y keeps rising above x = 1 without bound, so the ADC (or the full well)
still clips. (Where the curve cannot bend by 1 % as early as L, it bends from 0;
with n <= 1 % the shortfall never reaches 1 %.) With n = 0, y(x) = x.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from drivers.sim_config import LINEAR_TOLERANCE, SimConfig, SimFaults

FloatArray = npt.NDArray[np.float32]
Float64Array = npt.NDArray[np.float64]
#: below this mean signal (e-) shot noise is drawn from a Poisson law, above it from
#: the normal approximation (same mean and variance, four times faster)
POISSON_BELOW_E = 3.0


@dataclass(frozen=True, slots=True)
class Response:
    """The sensor's response y(x) on the ADU scale (module docstring); linear when c is 0."""

    knee: float
    c: float

    @classmethod
    def for_config(cls, nonlinearity: float, linear_limit: float) -> Response:
        """The curve with shortfall ``nonlinearity`` at full scale whose shortfall reaches
        1 % exactly at ``linear_limit`` (where the curve can bend that much)."""
        if nonlinearity <= 0:
            return cls(knee=math.inf, c=0.0)
        latest = cls._with_knee(nonlinearity, min(linear_limit, (1.0 - nonlinearity) ** 2))
        if nonlinearity <= LINEAR_TOLERANCE or linear_limit >= 1.0:
            return latest

        def shortfall(response: Response) -> float:
            return float((linear_limit - response(linear_limit)) / linear_limit)

        earliest = cls._with_knee(nonlinearity, 0.0)
        if shortfall(earliest) <= LINEAR_TOLERANCE:
            return earliest  # it cannot bend that early: bend from the start
        low, high = 0.0, latest.knee  # the shortfall at L falls as the knee moves up
        for _ in range(60):
            mid = (low + high) / 2
            if shortfall(cls._with_knee(nonlinearity, mid)) > LINEAR_TOLERANCE:
                low = mid
            else:
                high = mid
        return cls._with_knee(nonlinearity, high)

    @classmethod
    def _with_knee(cls, nonlinearity: float, knee: float) -> Response:
        """The curve bending from ``knee`` with y(1) = 1 - nonlinearity."""
        span, rise = 1.0 - knee, 1.0 - nonlinearity - knee
        lo, hi = math.log(1e-300), math.log(1e300)
        for _ in range(200):  # bisection on log c: c * log1p(span / c) grows with c
            mid = (lo + hi) / 2
            c = math.exp(mid)
            if c * math.log1p(span / c) < rise:
                lo = mid
            else:
                hi = mid
        return cls(knee=knee, c=math.exp((lo + hi) / 2))

    @property
    def is_linear(self) -> bool:
        """Whether y(x) = x everywhere."""
        return math.isinf(self.knee)

    def __call__(self, x: Float64Array | float) -> Float64Array:
        """y(x) for shares of full scale (float64, vectorised)."""
        xs = np.asarray(x, dtype=np.float64)
        if self.is_linear:
            return xs.copy()
        above = np.maximum(xs - self.knee, 0.0)
        curved = self.knee + self.c * np.log1p(above / self.c)
        return np.where(xs > self.knee, curved, xs)

    def apply_adu(self, signal: FloatArray, full_scale: float) -> None:
        """Apply y in place to ``signal`` in ADU above bias (float32)."""
        if self.is_linear:
            return
        knee, c = np.float32(self.knee * full_scale), np.float32(self.c * full_scale)
        signal -= knee
        bent = signal > 0
        np.multiply(signal, np.float32(1) / c, out=signal, where=bent)
        np.log1p(signal, out=signal, where=bent)
        np.multiply(signal, c, out=signal, where=bent)
        signal += knee


def exposure_on_grid(cfg: SimConfig, exposure_s: float) -> float:
    """The exposure the sensor applies: ``exposure_s`` rounded to the line-time grid.

    applied = min + step x round((requested - min) / step), kept within the range.
    """
    step, low = cfg.exposure_step_s, cfg.min_exposure_s
    if step <= 0:
        return exposure_s
    steps = round((exposure_s - low) / step)
    most = math.floor((cfg.max_exposure_s - low) / step + 1e-9)
    return low + step * min(max(steps, 0), most)


@dataclass(frozen=True, slots=True)
class Light:
    """The light one frame sees, fixed when its exposure starts."""

    rate_e_s: float          # e-/s/pixel at the field centre (binning, drift, jitter in)
    integration_s: float     # applied exposure + the sensor's hidden offset
    flicker: FloatArray | None  # per-row factor of a PWM source, or None
    #: (r, g, b) factors of a coloured light on top of ``channel_ratio`` (colour only)
    channel_factors: tuple[float, float, float] | None = None


@dataclass(frozen=True, slots=True)
class Readout:
    """The camera settings one frame is rendered with."""

    gain: int
    offset: int
    binning: int


def fixed_pattern(cfg: SimConfig, height: int, width: int) -> FloatArray:
    """Vignetting x PRNU x dust x CFA response, float32 (height, width).

    Drawn from ``pattern_seed``: the same simulated sensor in every run.
    """
    rng = np.random.default_rng(cfg.pattern_seed)
    y = np.linspace(-1.0, 1.0, height, dtype=np.float32)[:, None]
    x = np.linspace(-1.0, 1.0, width, dtype=np.float32)[None, :]
    aspect = height / width
    r2 = (x * x + (y * aspect) ** 2) / np.float32(1 + aspect**2)
    pattern: FloatArray = (np.float32(1.0) - np.float32(cfg.vignetting) * r2).astype(
        np.float32, copy=False)
    if cfg.prnu:
        prnu = rng.standard_normal((height, width), dtype=np.float32)
        prnu *= np.float32(cfg.prnu)
        prnu += np.float32(1.0)
        pattern *= prnu
        del prnu
    for _ in range(cfg.dust_count):
        _add_dust(pattern, rng)
    if cfg.bayer is not None:
        r, g, b = cfg.channel_ratio
        ratios = {"R": r / g, "G": 1.0, "B": b / g}
        for dy in (0, 1):
            for dx in (0, 1):
                channel = cfg.bayer[2 * dy + dx]
                pattern[dy::2, dx::2] *= np.float32(ratios[channel])
    return pattern


def _add_dust(pattern: FloatArray, rng: np.random.Generator) -> None:
    """Multiply in one dust donut: a darker ring with a lighter centre."""
    height, width = pattern.shape
    radius = float(rng.uniform(0.01, 0.03)) * width
    cy = float(rng.uniform(radius, height - radius))
    cx = float(rng.uniform(radius, width - radius))
    depth = float(rng.uniform(0.04, 0.15))
    y0, y1 = int(max(cy - radius, 0)), int(min(cy + radius + 1, height))
    x0, x1 = int(max(cx - radius, 0)), int(min(cx + radius + 1, width))
    yy = np.arange(y0, y1, dtype=np.float32)[:, None] - np.float32(cy)
    xx = np.arange(x0, x1, dtype=np.float32)[None, :] - np.float32(cx)
    rho = np.sqrt(xx * xx + yy * yy) / np.float32(radius)
    ring = np.exp(-(((rho - 0.7) / 0.18) ** 2)) * np.float32(depth)
    ring += np.exp(-((rho / 0.35) ** 2)) * np.float32(depth * 0.4)
    ring[rho > 1] = 0
    pattern[y0:y1, x0:x1] *= np.float32(1.0) - ring


def flicker_rows(
    faults: SimFaults, start_s: float, exposure_s: float, readout_s: float, rows: int
) -> FloatArray | None:
    """Per-row light factor of a PWM source seen through a rolling shutter."""
    if faults.flicker_hz <= 0 or faults.flicker_duty >= 1:
        return None
    period = 1.0 / faults.flicker_hz
    on = faults.flicker_duty * period
    starts = start_s + np.arange(rows, dtype=np.float64) * (readout_s / rows)

    def lit(t: Float64Array) -> Float64Array:
        cycles = np.floor(t / period)
        return cycles * on + np.minimum(t - cycles * period, on)

    fraction = (lit(starts + exposure_s) - lit(starts)) / (faults.flicker_duty * exposure_s)
    return fraction.astype(np.float32)


def mean_electrons(cfg: SimConfig, row_means: Float64Array, light: Light,
                   binning: int) -> float:
    """The frame's expected mean in e- before noise (chooses the shot-noise law)."""
    rows = row_means if light.flicker is None else row_means * light.flicker
    signal = float(rows.mean()) * light.rate_e_s * light.integration_s
    return signal + cfg.dark_current_e_s * binning**2 * light.integration_s


def render_band(
    cfg: SimConfig, response: Response, pattern: FloatArray, light: Light,
    readout: Readout, rows: slice, poisson: bool, rng: np.random.Generator,
    out: npt.NDArray[np.uint16],
) -> None:
    """Render the pattern's ``rows`` of one frame into ``out`` (the same rows, RAW16)."""
    binning = readout.binning
    electrons = pattern[rows] * np.float32(light.rate_e_s * light.integration_s)
    if light.flicker is not None:
        electrons *= light.flicker[rows, None]
    if light.channel_factors is not None and cfg.bayer is not None:
        factors = dict(zip("RGB", light.channel_factors, strict=True))
        first = rows.start or 0
        for dy in (0, 1):
            for dx in (0, 1):
                # the band's rows on this Bayer row parity start at (dy - first) % 2
                electrons[(dy - first) % 2::2, dx::2] *= np.float32(
                    factors[cfg.bayer[2 * dy + dx]])
    electrons += np.float32(cfg.dark_current_e_s * binning**2 * light.integration_s)
    read_noise_e = cfg.read_noise_e * binning
    noise = rng.standard_normal(electrons.shape, dtype=np.float32)
    if poisson:
        electrons = rng.poisson(electrons).astype(np.float32)
        noise *= np.float32(read_noise_e)
    else:
        sigma = electrons + np.float32(read_noise_e**2)
        np.sqrt(sigma, out=sigma)
        noise *= sigma
        del sigma
    electrons += noise
    del noise
    np.minimum(electrons, np.float32(cfg.full_well_e * binning**2), out=electrons)
    electrons *= np.float32(1 / cfg.e_per_adu_at(readout.gain))
    full_scale = 2**cfg.bit_depth - 1
    response.apply_adu(electrons, full_scale)
    electrons += np.float32(cfg.bias_native(readout.offset))
    np.rint(electrons, out=electrons)
    np.clip(electrons, 0, full_scale, out=electrons)
    band = out[rows]
    np.copyto(band, electrons, casting="unsafe")
    band <<= np.uint16(16 - cfg.bit_depth)

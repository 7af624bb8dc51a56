"""The twilight sky for flats: the sun's altitude, a model of the sky's light, and the
exposure whose *integrated* light hits the target.

Sky model. The signal rate r_f(t) (native ADU/s above bias) of filter f is
exponential in a variable x(t)::

    ln r_f(t) = c_f + k * x(t)

with x = seconds (the measured trend alone, no site) or x = the sun's altitude in
degrees (a site is known: then the rate follows the sun, so latitude and season set
how fast the twilight runs, as N.I.N.A.'s tau does, but measured). k is shared by
every filter, c_f is each filter's light (its throughput); a filter not yet measured
takes the last measured filter's c plus ln(throughput ratio) when throughputs are
known. Over one frame x(t) is taken as linear, so the rate in time is exponential
with kappa = k * dx/dt and a frame of exposure e starting at t0 collects::

    S = r(t0) * (exp(kappa * e) - 1) / kappa

which :func:`exposure_for_signal` inverts (no solution at dusk when the sky fades
faster than the frame can collect the target: the sky is too dark).

Fitting. Every unclipped frame gives its start, applied exposure and measured
signal. Its log mean rate, corrected for the curvature of the exponential over the
frame (sinh(u)/u, u = kappa e / 2), is regressed on x at mid-exposure with one
intercept per filter, recent frames weighted more (memory ``MEMORY_S``), and a
ridge prior on k (dusk halves about every 3 min; with a site about 1.0 per degree
of solar altitude, Tyson & Gal's 0.094 dex/min over the sun's 0.2165 deg/min at
latitude 30 on the equinox). So each frame's measured / predicted ratio corrects
the model at once, and two frames measure the trend.

Solar position. A simple analytic formula (the Astronomical Almanac's low-precision
sun, good to about 0.01 deg for 1950-2050), not astropy: astropy's AltAz wants IERS
tables from the network, and its offline path warns (warnings are errors in the
tests). Refraction is ignored: the sun is below the horizon at flat time, and a
constant offset in x does not change the model.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import numpy as np
import numpy.typing as npt

#: how fast the past is forgotten in the fit (seconds of age for a weight of 1/e)
MEMORY_S = 300.0
#: the prior trend without a site: the sky halves (dusk) or doubles (dawn) in this time
PRIOR_HALVING_S = 180.0
#: the prior slope with a site: ln rate per degree of solar altitude
PRIOR_PER_DEGREE = 1.0
#: scatter of one frame's log rate about the model (real skies are not exact)
LOG_RATE_SCATTER = 0.01
#: relative uncertainty of the prior slope
PRIOR_SLOPE_SPREAD = 0.7
#: the site is used only while the sun sets (dusk) or rises (dawn) at least this fast
MIN_SUN_RATE_DEG_S = 0.05 / 60
#: ... and lies within this band of altitudes (twilight), degrees
TWILIGHT_DEG = (-20.0, 10.0)
#: the sun's altitude is differentiated over this step, s
_DERIVATIVE_STEP_S = 30.0


class SiteError(ValueError):
    """A site that cannot be used; the message says what to write."""


@dataclass(frozen=True, slots=True)
class Site:
    """Where the scope is: latitude (north +), longitude (east +), in degrees."""

    latitude_deg: float
    longitude_deg: float
    elevation_m: float = 0.0

    def __post_init__(self) -> None:
        """Refuse a place not on Earth."""
        if not -90 <= self.latitude_deg <= 90:
            raise SiteError(f"latitude {self.latitude_deg:g} is not in -90..90")
        if not -180 <= self.longitude_deg <= 360:
            raise SiteError(f"longitude {self.longitude_deg:g} is not in -180..360")
        if not -500 <= self.elevation_m <= 9000:
            raise SiteError(f"elevation {self.elevation_m:g} m is not in -500..9000")

    @classmethod
    def parse(cls, text: str) -> Site:
        """``LAT,LON[,ELEV_M]`` in degrees (east and north positive) and metres."""
        parts = [p.strip() for p in text.split(",")]
        try:
            numbers = [float(p) for p in parts]
        except ValueError:
            numbers = []
        if len(numbers) not in (2, 3) or not all(math.isfinite(n) for n in numbers):
            raise SiteError(f"site {text!r}: use LAT,LON[,ELEV_M] in degrees, e.g. "
                            "48.2,16.4,200 (north and east positive)")
        return cls(*numbers)


def sun_altitude_deg(when: datetime, site: Site) -> float:
    """The sun's true altitude (no refraction) at ``when`` (aware UTC) from ``site``."""
    days = (when - _J2000).total_seconds() / 86400.0
    mean_long = math.radians((280.460 + 0.9856474 * days) % 360)
    anomaly = math.radians((357.528 + 0.9856003 * days) % 360)
    ecl_long = mean_long + math.radians(1.915 * math.sin(anomaly)
                                        + 0.020 * math.sin(2 * anomaly))
    obliquity = math.radians(23.439 - 4e-7 * days)
    ra = math.atan2(math.cos(obliquity) * math.sin(ecl_long), math.cos(ecl_long))
    dec = math.asin(math.sin(obliquity) * math.sin(ecl_long))
    gmst_deg = (280.46061837 + 360.98564736629 * days) % 360
    hour_angle = math.radians(gmst_deg + site.longitude_deg) - ra
    lat = math.radians(site.latitude_deg)
    sin_alt = (math.sin(lat) * math.sin(dec)
               + math.cos(lat) * math.cos(dec) * math.cos(hour_angle))
    return math.degrees(math.asin(max(-1.0, min(1.0, sin_alt))))


_J2000 = datetime.fromisoformat("2000-01-01T12:00:00+00:00")


def collected_per_rate(kappa: float, exposure_s: float) -> float:
    """(exp(kappa e) - 1) / kappa: the signal of a frame per unit starting rate."""
    u = kappa * exposure_s
    if abs(u) < 1e-6:
        return exposure_s * (1 + u / 2)
    return math.expm1(u) / kappa


def exposure_for_signal(signal: float, rate0: float, kappa: float) -> float:
    """The exposure that collects ``signal`` from a rate ``rate0`` growing as exp(kappa t).

    ``math.inf`` when the sky fades too fast to ever collect it (dusk).
    """
    if rate0 <= 0:
        return math.inf
    ratio = signal / rate0
    if abs(kappa * ratio) < 1e-9:
        return ratio
    inner = 1 + kappa * ratio
    if inner <= 0:
        return math.inf
    return math.log1p(kappa * ratio) / kappa


#: pixels of a frame kept for the pair estimate of the bias
PAIR_SAMPLES = 1 << 22


def pair_sample(frame: npt.NDArray[np.uint16], shift: int) -> npt.NDArray[np.float32]:
    """Every n-th row of a frame in native ADU (about ``PAIR_SAMPLES`` pixels)."""
    height, width = frame.shape
    step = max(1, (height * width) // PAIR_SAMPLES)
    step += step % 2 if step > 1 else 0  # keep the Bayer phase
    return (frame[::step] >> shift).astype(np.float32)


def pair_signal_native(a: npt.NDArray[np.float32], b: npt.NDArray[np.float32],
                       e_per_adu: float) -> float:
    """The mean signal (native ADU above bias) of two frames at nearly the same level.

    Photon transfer on a pair: their difference cancels the fixed pattern (PRNU,
    vignetting, dust), so its variance is twice the shot noise, signal / (e-/ADU),
    plus read noise (small beside a flat's signal). Outliers (stars, cosmic rays)
    beyond 5 sigma are left out. Then bias = mean - signal, free of the PRNU that
    inflates a one-frame estimate.

    The sky changes between the two frames, so ``b`` is first scaled by r = mean(a) /
    mean(b): else the fixed pattern times their difference in level counts as noise.
    The difference's variance is then (S_a + r² S_b) / g = S_a (1 + r) / g, and the
    pair's mean signal (S_a + S_b) / 2 = g var / (2 r).
    """
    ratio = float(a.mean()) / max(float(b.mean()), 1e-6)
    diff = a - b * np.float32(ratio)
    diff -= np.float32(diff.mean())
    q1, q3 = np.percentile(diff, (25.0, 75.0))
    sigma = max(float(q3 - q1) / 1.349, 1e-6)
    kept = diff[np.abs(diff) <= 5 * sigma]
    variance = float(np.mean(kept.astype(np.float64) ** 2))
    return e_per_adu * variance / (2 * ratio)


def _sinhc(u: float) -> float:
    return 1 + u * u / 6 if abs(u) < 1e-4 else math.sinh(u) / u


@dataclass(slots=True)
class _Point:
    key: str
    start: datetime
    exposure_s: float
    level_native: float
    probe: bool = False


@dataclass(slots=True)
class TwilightModel:
    """The sky rate per filter (module docstring); dusk or dawn, with or without a site.

    Levels are stored as measured (native ADU); the signal is the level minus
    :attr:`bias_native`, which may be refined later.
    """

    dusk: bool
    site: Site | None = None
    #: relative throughput per filter key (None: unknown, learned per filter)
    throughput: dict[str, float] = field(default_factory=dict)
    bias_native: float = 0.0
    #: bias estimates from pairs of frames (their mean is used)
    bias_pairs: list[float] = field(default_factory=list)
    origin: datetime | None = None
    points: list[_Point] = field(default_factory=list)
    slope: float = 0.0
    intercepts: dict[str, float] = field(default_factory=dict)
    last_key: str | None = None
    #: why the site was set aside (the sun was not setting / rising then)
    site_rejected: str | None = None

    def add_bias_estimate(self, bias: float) -> None:
        """One more pair estimate of the bias; refits with their mean."""
        self.bias_pairs.append(bias)
        self.bias_native = sum(self.bias_pairs) / len(self.bias_pairs)
        self.refit()

    def __post_init__(self) -> None:
        """Start from the prior trend."""
        self.slope = self.prior_slope

    # -- the variable x(t) ------------------------------------------------------------
    @property
    def in_altitude(self) -> bool:
        """Whether x is the sun's altitude (a site is known), else seconds."""
        return self.site is not None

    @property
    def prior_slope(self) -> float:
        """k before any measurement."""
        if self.site is not None:
            return PRIOR_PER_DEGREE
        rate = math.log(2) / PRIOR_HALVING_S
        return -rate if self.dusk else rate

    def x(self, when: datetime) -> float:
        """The model's variable at ``when``."""
        if self.site is not None:
            return sun_altitude_deg(when, self.site)
        origin = self.origin if self.origin is not None else when
        return (when - origin).total_seconds()

    def dx_dt(self, when: datetime) -> float:
        """dx/dt per second at ``when``."""
        if self.site is None:
            return 1.0
        half = timedelta(seconds=_DERIVATIVE_STEP_S / 2)
        return (self.x(when + half) - self.x(when - half)) / _DERIVATIVE_STEP_S

    def kappa(self, when: datetime) -> float:
        """The rate's exponential growth per second at ``when`` (dusk < 0 < dawn)."""
        return self.slope * self.dx_dt(when)

    def halving_s(self, when: datetime) -> float:
        """Seconds for the light to halve (dusk) or double (dawn), now."""
        kappa = self.kappa(when)
        return math.log(2) / abs(kappa) if kappa else math.inf

    # -- measurements -------------------------------------------------------------------
    def add(self, key: str, start: datetime, exposure_s: float, level_native: float,
            probe: bool = False) -> None:
        """One unclipped frame of filter ``key``; refits the model.

        Probes (frames far from the target, whose level leans on the bias) are left
        out of the fit once the filter has two frames of its own near the target.
        """
        if self.origin is None:
            self.origin = start
            self._check_site(start)
        self.points.append(_Point(key, start, exposure_s, level_native, probe))
        self.last_key = key
        self.refit()

    def _check_site(self, when: datetime) -> None:
        """Keep the site only in twilight with the sun moving the right way."""
        if self.site is None:
            return
        altitude, rate = self.x(when), self.dx_dt(when)
        moving = rate < -MIN_SUN_RATE_DEG_S if self.dusk else rate > MIN_SUN_RATE_DEG_S
        if moving and TWILIGHT_DEG[0] <= altitude <= TWILIGHT_DEG[1]:
            return
        self.site_rejected = (
            f"the sun is at {altitude:.1f} deg and {'rising' if rate > 0 else 'setting'} "
            f"{abs(rate) * 60:.2f} deg/min at the site now, not in "
            f"{'dusk' if self.dusk else 'dawn'} twilight: using the measured trend alone")
        self.site = None
        self.slope = self.prior_slope

    def knows(self, key: str) -> bool:
        """Whether filter ``key``'s rate can be predicted."""
        if key in self.intercepts:
            return True
        return (self.last_key is not None and key in self.throughput
                and self.last_key in self.throughput)

    def measured(self, key: str) -> bool:
        """Whether filter ``key`` has frames of its own."""
        return key in self.intercepts

    def refit(self) -> None:
        """Least squares for k and the intercepts (module docstring)."""
        if not self.points:
            return
        newest = max(p.start for p in self.points)
        aimed: dict[str, int] = {}
        for p in self.points:
            aimed[p.key] = aimed.get(p.key, 0) + (not p.probe)
        rows = []
        for p in self.points:
            if p.probe and aimed[p.key] >= 2:
                continue
            signal = p.level_native - self.bias_native
            if signal <= 0 or p.exposure_s <= 0:
                continue
            age = (newest - p.start).total_seconds()
            rows.append((p, math.log(signal / p.exposure_s), math.exp(-age / MEMORY_S)))
        if not rows:
            return
        prior = self.prior_slope
        spread = PRIOR_SLOPE_SPREAD * abs(prior)
        ridge = (LOG_RATE_SCATTER / spread) ** 2
        slope = self.slope
        for _ in range(3):
            data = []
            for p, log_rate, weight in rows:
                mid = p.start + timedelta(seconds=p.exposure_s / 2)
                u = slope * self.dx_dt(mid) * p.exposure_s / 2
                data.append((p.key, self.x(mid), log_rate - math.log(_sinhc(u)), weight))
            means: dict[str, tuple[float, float]] = {}
            for key in {d[0] for d in data}:
                ws = [d for d in data if d[0] == key]
                total = sum(d[3] for d in ws)
                means[key] = (sum(d[1] * d[3] for d in ws) / total,
                              sum(d[2] * d[3] for d in ws) / total)
            sxy = sum(w * (x - means[k][0]) * (y - means[k][1]) for k, x, y, w in data)
            sxx = sum(w * (x - means[k][0]) ** 2 for k, x, y, w in data)
            slope = (sxy + ridge * prior) / (sxx + ridge)
            # the trend's sign is known (dusk fades, dawn brightens; altitude: brighter up)
            if self.site is not None or not self.dusk:
                slope = max(slope, 0.05 * abs(prior))
            else:
                slope = min(slope, -0.05 * abs(prior))
            self.intercepts = {k: my - slope * mx for k, (mx, my) in means.items()}
        self.slope = slope

    # -- predictions -------------------------------------------------------------------
    def intercept(self, key: str) -> float | None:
        """c for filter ``key`` (from its own frames, else a throughput ratio)."""
        if key in self.intercepts:
            return self.intercepts[key]
        last = self.last_key
        if last is None or key not in self.throughput or last not in self.throughput:
            return None
        return self.intercepts[last] + math.log(self.throughput[key] / self.throughput[last])

    def rate(self, key: str, when: datetime) -> float | None:
        """Predicted signal rate (native ADU/s above bias) at ``when``."""
        c = self.intercept(key)
        return None if c is None else math.exp(c + self.slope * self.x(when))

    def signal(self, key: str, start: datetime, exposure_s: float) -> float | None:
        """Predicted signal (native ADU above bias) of a frame."""
        rate = self.rate(key, start)
        if rate is None:
            return None
        return rate * collected_per_rate(self.kappa(start), exposure_s)

    def exposure(self, key: str, start: datetime, signal: float) -> float | None:
        """The exposure collecting ``signal`` from ``start`` (inf: never; None: unknown)."""
        rate = self.rate(key, start)
        if rate is None:
            return None
        return exposure_for_signal(signal, rate, self.kappa(start))

    def seconds_until_rate(self, key: str, start: datetime, rate: float) -> float | None:
        """How long until filter ``key``'s rate reaches ``rate`` (None: never/unknown)."""
        now = self.rate(key, start)
        kappa = self.kappa(start)
        if now is None or kappa == 0 or rate <= 0:
            return None
        seconds = math.log(rate / now) / kappa
        return seconds if seconds >= 0 else 0.0

    def parameters(self, when: datetime) -> dict[str, object]:
        """What session.json keeps of the model."""
        return {
            "variable": "sun_altitude_deg" if self.in_altitude else "seconds",
            "slope_per_unit": round(self.slope, 6),
            "prior_slope_per_unit": round(self.prior_slope, 6),
            "halving_s": round(self.halving_s(when), 2),
            "ln_rate_intercepts": {k: round(v, 5) for k, v in self.intercepts.items()},
            "bias_native": round(self.bias_native, 3),
            "frames_fitted": len(self.points),
            **({"sun_altitude_deg": round(self.x(when), 3)} if self.in_altitude else {}),
        }

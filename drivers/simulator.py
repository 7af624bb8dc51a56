"""A physics-grade simulated camera that behaves like a ZWO ASI camera.

Signal chain per pixel: photo-electron rate = flux x vignetting x pixel response
non-uniformity (PRNU) x dust donuts x the CFA channel's response; shot noise
(Poisson, normal approximation once counts are large) and read noise; dark
current; optional soft non-linearity and full-well clipping; conversion to ADU at
e-/ADU(gain) = e-/ADU(0) / 10^(gain/200); bias from the offset; ADC clipping,
quantisation to the native bit depth and MSB alignment into RAW16.

The fixed pattern is computed once per binning and cached, so a 26 MP frame costs
one pass of noise generation. Simulated time runs on an injectable clock. The
simulator knows its true flux and bias; the exposure solver never asks for them.
"""

from __future__ import annotations

import math
import os
import threading
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from drivers.base import (
    BAYER_PATTERNS,
    Camera,
    CameraControls,
    CameraInfo,
    ControlRange,
    ExposureStatus,
    Frame,
    binned_shape,
    e_per_adu_at_gain,
)
from drivers.clock import Clock, SimulatedClock
from drivers.errors import CameraDisconnectedError, CameraError, FrameError
from drivers.tomlload import load_toml

SIM_CONFIG_ENV = "AUTOFLATS_SIM_CONFIG"
FloatArray = npt.NDArray[np.float32]
#: below this mean signal (e-) shot noise is drawn from a Poisson law, above it from
#: the normal approximation (same mean and variance, four times faster)
POISSON_BELOW_E = 3.0


class SimConfigError(CameraError, ValueError):
    """A simulator setting is invalid; the message names the key and what is allowed."""


@dataclass(frozen=True, slots=True)
class SimFaults:
    """Faults the simulator injects (the pinned ``[faults]`` table)."""

    fail_at_frames: tuple[int, ...] = ()
    hang_at_frames: tuple[int, ...] = ()
    disconnect_at_frame: int | None = None
    short_buffer_at_frames: tuple[int, ...] = ()
    flux_drift_per_s: float = 0.0
    flicker_hz: float = 0.0
    flicker_duty: float = 1.0

    def __post_init__(self) -> None:
        """Check every fault setting."""
        for name in ("fail_at_frames", "hang_at_frames", "short_buffer_at_frames"):
            for frame in getattr(self, name):
                _require(name, frame, frame >= 1, "frame numbers start at 1")
        if self.disconnect_at_frame is not None:
            _require("disconnect_at_frame", self.disconnect_at_frame,
                     self.disconnect_at_frame >= 1, "frame numbers start at 1")
        _require("flux_drift_per_s", self.flux_drift_per_s,
                 -1.0 < self.flux_drift_per_s < 1.0, "use a value in (-1, 1)")
        _require("flicker_hz", self.flicker_hz, 0 <= self.flicker_hz <= 1e6,
                 "use 0 (steady) to 1e6")
        _require("flicker_duty", self.flicker_duty, 0 < self.flicker_duty <= 1,
                 "use a value in (0, 1]")


@dataclass(frozen=True, slots=True)
class SimConfig:
    """Everything the simulator is; the TOML keys are these field names."""

    model: str = "Simulated mono camera"
    width: int = 6248
    height: int = 4176
    bit_depth: int = 14
    bayer: str | None = None
    pixel_size_um: float = 3.76
    flux_e_s: float = 10_000.0
    channel_ratio: tuple[float, float, float] = (0.6, 1.0, 0.75)
    e_per_adu: float = 3.1
    bias_adu: float | None = None
    bias_adu_per_offset: float = 2.0
    read_noise_e: float = 3.0
    dark_current_e_s: float = 0.002
    full_well_e: float = 50_000.0
    nonlinearity: float = 0.0
    prnu: float = 0.006
    vignetting: float = 0.3
    dust_count: int = 6
    min_exposure_s: float = 32e-6
    max_exposure_s: float = 2000.0
    gain_max: int = 570
    gain_default: int = 100
    offset_max: int = 300
    offset_default: int = 50
    readout_s_per_mp: float = 0.01
    supported_bins: tuple[int, ...] = (1, 2, 3, 4)
    has_cooler: bool = True
    ambient_c: float = 20.0
    seed: int = 0
    time_scale: float = 1.0
    faults: SimFaults = field(default_factory=SimFaults)

    def __post_init__(self) -> None:
        """Check every setting; the error names the key and the allowed range."""
        _require("width", self.width, 16 <= self.width <= 20_000, "use 16..20000")
        _require("height", self.height, 16 <= self.height <= 20_000, "use 16..20000")
        _require("bit_depth", self.bit_depth, 8 <= self.bit_depth <= 16, "use 8..16")
        if self.bayer is not None and self.bayer not in BAYER_PATTERNS:
            raise SimConfigError(
                f"sim config: bayer {self.bayer!r} is not a Bayer pattern; use one of "
                f"{', '.join(BAYER_PATTERNS)} or leave it out for mono"
            )
        positive = ("pixel_size_um", "flux_e_s", "e_per_adu", "full_well_e",
                    "min_exposure_s", "max_exposure_s")
        for name in positive:
            value = getattr(self, name)
            _require(name, value, 0 < value < 1e12, "use a positive number")
        _require("channel_ratio", self.channel_ratio,
                 len(self.channel_ratio) == 3
                 and all(0 < r <= 100 for r in self.channel_ratio),
                 "use three positive numbers [r, g, b]")
        full_scale = 2**self.bit_depth - 1
        if self.bias_adu is not None:
            _require("bias_adu", self.bias_adu, 0 <= self.bias_adu < full_scale,
                     f"use 0..{full_scale - 1} (native ADU)")
        nonneg = ("bias_adu_per_offset", "read_noise_e", "dark_current_e_s", "prnu",
                  "readout_s_per_mp")
        for name in nonneg:
            value = getattr(self, name)
            _require(name, value, 0 <= value < 1e9, "use a number >= 0")
        _require("nonlinearity", self.nonlinearity, 0 <= self.nonlinearity <= 0.5,
                 "use 0..0.5")
        _require("vignetting", self.vignetting, 0 <= self.vignetting < 1, "use 0..0.99")
        _require("dust_count", self.dust_count, 0 <= self.dust_count <= 100,
                 "use 0..100")
        _require("max_exposure_s", self.max_exposure_s,
                 self.max_exposure_s >= self.min_exposure_s,
                 "it must be at least min_exposure_s")
        _require("gain_default", self.gain_default,
                 0 <= self.gain_default <= self.gain_max, "use 0..gain_max")
        _require("offset_default", self.offset_default,
                 0 <= self.offset_default <= self.offset_max, "use 0..offset_max")
        _require("supported_bins", self.supported_bins,
                 1 in self.supported_bins and all(1 <= b <= 8 for b in self.supported_bins),
                 "list bins 1..8, including 1")
        _require("time_scale", self.time_scale, 0 <= self.time_scale <= 1000,
                 "use 0 (instant) .. 1 (real time)")
        _require("ambient_c", self.ambient_c, -60 <= self.ambient_c <= 60, "use -60..60")

    def bias_native(self, offset: int) -> float:
        """The bias level in native ADU at ``offset``: ``bias_adu`` when set."""
        if self.bias_adu is not None:
            return self.bias_adu
        return self.bias_adu_per_offset * offset

    def e_per_adu_at(self, gain: int) -> float:
        """Native electrons per ADU at ``gain`` (ZWO gain is in 0.1 dB)."""
        return e_per_adu_at_gain(self.e_per_adu, gain)




def _require(name: str, value: object, ok: bool, allowed: str) -> None:
    if not ok:
        raise SimConfigError(f"sim config: {name} = {value!r} is not allowed; {allowed}")


COLOR_PRESET = SimConfig(
    model="Simulated colour camera",
    width=4144,
    height=2822,
    bayer="RGGB",
    pixel_size_um=4.63,
    e_per_adu=3.9,
    full_well_e=64_000.0,
    gain_default=120,
    offset_default=30,
)

PRESETS: dict[str, SimConfig] = {"sim": SimConfig(), "sim-color": COLOR_PRESET}


_TUPLE_KEYS = {"channel_ratio", "supported_bins", "fail_at_frames", "hang_at_frames",
               "short_buffer_at_frames"}


def _coerce(owner: type, key: str, value: Any, default: Any) -> Any:
    """Check a TOML value's type against the field's default and convert it."""
    where = "sim config" if owner is SimConfig else "sim config [faults]"
    if key in _TUPLE_KEYS:
        if not isinstance(value, list):
            raise SimConfigError(f"{where}: {key} must be a list, got {value!r}")
        kind = float if key == "channel_ratio" else int
        return tuple(_coerce_scalar(where, key, v, kind) for v in value)
    if key in ("bayer", "model"):
        if not isinstance(value, str):
            raise SimConfigError(f"{where}: {key} must be text, got {value!r}")
        if key == "bayer":
            upper = value.strip().upper()
            return None if upper in ("", "NONE", "MONO") else upper
        return value
    if key in ("bias_adu",):
        return _coerce_scalar(where, key, value, float)
    if key == "disconnect_at_frame":
        return _coerce_scalar(where, key, value, int)
    if isinstance(default, bool):
        if not isinstance(value, bool):
            raise SimConfigError(f"{where}: {key} must be true or false, got {value!r}")
        return value
    return _coerce_scalar(where, key, value, type(default))


def _coerce_scalar(where: str, key: str, value: Any, kind: type) -> Any:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise SimConfigError(f"{where}: {key} must be a number, got {value!r}")
    if kind is int:
        if isinstance(value, float) and not value.is_integer():
            raise SimConfigError(f"{where}: {key} must be a whole number, got {value!r}")
        return int(value)
    if not math.isfinite(value):
        raise SimConfigError(f"{where}: {key} must be a finite number, got {value!r}")
    return float(value)


def sim_config_from_mapping(data: dict[str, Any], base: SimConfig) -> SimConfig:
    """``base`` with the keys of a parsed TOML table applied (unknown keys refused)."""
    known = {f.name: f for f in fields(SimConfig)}
    changes: dict[str, Any] = {}
    for key, value in data.items():
        if key not in known:
            raise SimConfigError(
                f"sim config: unknown key {key!r}; known keys: {', '.join(sorted(known))}"
            )
        if key == "faults":
            if not isinstance(value, dict):
                raise SimConfigError("sim config: [faults] must be a table")
            changes["faults"] = _faults_from_mapping(value, base.faults)
            continue
        changes[key] = _coerce(SimConfig, key, value, getattr(base, key))
    try:
        return replace(base, **changes)
    except TypeError as error:  # pragma: no cover - guarded by the checks above
        raise SimConfigError(f"sim config: {error}") from error


def _faults_from_mapping(data: dict[str, Any], base: SimFaults) -> SimFaults:
    known = {f.name for f in fields(SimFaults)}
    changes: dict[str, Any] = {}
    for key, value in data.items():
        if key not in known:
            raise SimConfigError(
                f"sim config: unknown key {key!r} in [faults]; known keys: "
                f"{', '.join(sorted(known))}"
            )
        changes[key] = _coerce(SimFaults, key, value, getattr(base, key))
    return replace(base, **changes)


def load_sim_config(
    path: str | os.PathLike[str] | None = None,
    *,
    preset: str = "sim",
    use_env: bool = True,
) -> SimConfig:
    """The simulator's configuration: preset, then $AUTOFLATS_SIM_CONFIG, then ``path``."""
    config = PRESETS[preset]
    env_path = os.environ.get(SIM_CONFIG_ENV) if use_env else None
    for source in (env_path, path):
        if source:
            config = sim_config_from_mapping(load_toml(Path(source), "sim config"), config)
    return config


class SimulatedCamera(Camera):
    """A camera made of arithmetic, with the ZWO SDK's behaviour and timing."""

    def __init__(
        self,
        config: SimConfig | None = None,
        *,
        name: str = "Simulator",
        clock: Clock | None = None,
    ) -> None:
        self.config = config if config is not None else SimConfig()
        super().__init__(clock if clock is not None else SimulatedClock(self.config.time_scale))
        cfg = self.config
        self._info = CameraInfo(
            name=name,
            model=cfg.model,
            driver="sim",
            width=cfg.width,
            height=cfg.height,
            bit_depth=cfg.bit_depth,
            bayer_pattern=cfg.bayer,
            pixel_size_um=cfg.pixel_size_um,
            e_per_adu=cfg.e_per_adu,
            supported_bins=tuple(sorted(set(cfg.supported_bins))),
            has_cooler=cfg.has_cooler,
        )
        self._controls = CameraControls(
            exposure_s=ControlRange(cfg.min_exposure_s, cfg.max_exposure_s,
                                    min(max(0.1, cfg.min_exposure_s), cfg.max_exposure_s)),
            gain=ControlRange(0, cfg.gain_max, cfg.gain_default),
            offset=ControlRange(0, cfg.offset_max, cfg.offset_default),
        )
        self._patterns: dict[int, FloatArray] = {}
        self._pattern_lock = threading.Lock()
        self._rng = np.random.default_rng(cfg.seed)
        self._frames_started = 0
        self._exposure: _Exposure | None = None
        self._disconnected = False
        self._cooler_on = False
        self._set_point_c: float | None = None
        self._opened_at_s = 0.0

    # -- description -------------------------------------------------------------
    @property
    def info(self) -> CameraInfo:
        """Fixed properties, from the configuration."""
        return self._info

    @property
    def controls(self) -> CameraControls:
        """Exposure, gain and offset ranges."""
        return self._controls

    @property
    def readout_s(self) -> float:
        """Readout time grows with the number of pixels read."""
        height, width = self.frame_shape
        return self.config.readout_s_per_mp * height * width / 1e6

    @property
    def frames_started(self) -> int:
        """How many exposures have been started (the fault table's frame count)."""
        return self._frames_started

    @property
    def is_exposing(self) -> bool:
        """Whether an exposure is running (for tests: the camera is left idle)."""
        exposure = self._exposure
        return exposure is not None and not exposure.finished

    # -- truth, for tests and benchmarks only ------------------------------------
    def true_mean_native(self, exposure_s: float) -> float:
        """The noise-free whole-frame mean (native ADU) at ``exposure_s``, unclipped.

        Hidden truth: tests use it to judge the solver; the solver never calls it.
        """
        pattern = self._pattern(self.binning)
        electrons = float(pattern.mean(dtype=np.float64)) * self._rate_e_s(0.0) * exposure_s
        electrons += self.config.dark_current_e_s * self.binning**2 * exposure_s
        return self.config.bias_native(self.offset) + electrons / self.config.e_per_adu_at(
            self.gain
        )

    # -- hooks -------------------------------------------------------------------
    def _do_open(self) -> None:
        self._check_connected()
        self._opened_at_s = self.clock.monotonic()

    def _do_close(self) -> None:
        self._exposure = None

    def _do_set_gain(self, gain: int) -> None:
        self._check_connected()

    def _do_set_offset(self, offset: int) -> None:
        self._check_connected()

    def _do_set_binning(self, binning: int) -> None:
        self._check_connected()

    def _check_connected(self) -> None:
        if self._disconnected:
            raise CameraDisconnectedError(
                f"{self._info.name} was disconnected; check the USB cable and power"
            )

    def _do_start_exposure(self, exposure_s: float) -> None:
        self._check_connected()
        self._frames_started += 1
        number = self._frames_started
        faults = self.config.faults
        if faults.disconnect_at_frame is not None and number >= faults.disconnect_at_frame:
            self._disconnected = True
            self._check_connected()
        self._exposure = _Exposure(
            number=number,
            exposure_s=exposure_s,
            started_s=self.clock.monotonic(),
            ends_s=self.clock.monotonic() + exposure_s + self.readout_s,
            hangs=number in faults.hang_at_frames,
            fails=number in faults.fail_at_frames,
            short_buffer=number in faults.short_buffer_at_frames,
        )

    def _do_exposure_status(self) -> ExposureStatus:
        self._check_connected()
        exposure = self._exposure
        if exposure is None:
            return ExposureStatus.IDLE
        if exposure.hangs or self.clock.monotonic() < exposure.ends_s:
            return ExposureStatus.WORKING
        return ExposureStatus.FAILED if exposure.fails else ExposureStatus.SUCCESS

    def _do_read_frame(self, out: Frame | None) -> Frame:
        self._check_connected()
        exposure = self._exposure
        if exposure is None or self._do_exposure_status() is not ExposureStatus.SUCCESS:
            raise CameraError("no finished exposure to read; start an exposure first")
        exposure.finished = True
        if exposure.short_buffer:
            height, width = self.frame_shape
            raise FrameError(
                f"{self._info.name} returned {height * width} of "
                f"{2 * height * width} bytes; frame rejected"
            )
        return self._render(exposure, out)

    def _do_abort_exposure(self) -> None:
        if self._exposure is not None:
            self._exposure.finished = True
        self._exposure = None

    def _do_temperature_c(self) -> float | None:
        self._check_connected()
        if self._cooler_on and self._set_point_c is not None:
            return self._set_point_c
        return self.config.ambient_c

    def set_cooler(self, enabled: bool, set_point_c: float | None = None) -> None:
        """Switch the simulated cooler (it reaches its set-point at once)."""
        if not self.config.has_cooler:
            super().set_cooler(enabled, set_point_c)
        with self._lock:
            self._cooler_on = enabled
            if set_point_c is not None:
                self._set_point_c = float(set_point_c)

    def cooler_state(self) -> tuple[bool, float | None]:
        """(cooler on, set-point)."""
        return (self._cooler_on, self._set_point_c)

    # -- physics -----------------------------------------------------------------
    def _rate_e_s(self, at_s: float) -> float:
        """Flux at the field centre for the current binning at simulated time ``at_s``."""
        drift = self.config.faults.flux_drift_per_s
        factor = math.exp(drift * at_s) if drift else 1.0
        return self.config.flux_e_s * self.binning**2 * factor

    def _pattern(self, binning: int) -> FloatArray:
        """Relative response per pixel (1 = centre of a green/mono pixel), cached."""
        with self._pattern_lock:
            cached = self._patterns.get(binning)
            if cached is None:
                height, width = binned_shape(self._info, binning)
                cached = _fixed_pattern(self.config, height, width)
                self._patterns[binning] = cached
            return cached

    def _render(self, exposure: _Exposure, out: Frame | None) -> Frame:
        cfg = self.config
        pattern = self._pattern(self.binning)
        mid_s = exposure.started_s + exposure.exposure_s / 2 - self._opened_at_s
        scale = self._rate_e_s(mid_s) * exposure.exposure_s
        electrons = pattern * np.float32(scale)
        flicker = _flicker_rows(cfg.faults, exposure.started_s, exposure.exposure_s,
                                self.readout_s, pattern.shape[0])
        if flicker is not None:
            electrons *= flicker[:, None]
        electrons += np.float32(cfg.dark_current_e_s * self.binning**2 * exposure.exposure_s)
        read_noise_e = cfg.read_noise_e * self.binning
        if float(electrons.mean()) < POISSON_BELOW_E:
            electrons = self._rng.poisson(electrons).astype(np.float32)
            noise_var: FloatArray | float = read_noise_e**2
            noise = self._rng.standard_normal(electrons.shape, dtype=np.float32)
            noise *= np.float32(math.sqrt(float(noise_var)))
        else:
            noise = self._rng.standard_normal(electrons.shape, dtype=np.float32)
            sigma = electrons + np.float32(read_noise_e**2)
            np.sqrt(sigma, out=sigma)
            noise *= sigma
            del sigma
        electrons += noise
        del noise
        if cfg.nonlinearity:
            # Soft compression approaching full well: gain falls by up to
            # `nonlinearity` at full well.
            ratio = electrons / np.float32(cfg.full_well_e)
            np.clip(ratio, 0, 1, out=ratio)
            ratio *= ratio
            ratio *= np.float32(-cfg.nonlinearity)
            ratio += np.float32(1)
            electrons *= ratio
            del ratio
        np.minimum(electrons, np.float32(cfg.full_well_e * self.binning**2), out=electrons)
        electrons *= np.float32(1 / cfg.e_per_adu_at(self.gain))
        electrons += np.float32(cfg.bias_native(self.offset))
        full_scale = 2**cfg.bit_depth - 1
        np.rint(electrons, out=electrons)
        np.clip(electrons, 0, full_scale, out=electrons)
        if out is None:
            out = np.empty(electrons.shape, dtype=np.uint16)
        np.copyto(out, electrons, casting="unsafe")
        out <<= np.uint16(16 - cfg.bit_depth)
        return out


@dataclass(slots=True)
class _Exposure:
    number: int
    exposure_s: float
    started_s: float
    ends_s: float
    hangs: bool
    fails: bool
    short_buffer: bool
    finished: bool = False


def _fixed_pattern(cfg: SimConfig, height: int, width: int) -> FloatArray:
    """Vignetting x PRNU x dust x CFA response, float32 (height, width)."""
    rng = np.random.default_rng(cfg.seed + 7919)
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


def _flicker_rows(
    faults: SimFaults, start_s: float, exposure_s: float, readout_s: float, rows: int
) -> FloatArray | None:
    """Per-row light factor of a PWM source seen through a rolling shutter."""
    if faults.flicker_hz <= 0 or faults.flicker_duty >= 1:
        return None
    period = 1.0 / faults.flicker_hz
    on = faults.flicker_duty * period
    starts = start_s + np.arange(rows, dtype=np.float64) * (readout_s / rows)

    def lit(t: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        cycles = np.floor(t / period)
        return cycles * on + np.minimum(t - cycles * period, on)

    fraction = (lit(starts + exposure_s) - lit(starts)) / (faults.flicker_duty * exposure_s)
    return fraction.astype(np.float32)

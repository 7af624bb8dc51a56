"""The simulator's settings: the pinned TOML keys, their checks, presets and loading.

Every key is a :class:`SimConfig` (or, under ``[faults]``, :class:`SimFaults`) field.
Unknown keys and bad values are refused with one line that names the key and what
is allowed.
"""

from __future__ import annotations

import difflib
import math
import os
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from drivers.base import BAYER_PATTERNS, e_per_adu_at_gain
from drivers.errors import CameraError
from drivers.tomlload import load_toml

SIM_CONFIG_ENV = "AUTOFLATS_SIM_CONFIG"
#: tables of a sim config file that describe the rig, not the camera (drivers.sim_rig)
RIG_TABLE_NAMES = ("panel", "wheel", "sky")
#: the fixed pattern's default seed: one simulated sensor, the same in every run
DEFAULT_PATTERN_SEED = 7919
#: the response is within this share of linear below ``linear_limit``
LINEAR_TOLERANCE = 0.01


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
    flux_jitter: float = 0.0
    channel_ratio: tuple[float, float, float] = (0.6, 1.0, 0.75)
    e_per_adu: float = 3.1
    reported_e_per_adu_factor: float = 1.0
    bias_adu: float | None = None
    bias_adu_per_offset: float = 2.0
    read_noise_e: float = 3.0
    dark_current_e_s: float = 0.002
    full_well_e: float = 50_000.0
    nonlinearity: float = 0.0
    linear_limit: float = 1.0
    prnu: float = 0.006
    vignetting: float = 0.3
    dust_count: int = 6
    min_exposure_s: float = 32e-6
    max_exposure_s: float = 2000.0
    exposure_step_s: float = 0.0
    exposure_offset_s: float = 0.0
    gain_max: int = 570
    gain_default: int = 100
    offset_max: int = 300
    offset_default: int = 50
    readout_s_per_mp: float = 0.01
    supported_bins: tuple[int, ...] = (1, 2, 3, 4)
    has_cooler: bool = True
    ambient_c: float = 20.0
    seed: int | None = None
    pattern_seed: int = DEFAULT_PATTERN_SEED
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
                 "use three numbers [r, g, b], each in (0, 100]")
        full_scale = 2**self.bit_depth - 1
        if self.bias_adu is not None:
            _require("bias_adu", self.bias_adu, 0 <= self.bias_adu < full_scale,
                     f"use 0..{full_scale - 1} (native ADU)")
        nonneg = ("bias_adu_per_offset", "read_noise_e", "dark_current_e_s", "prnu",
                  "readout_s_per_mp")
        for name in nonneg:
            value = getattr(self, name)
            _require(name, value, 0 <= value < 1e9, "use a number >= 0")
        self._check_response()
        _require("flux_jitter", self.flux_jitter, 0 <= self.flux_jitter <= 1,
                 "use 0 (steady) .. 1 (relative standard deviation)")
        _require("reported_e_per_adu_factor", self.reported_e_per_adu_factor,
                 0 < self.reported_e_per_adu_factor <= 1000, "use a number in (0, 1000]")
        _require("exposure_step_s", self.exposure_step_s,
                 0 <= self.exposure_step_s <= 3600, "use 0 (continuous) .. 3600 s")
        _require("exposure_offset_s", self.exposure_offset_s,
                 0 <= self.exposure_offset_s <= 3600, "use 0..3600 s")
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
        if self.seed is not None:
            _require("seed", self.seed, 0 <= self.seed < 2**63,
                     "use a whole number >= 0, or leave it out for fresh noise")
        _require("pattern_seed", self.pattern_seed, 0 <= self.pattern_seed < 2**63,
                 "use a whole number >= 0")

    def _check_response(self) -> None:
        n, limit = self.nonlinearity, self.linear_limit
        _require("nonlinearity", n, 0 <= n <= 0.5, "use 0..0.5")
        _require("linear_limit", limit, 0 < limit <= 1,
                 "use a share of ADC full scale in (0, 1]")
        if n > LINEAR_TOLERANCE:
            most = (1 - n) ** 2
            _require("linear_limit", limit, limit <= most,
                     f"with nonlinearity = {n:g} use at most {most:.4g} ((1 - nonlinearity)^2: "
                     "the response needs room to bend)")

    def bias_native(self, offset: int) -> float:
        """The bias level in native ADU at ``offset``: ``bias_adu`` when set."""
        if self.bias_adu is not None:
            return self.bias_adu
        return self.bias_adu_per_offset * offset

    def e_per_adu_at(self, gain: int) -> float:
        """True native electrons per ADU at ``gain`` (ZWO gain is in 0.1 dB)."""
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
_INT_OR_NONE_KEYS = {"seed", "disconnect_at_frame"}


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
    if key == "bias_adu":
        return _coerce_scalar(where, key, value, float)
    if key in _INT_OR_NONE_KEYS:
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


def _unknown_key(key: str, known: list[str], table: str) -> SimConfigError:
    """The one-line refusal of an unknown key, with a guess when one is close."""
    close = difflib.get_close_matches(key, known, n=1, cutoff=0.6)
    hint = f"did you mean {close[0]!r}? " if close else ""
    return SimConfigError(
        f"sim config: unknown key {key!r}{table}; {hint}known keys: {', '.join(sorted(known))}"
    )


def sim_config_from_mapping(data: dict[str, Any], base: SimConfig) -> SimConfig:
    """``base`` with the keys of a parsed TOML table applied (unknown keys refused)."""
    known = [f.name for f in fields(SimConfig)]
    changes: dict[str, Any] = {}
    for key, value in data.items():
        if key in RIG_TABLE_NAMES:
            continue  # the panel and wheel around the camera: drivers.sim_rig reads them
        if key not in known:
            raise _unknown_key(key, known, "")
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
    known = [f.name for f in fields(SimFaults)]
    changes: dict[str, Any] = {}
    for key, value in data.items():
        if key not in known:
            raise _unknown_key(key, known, " in [faults]")
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

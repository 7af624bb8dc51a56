"""What a flat session is asked to do, checked before anything starts."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

from app import defaults
from app.adu import AduSpace, Target

MAX_COUNT = 10_000


class SettingsError(ValueError):
    """A setting cannot be used; the one-line message says what to change."""


@dataclass(frozen=True, slots=True)
class FlatSettings:
    """A flat run: how many, where, at what level, with which camera settings.

    ``gain``/``offset`` of None keep the camera's current (default) values.
    """

    out_dir: Path
    count: int = 30
    target: Target = field(
        default_factory=lambda: Target(defaults.TARGET_PERCENT, True, AduSpace.BIT16))
    tolerance_percent: float = defaults.TOLERANCE_PERCENT
    gain: int | None = None
    offset: int | None = None
    binning: int = 1
    filter_name: str = ""
    first_exposure_s: float | None = None
    min_exposure_s: float | None = None
    max_exposure_s: float = defaults.MAX_EXPOSURE_S
    max_test_frames: int = defaults.MAX_TEST_FRAMES
    max_rejected_flats: int = defaults.MAX_REJECTED_FLATS
    bias_hint_native: float | None = None
    #: steer the brightest colour channel at the target instead of the whole-frame mean
    per_channel: bool = False
    #: lower the target to the sensor's measured linear limit when it lies above it
    lower_target_if_nonlinear: bool = False

    def __post_init__(self) -> None:
        """Refuse values no run could use (camera-specific limits come later)."""
        _whole("count", self.count, 1, MAX_COUNT)
        _number("tolerance", self.tolerance_percent, 0.1, 50, "%")
        if self.gain is not None:
            _whole("gain", self.gain, 0, 10_000)
        if self.offset is not None:
            _whole("offset", self.offset, 0, 10_000)
        _whole("bin", self.binning, 1, 8)
        _number("max exposure", self.max_exposure_s, 1e-6, 3600, " s")
        if self.min_exposure_s is not None:
            if self.min_exposure_s > self.max_exposure_s:
                raise SettingsError(
                    f"--min-exposure {self.min_exposure_s:g} s is above --max-exposure "
                    f"{self.max_exposure_s:g} s; make the minimum the smaller one")
            _number("min exposure", self.min_exposure_s, 0, self.max_exposure_s, " s")
        if self.first_exposure_s is not None:
            _number("first exposure", self.first_exposure_s, 1e-7, 3600, " s")
        _whole("max test frames", self.max_test_frames, 1, 100)
        _whole("max rejected flats", self.max_rejected_flats, 0, 1000)
        if len(self.filter_name) > 200:
            raise SettingsError("filter name is too long; use at most 200 characters")
        try:
            self.target.check()
        except ValueError as error:
            raise SettingsError(str(error)) from None


def _whole(name: str, value: object, low: int, high: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise SettingsError(f"{name} must be a whole number, got {value!r}")
    if not low <= value <= high:
        raise SettingsError(f"{name} {value} is out of range; use {low}..{high}")


def _number(name: str, value: object, low: float, high: float, unit: str) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise SettingsError(f"{name} must be a number, got {value!r}")
    if not (math.isfinite(value) and low <= value <= high):
        raise SettingsError(f"{name} {value:g}{unit} is out of range; use {low:g}..{high:g}{unit}")

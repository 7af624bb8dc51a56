"""ADU arithmetic: native vs 16-bit scaled values, full scale, targets, padding.

An ADU (analog-to-digital unit) is the number a pixel reads. A b-bit sensor reads
0..2^b-1 natively; ZWO's RAW16 delivers that value shifted left (MSB-aligned), so a
12-bit camera's native 2048 arrives as 2048 x 16 = 32768, the "16-bit" value most
capture programs show. Full scale is 2^b - 1 natively and 65535 in 16-bit.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from enum import Enum

import numpy as np
import numpy.typing as npt

FULL_SCALE_16BIT = 65535


class AduSpace(Enum):
    """Which scale an ADU number is in."""

    NATIVE = "native"
    BIT16 = "16bit"


@dataclass(frozen=True, slots=True)
class AduScale:
    """Conversions for a sensor of ``bit_depth`` native bits delivered as RAW16."""

    bit_depth: int

    def __post_init__(self) -> None:
        """Refuse impossible bit depths."""
        if not 8 <= self.bit_depth <= 16:
            raise ValueError(f"bit depth must be 8..16, got {self.bit_depth}")

    @property
    def shift(self) -> int:
        """Bits of padding below the native value in RAW16."""
        return 16 - self.bit_depth

    @property
    def factor(self) -> int:
        """16-bit ADU per native ADU: 2^(16-b)."""
        return 1 << self.shift

    @property
    def full_scale_native(self) -> int:
        """Largest native value, 2^b - 1."""
        return (1 << self.bit_depth) - 1

    @property
    def max_raw16(self) -> int:
        """Largest value the camera can deliver in RAW16 (65520 for 12-bit)."""
        return self.full_scale_native << self.shift

    def to_16bit(self, native_adu: float) -> float:
        """Native ADU -> 16-bit scaled ADU."""
        return native_adu * self.factor

    def to_native(self, adu_16bit: float) -> float:
        """16-bit scaled ADU -> native ADU."""
        return adu_16bit / self.factor

    def full_scale(self, space: AduSpace) -> int:
        """Full scale in ``space``."""
        return self.full_scale_native if space is AduSpace.NATIVE else FULL_SCALE_16BIT

    def describe_percent(self, percent: float) -> str:
        """E.g. '50 % = 8192 native (14-bit) = 32768 16-bit' (see :func:`round_adu`)."""
        adu_16 = percent / 100 * FULL_SCALE_16BIT
        return (
            f"{percent:g} % = {round_adu(self.to_native(adu_16))} native "
            f"({self.bit_depth}-bit) = {round_adu(adu_16)} 16-bit"
        )


def round_adu(adu: float) -> int:
    """An ADU level as people read it: the nearest integer, halves rounded up.

    The one rounding rule for every ADU shown (window, log, terminal): 50 % of a
    14-bit camera is 8191.875 native = 32767.5 16-bit, shown as 8192 and 32768
    everywhere. Python's ``round`` and ``:.0f`` round halves to even, ``int`` and
    ``floor`` truncate: neither is used for display. session.json keeps the exact
    values (8191.875, 32767.5), so nothing is lost in the record.
    """
    return math.floor(adu + 0.5)


#: a bare-number target at or below this is a share typed without '%', not an ADU value
MIN_ADU_TARGET = 100.0


class TargetError(ValueError):
    """A target the user typed cannot be used; the message says what to change."""


_TARGET_RE = re.compile(r"^\s*([0-9]*\.?[0-9]+(?:[eE][+-]?[0-9]+)?)\s*(%?)\s*$")


@dataclass(frozen=True, slots=True)
class Target:
    """The level flats aim for: a percentage of full scale or an ADU value."""

    value: float
    is_percent: bool
    space: AduSpace = AduSpace.BIT16

    @classmethod
    def parse(cls, text: str, space: AduSpace = AduSpace.BIT16) -> Target:
        """Parse '50%' or '30000' (ADU in ``space``)."""
        match = _TARGET_RE.match(str(text))
        if not match:
            raise TargetError(
                f"target {text!r} is not understood; give a percentage like 50% or an "
                "ADU value like 30000"
            )
        target = cls(float(match.group(1)), bool(match.group(2)), space)
        target.check()
        return target

    def check(self) -> None:
        """Refuse targets that no sensor could reach."""
        if not math.isfinite(self.value) or self.value <= 0:
            raise TargetError(f"target must be above 0, got {self.value:g}")
        if self.is_percent and self.value >= 100:
            raise TargetError(f"target {self.value:g}% must be below 100% of full scale")
        if not self.is_percent and self.value <= MIN_ADU_TARGET:
            # '0.5' or '50' are shares of full scale typed without the % sign, not ADU.
            percent = self.value * 100 if self.value <= 1 else self.value
            raise TargetError(
                f"target {self.value:g} is read as {self.value:g} ADU, far too dark for a "
                f"flat; did you mean {percent:g}%? (give ADU values above "
                f"{MIN_ADU_TARGET:g})")

    def native(self, scale: AduScale) -> float:
        """The target in native ADU for a sensor of ``scale``; refuses above full scale."""
        if self.is_percent:
            return scale.to_native(self.value / 100 * FULL_SCALE_16BIT)
        full = scale.full_scale(self.space)
        if self.value >= full:
            raise TargetError(
                f"target {self.value:g} ADU is at or above the {self.space.value} full "
                f"scale {full} of this {scale.bit_depth}-bit camera; use a lower target "
                "such as 50%"
            )
        return self.value if self.space is AduSpace.NATIVE else scale.to_native(self.value)

    def __str__(self) -> str:
        """As the user would type it."""
        if self.is_percent:
            return f"{self.value:g}%"
        return f"{self.value:g} ADU ({self.space.value})"


def padding_ok(frame: npt.NDArray[np.uint16], bit_depth: int, step: int = 7) -> bool:
    """True when the low 16-b bits are zero, as MSB-aligned RAW16 must have them.

    A frame whose padding bits are set was not delivered as the reported bit depth
    says (wrong BitDepth, or a mode that is not RAW16). Checks a strided subsample.
    """
    shift = 16 - bit_depth
    if shift == 0:
        return True
    mask = np.uint16((1 << shift) - 1)
    sample = frame[::step, ::step]
    return int(np.bitwise_or.reduce(sample, axis=None)) & int(mask) == 0

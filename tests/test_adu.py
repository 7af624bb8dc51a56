"""ADU arithmetic: native vs 16-bit, targets, padding."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.adu import AduScale, AduSpace, Target, TargetError, padding_ok


def test_twelve_bit_worked_example() -> None:
    scale = AduScale(12)
    assert scale.full_scale_native == 4095
    assert scale.factor == 16
    assert scale.max_raw16 == 65520
    assert scale.to_16bit(2048) == 32768
    assert scale.to_native(32768) == 2048


def test_describe_percent_matches_the_gui_example() -> None:
    assert AduScale(14).describe_percent(50) == "50 % = 8192 native (14-bit) = 32768 16-bit"


@given(bits=st.integers(8, 16), native=st.floats(0, 65535))
def test_round_trip(bits: int, native: float) -> None:
    scale = AduScale(bits)
    assert scale.to_native(scale.to_16bit(native)) == pytest.approx(native)


@pytest.mark.parametrize("bits", [12, 14, 16])
def test_percent_target_is_share_of_full_scale(bits: int) -> None:
    scale = AduScale(bits)
    target = Target.parse("50%")
    assert scale.to_16bit(target.native(scale)) == pytest.approx(65535 / 2)


def test_bare_number_is_read_in_the_chosen_space() -> None:
    scale = AduScale(12)
    assert Target.parse("30000").native(scale) == pytest.approx(1875)
    assert Target.parse("2000", AduSpace.NATIVE).native(scale) == 2000


@pytest.mark.parametrize("text", ["", "abc", "-5", "0", "100%", "150%", "nan", "1e999x"])
def test_bad_targets_are_refused(text: str) -> None:
    with pytest.raises(TargetError):
        Target.parse(text)


def test_target_above_full_scale_names_the_scale() -> None:
    with pytest.raises(TargetError, match="full scale 4095"):
        Target.parse("5000", AduSpace.NATIVE).native(AduScale(12))
    with pytest.raises(TargetError, match="65535"):
        Target.parse("70000").native(AduScale(16))


def test_padding_check_sees_set_low_bits() -> None:
    frame = (np.arange(64 * 64, dtype=np.uint16).reshape(64, 64) % 4096) << 4
    assert padding_ok(frame, 12)
    assert not padding_ok(frame | 1, 12)
    assert padding_ok(frame | 1, 16)

"""The response curve (``nonlinearity``, ``linear_limit``): monotonic, smooth, within
1 % of linear below the limit, exactly ``nonlinearity`` short at full scale, and the
frames follow it."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.adu import AduScale
from app.stats import frame_stats
from drivers.sim_physics import Response
from drivers.simulator import SimulatedCamera
from tests.conftest import small_config

XS = np.linspace(0.0, 3.0, 30_001)


@st.composite
def curves(draw: st.DrawFn) -> tuple[float, float]:
    """(nonlinearity, linear_limit) pairs the configuration accepts."""
    n = draw(st.one_of(st.just(0.0), st.floats(1e-6, 0.5)))
    limit = draw(st.floats(0.01, 1.0))
    if n > 0.01:
        limit = min(limit, (1 - n) ** 2)
    small_config(nonlinearity=n, linear_limit=limit)  # accepted
    return n, limit


@given(curves())
def test_response_is_strictly_increasing_and_keeps_rising(curve: tuple[float, float]) -> None:
    y = Response.for_config(*curve)(XS)
    assert np.all(np.diff(y) > 0)
    assert y[-1] > y[10_000]  # above full scale it still rises


@given(curves())
def test_within_one_percent_below_the_limit_and_exact_at_full_scale(
        curve: tuple[float, float]) -> None:
    n, limit = curve
    response = Response.for_config(n, limit)
    below = XS[(XS > 0) & (XS <= limit)]
    shortfall = (below - response(below)) / below
    assert shortfall.max(initial=0.0) <= 0.01 + 1e-12
    assert (1 - float(response(1.0))) == pytest.approx(n, abs=1e-9)


@given(curves())
def test_slope_is_continuous(curve: tuple[float, float]) -> None:
    response = Response.for_config(*curve)
    if not response.is_linear:  # the only joint: slope 1 on both sides of the knee
        k, h = response.knee, min(1e-7, response.c * 1e-4)
        left = (float(response(k)) - float(response(k - h))) / h
        right = (float(response(k + h)) - float(response(k))) / h
        assert left == pytest.approx(1.0, abs=1e-4) and right == pytest.approx(1.0, abs=1e-4)


@given(st.floats(0.0, 1.0))
def test_no_nonlinearity_is_linear_whatever_the_limit(limit: float) -> None:
    limit = max(limit, 0.01)
    assert np.array_equal(Response.for_config(0.0, limit)(XS), XS)


def test_float32_frames_use_the_same_curve() -> None:
    response = Response.for_config(0.2, 0.3)
    adu = (XS * 4095).astype(np.float32)
    response.apply_adu(adu, 4095)
    assert adu / 4095 == pytest.approx(response(XS), abs=2e-6)


@pytest.mark.parametrize("share", [0.2, 0.3, 0.5, 0.9, 1.0, 1.05])
def test_mean_of_flat_frames_follows_the_curve(share: float) -> None:
    cfg = small_config(bit_depth=12, nonlinearity=0.2, linear_limit=0.3, prnu=0.0,
                       vignetting=0.0, dust_count=0, read_noise_e=0.0, bias_adu=100.0,
                       full_well_e=1e6)
    with SimulatedCamera(cfg) as cam:
        per_s = (cfg.flux_e_s + cfg.dark_current_e_s) / cfg.e_per_adu_at(cam.gain)
        t = share * 4095 / per_s
        mean = frame_stats(cam.capture(t).frame, AduScale(12)).mean_native
    expected = 100 + 4095 * float(cam.response(share))
    assert mean == pytest.approx(expected, rel=1e-3)
    if share > 0.3:
        assert mean < 100 + 4095 * share * 0.99  # visibly bent above the limit

"""The exposure solver on a synthetic linear camera that clips.

The model camera: mean = bias + rate x t per pixel, pixel responses spread evenly
over +-``spread`` around the mean (vignetting), clipped at full scale; its shot-noise
signal estimate is the true signal inflated by read noise and PRNU as a real frame's
is. No simulator: these tests pin the solver's logic.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.solver import (
    ExposureSolver,
    LinearFit,
    SolverConfig,
    Verdict,
)

TOLERANCE = 0.05


@dataclass(frozen=True)
class ModelCamera:
    """A linear sensor with clipping, as the solver sees it."""

    bits: int
    bias: float
    rate: float  # native ADU per second
    spread: float = 0.2
    read_noise_e: float = 2.0
    prnu: float = 0.006
    e_per_adu: float = 1.0
    pixels: int = 400

    @property
    def full_scale(self) -> float:
        return float(2**self.bits - 1)

    def frame(self, exposure_s: float) -> tuple[float, float, float]:
        """(mean, clipped fraction, shot-noise signal estimate) at ``exposure_s``."""
        signal = self.rate * exposure_s
        values = [
            min(self.bias + signal * (1 - self.spread + 2 * self.spread * (i + 0.5)
                                      / self.pixels), self.full_scale)
            for i in range(self.pixels)
        ]
        mean = sum(values) / len(values)
        clipped = sum(v >= self.full_scale for v in values) / len(values)
        unclipped = signal if clipped == 0 else 0.0
        shot = (unclipped + self.read_noise_e**2 / self.e_per_adu
                + self.e_per_adu * (self.prnu * unclipped) ** 2)
        return mean, clipped, shot


def make_solver(camera: ModelCamera, min_s: float = 32e-6, max_s: float = 120.0,
                **options: object) -> ExposureSolver:
    target = 0.5 * 65535 / 2 ** (16 - camera.bits)
    return ExposureSolver(SolverConfig(
        target_native=target, tolerance_native=TOLERANCE * target,
        full_scale_native=camera.full_scale, min_exposure_s=min_s, max_exposure_s=max_s,
        e_per_adu_native=camera.e_per_adu, **options,  # type: ignore[arg-type]
    ))


def search(camera: ModelCamera, solver: ExposureSolver) -> tuple[Verdict, list[float]]:
    """Drive the solver like the session; returns the last verdict and every exposure."""
    exposure = solver.first_exposure()
    exposures = []
    while True:
        exposures.append(exposure)
        step = solver.observe(exposure, *camera.frame(exposure))
        if step.verdict is not Verdict.NEXT:
            return step.verdict, exposures
        exposure = step.exposure_s


def camera_for(t_star: float, bits: int, bias_fraction: float, **kw: float) -> ModelCamera:
    full = 2**bits - 1
    target = 0.5 * 65535 / 2 ** (16 - bits)
    bias = bias_fraction * full
    return ModelCamera(bits, bias, (target - bias) / t_star, **kw)  # type: ignore[arg-type]


# -- unit tests ------------------------------------------------------------------------
def test_accepts_a_frame_within_tolerance() -> None:
    camera = camera_for(1.0, 14, 0.02)
    solver = make_solver(camera, first_exposure_s=1.0)
    step = solver.observe(1.0, *camera.frame(1.0))
    assert step.verdict is Verdict.ACCEPT
    assert step.exposure_s == 1.0


def test_two_linear_frames_fit_bias_and_rate_exactly() -> None:
    camera = camera_for(2.0, 16, 0.08)
    solver = make_solver(camera)
    solver.observe(0.1, *camera.frame(0.1))
    solver.observe(0.5, *camera.frame(0.5))
    fit = solver.fit()
    assert isinstance(fit, LinearFit) and fit.fitted
    assert fit.bias_native == pytest.approx(camera.bias, rel=1e-9)
    assert fit.exposure_for(solver.config.target_native) == pytest.approx(2.0, rel=1e-9)


def test_signal_estimate_brackets_the_truth() -> None:
    camera = camera_for(1.0, 14, 0.05)
    solver = make_solver(camera)
    for t in (0.003, 0.05, 0.4, 0.9):
        solver.observe(t, *camera.frame(t))
        estimate = solver.signal_estimate(solver.observations[-1])
        truth = camera.rate * t
        assert estimate.low <= truth <= estimate.high
        assert estimate.low <= estimate.best <= estimate.high


def test_bias_hint_is_trusted() -> None:
    camera = camera_for(0.3, 12, 0.1)
    solver = make_solver(camera, bias_hint_native=camera.bias, first_exposure_s=0.01)
    verdict, exposures = search(camera, solver)
    assert verdict is Verdict.ACCEPT
    assert len(exposures) == 2


@pytest.mark.parametrize("start", [0.9, 0.96, 1.1])  # of the right exposure
def test_a_target_kept_above_the_measured_linear_limit_still_converges(start: float) -> None:
    # the user keeps 50 % on a sensor measured linear to 30 %: frames near the target
    # are the ones to steer by (excluding them sent the next exposure to the longest)
    camera = camera_for(0.9, 14, 0.006)
    solver = make_solver(camera, first_exposure_s=0.9 * start,
                         bias_hint_native=camera.bias,
                         linear_ceiling_native=0.3 * camera.full_scale)
    verdict, exposures = search(camera, solver)
    assert verdict is Verdict.ACCEPT
    assert len(exposures) <= 3 and max(exposures) < 2 * 0.9


def test_without_e_per_adu_it_still_converges() -> None:
    camera = camera_for(0.02, 14, 0.06)
    target = 0.5 * 65535 / 4
    solver = ExposureSolver(SolverConfig(target, TOLERANCE * target, camera.full_scale,
                                         32e-6, 120.0))
    verdict, exposures = search(camera, solver)
    assert verdict is Verdict.ACCEPT
    assert len(exposures) <= 5


def test_clipped_at_shortest_exposure_is_too_bright() -> None:
    camera = camera_for(10e-6, 14, 0.02)
    verdict, exposures = search(camera, make_solver(camera))
    assert verdict is Verdict.TOO_BRIGHT
    assert exposures[-1] == pytest.approx(32e-6)
    assert len(exposures) <= 3


def test_below_target_at_longest_exposure_is_too_dark() -> None:
    camera = camera_for(500.0, 16, 0.01)
    verdict, exposures = search(camera, make_solver(camera, max_s=60.0))
    assert verdict is Verdict.TOO_DARK
    assert max(exposures) <= 60.0
    assert len(exposures) <= 4


def test_gives_up_after_max_frames() -> None:
    camera = camera_for(1.0, 14, 0.02)
    solver = make_solver(camera, max_frames=1, first_exposure_s=0.01)
    step = solver.observe(0.01, *camera.frame(0.01))
    assert step.verdict is Verdict.GAVE_UP


@pytest.mark.parametrize(
    "changes",
    [{"target_native": 0.0}, {"tolerance_native": 0.0}, {"min_exposure_s": 0.0},
     {"max_exposure_s": 1e-6}, {"max_frames": 0}, {"e_per_adu_native": -1.0},
     {"first_position": 2.0}],
)
def test_config_refuses_unusable_values(changes: dict[str, float]) -> None:
    base = {"target_native": 8000.0, "tolerance_native": 400.0,
            "full_scale_native": 16383.0, "min_exposure_s": 32e-6, "max_exposure_s": 60.0}
    with pytest.raises(ValueError):
        SolverConfig(**{**base, **changes})  # type: ignore[arg-type]


@pytest.mark.parametrize("t_star", [50e-6, 3e-4, 3e-3, 0.03, 0.3, 3.0, 60.0])
@pytest.mark.parametrize("bits", [12, 14, 16])
@pytest.mark.parametrize("bias_fraction", [0.0, 0.1])
def test_grid_search_frames(t_star: float, bits: int, bias_fraction: float) -> None:
    """Across 50 us..60 s: found within tolerance in at most 4 search frames."""
    e_per_adu = {12: 1.0, 14: 1.0, 16: 0.25}[bits]
    camera = camera_for(t_star, bits, bias_fraction, e_per_adu=e_per_adu)
    verdict, exposures = search(camera, make_solver(camera))
    assert verdict is Verdict.ACCEPT
    assert len(exposures) <= 4
    mean, _, _ = camera.frame(exposures[-1])
    target = 0.5 * 65535 / 2 ** (16 - bits)
    assert abs(mean - target) <= TOLERANCE * target


# -- properties ------------------------------------------------------------------------
reachable = st.tuples(
    st.floats(min_value=50e-6, max_value=60.0),  # t*
    st.sampled_from([12, 14, 16]),
    st.floats(min_value=0.0, max_value=0.1),  # bias share of full scale
    st.floats(min_value=0.0, max_value=0.45),  # vignetting spread
    st.floats(min_value=0.5, max_value=4.0),  # read noise e-
    st.floats(min_value=0.0, max_value=0.01),  # PRNU
    st.floats(min_value=0.2, max_value=6.0),  # e-/ADU
)


@settings(max_examples=300, deadline=None)
@given(reachable)
def test_always_converges_within_bounds(case: tuple[float, ...]) -> None:
    t_star, bits, bias, spread, read_noise, prnu, e_per_adu = case
    camera = camera_for(t_star, int(bits), bias, spread=spread, read_noise_e=read_noise,
                        prnu=prnu, e_per_adu=e_per_adu)
    solver = make_solver(camera)
    verdict, exposures = search(camera, solver)
    assert verdict is Verdict.ACCEPT
    assert all(32e-6 <= t <= 120.0 for t in exposures)
    assert len(exposures) <= 4
    mean, clipped, _ = camera.frame(exposures[-1])
    assert abs(mean - solver.config.target_native) <= solver.config.tolerance_native
    assert clipped == 0


@settings(max_examples=150, deadline=None)
@given(st.floats(min_value=1e-7, max_value=0.9), st.sampled_from([12, 14, 16]),
       st.floats(min_value=0.0, max_value=0.1), st.floats(min_value=1e-5, max_value=1e-3))
def test_too_bright_is_detected(factor: float, bits: int, bias: float, min_s: float) -> None:
    camera = camera_for(min_s * factor, bits, bias)
    verdict, exposures = search(camera, make_solver(camera, min_s=min_s))
    assert verdict is Verdict.TOO_BRIGHT
    assert all(min_s <= t <= 120.0 for t in exposures)
    assert len(exposures) <= 4


@settings(max_examples=150, deadline=None)
@given(st.floats(min_value=1.2, max_value=1e6), st.sampled_from([12, 14, 16]),
       st.floats(min_value=0.0, max_value=0.1), st.floats(min_value=0.01, max_value=300.0))
def test_too_dark_is_detected(factor: float, bits: int, bias: float, max_s: float) -> None:
    camera = camera_for(max_s * factor, bits, bias)
    verdict, exposures = search(camera, make_solver(camera, max_s=max_s))
    assert verdict is Verdict.TOO_DARK
    assert all(32e-6 <= t <= max_s for t in exposures)
    assert len(exposures) <= 5

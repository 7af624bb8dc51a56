"""End to end on the simulator: the exposure the solver accepts is the true one.

Each case sets the simulator's flux so that a known exposure t* gives the target
(50 % of full scale), then runs the session's search (camera -> frame_stats ->
shot-noise estimate -> solver). The accepted exposure must give the target within
tolerance by the simulator's hidden, noise-free truth.
"""

from __future__ import annotations

import pytest

from bench.grid import TOLERANCE, Scenario, random_grid, run_autoflats, target_native

CASES = [
    Scenario(t, bits, colour, bias, seed=i)
    for i, (t, bits, colour, bias) in enumerate([
        (50e-6, 12, False, 0.0),
        (50e-6, 16, True, 0.1),
        (300e-6, 14, True, 0.05),
        (1e-3, 12, True, 0.1),
        (3e-3, 16, False, 0.01),
        (0.03, 14, False, 0.1),
        (0.3, 12, False, 0.05),
        (1.0, 16, True, 0.0),
        (3.0, 14, True, 0.01),
        (10.0, 12, True, 0.0),
        (60.0, 16, False, 0.1),
        (60.0, 14, True, 0.05),
    ])
]


def _check(scenario: Scenario) -> int:
    run = run_autoflats(scenario, 256, 192)
    assert run.found, f"{scenario.label()}: {run.verdict} after {run.exposures}"
    assert run.exposure_s is not None
    assert abs(run.exposure_s / run.true_t_star_s - 1) < 2 * TOLERANCE
    assert run.error_fraction is not None and run.error_fraction <= TOLERANCE
    assert all(32e-6 <= t <= 120.0 for t in run.exposures)
    return run.search_frames


@pytest.mark.parametrize("scenario", CASES, ids=lambda s: s.label().replace(" ", ""))
def test_accepted_exposure_matches_true_t_star(scenario: Scenario) -> None:
    assert _check(scenario) <= 4


def test_target_is_half_full_scale() -> None:
    assert target_native(12) == pytest.approx(2047.97, abs=0.01)
    assert target_native(16) == pytest.approx(32767.5)


@pytest.mark.slow
def test_held_out_random_grid() -> None:
    """A small random grid (sensor parameters drawn too): every case found, <= 4."""
    counts = [_check(scenario) for scenario in random_grid(24, seed=7)]
    assert max(counts) <= 4
    assert sorted(counts)[len(counts) // 2] <= 3

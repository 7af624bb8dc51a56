"""The pinned simulator keys: exposure grid and offset, jitter, reported e-/ADU, colour
channels brighter than green, noise and pattern seeds, and how bad keys are refused."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.adu import AduScale
from app.stats import frame_stats
from drivers.base import ExposureStatus
from drivers.clock import SimulatedClock
from drivers.sim_physics import exposure_on_grid
from drivers.simulator import (
    SimConfig,
    SimConfigError,
    SimulatedCamera,
    load_sim_config,
    sim_config_from_mapping,
)
from tests.conftest import small_config

FLAT = {"prnu": 0.0, "vignetting": 0.0, "dust_count": 0, "bias_adu": 100.0}


def signal(frame: np.ndarray, bits: int = 14, bias: float = 100.0) -> float:  # type: ignore[type-arg]
    return frame_stats(frame, AduScale(bits)).mean_native - bias


@given(requested=st.floats(1e-4, 10.0), step=st.floats(1e-5, 0.5))
def test_grid_rounds_to_the_nearest_step_within_the_range(requested: float, step: float) -> None:
    cfg = small_config(min_exposure_s=1e-4, max_exposure_s=10.0, exposure_step_s=step)
    applied = exposure_on_grid(cfg, requested)
    steps = (applied - 1e-4) / step
    assert steps == pytest.approx(round(steps), abs=1e-6)
    assert 1e-4 <= applied <= 10.0 + 1e-12
    if applied + step <= 10.0:  # not pulled down from above the last grid point
        assert abs(applied - requested) <= step / 2 * (1 + 1e-9) + 1e-15


def test_camera_reports_and_integrates_the_grid_exposure() -> None:
    cfg = small_config(min_exposure_s=1e-4, exposure_step_s=1e-3, flux_e_s=200_000.0,
                       **FLAT)
    with SimulatedCamera(cfg) as cam:
        assert cam.start_exposure(0.0123) == pytest.approx(0.0121)
        cam.abort_exposure()
        shot = cam.capture(0.0123)
        assert shot.exposure_s == pytest.approx(0.0121)
        expected = cam.true_mean_native(0.0121) - 100
        assert signal(shot.frame) == pytest.approx(expected, rel=3e-3)
        assert cam.capture(1e-3).exposure_s == pytest.approx(1.1e-3)


def test_continuous_exposure_by_default() -> None:
    with SimulatedCamera(small_config()) as cam:
        assert cam.capture(0.0123456).exposure_s == 0.0123456


def test_exposure_offset_is_hidden_but_integrated_and_costs_no_time() -> None:
    clock = SimulatedClock(0)
    cfg = small_config(exposure_offset_s=0.05, **FLAT)
    with SimulatedCamera(cfg, clock=clock) as cam:
        short, long = cam.capture(0.1), cam.capture(0.2)
        assert (short.exposure_s, long.exposure_s) == (0.1, 0.2)
        assert signal(long.frame) / signal(short.frame) == pytest.approx(0.25 / 0.15, rel=3e-3)
        assert signal(short.frame) == pytest.approx(cam.true_mean_native(0.1) - 100, rel=3e-3)
        cam.start_exposure(0.2)
        clock.sleep(0.2 + cam.readout_s)
        assert cam.exposure_status() is ExposureStatus.SUCCESS
        cam.read_frame()


@pytest.mark.parametrize("jitter", [0.0, 0.05])
def test_flux_jitter_is_one_factor_per_frame(jitter: float) -> None:
    with SimulatedCamera(small_config(flux_jitter=jitter, **FLAT)) as cam:
        means = np.array([signal(cam.capture(0.2).frame) for _ in range(30)])
    spread = means.std() / means.mean()
    if jitter:
        assert 0.03 < spread < 0.075
        assert means.mean() == pytest.approx(2000 / cam.config.e_per_adu_at(cam.gain), rel=0.04)
    else:
        assert spread < 0.003


def test_reported_e_per_adu_factor_changes_the_report_not_the_physics() -> None:
    frames, reports = [], []
    for factor in (1.0, 1.7):
        with SimulatedCamera(small_config(reported_e_per_adu_factor=factor)) as cam:
            frames.append(cam.capture(0.2).frame)
            reports.append(cam.info.e_per_adu)
    assert reports == [pytest.approx(3.1), pytest.approx(3.1 * 1.7)]
    assert np.array_equal(frames[0], frames[1])


@pytest.mark.parametrize(("bayer", "ratio", "bright"), [
    ("RGGB", (2.0, 1.0, 0.5), (0, 0)),   # red brightest: R at (0, 0)
    ("GBRG", (0.5, 1.0, 3.0), (0, 1)),   # blue brightest: B at (0, 1)
])
def test_a_channel_brighter_than_green_clips_first(bayer: str, ratio: tuple[float, float, float],
                                                   bright: tuple[int, int]) -> None:
    cfg = small_config(bayer=bayer, channel_ratio=ratio, bit_depth=12, **FLAT)
    with SimulatedCamera(cfg) as cam:
        means = frame_stats(cam.capture(0.05).frame, AduScale(12), bayer).channel_means_native
        brightest = "R" if ratio[0] > ratio[2] else "B"
        assert (means[brightest] - 100) / (means["G"] - 100) == pytest.approx(
            max(ratio) / ratio[1], rel=0.01)
        # bright channel about 1.3x full scale, green about 0.65 (or 0.43)x
        per_s = 10_000 / cam.config.e_per_adu_at(cam.gain)
        t = 1.3 * 4095 / (per_s * max(ratio))
        frame = cam.capture(t).frame
    clipped = frame == np.uint16(4095 << 4)
    dy, dx = bright
    assert clipped[dy::2, dx::2].all()
    for gy in (0, 1):
        for gx in (0, 1):
            if (gy, gx) != bright and bayer[2 * gy + gx] == "G":
                assert not clipped[gy::2, gx::2].any()


def test_noise_is_fresh_without_a_seed_but_the_pattern_stays() -> None:
    cfg = small_config(seed=None, prnu=0.05, read_noise_e=0.0, flux_e_s=200_000.0)
    assert SimConfig().seed is None
    frames = []
    for config in (cfg, cfg, small_config(seed=None, prnu=0.05, read_noise_e=0.0,
                                          flux_e_s=200_000.0, pattern_seed=1)):
        with SimulatedCamera(config) as cam:
            cam.set_gain(0)  # 3.1 e-/ADU: about 6400 ADU, well below clipping
            frames.append(cam.capture(0.1).frame.astype(np.float64) / 4)
    assert not np.array_equal(frames[0], frames[1])
    shot = np.sqrt(2 * frames[0].mean() / 3.1)  # std of a difference of two frames, ADU
    assert (frames[0] - frames[1]).std() < 1.3 * shot
    assert (frames[0] - frames[2]).std() > 4 * shot  # another sensor: another pattern


def test_an_explicit_seed_repeats_the_noise() -> None:
    frames = []
    for _ in range(2):
        with SimulatedCamera(small_config(seed=11, flux_jitter=0.1)) as cam:
            frames.append(cam.capture(0.3).frame)
    assert np.array_equal(frames[0], frames[1])


def test_new_keys_load_from_toml(tmp_path: Path) -> None:
    path = tmp_path / "sim.toml"
    path.write_text("exposure_step_s = 0.001\nexposure_offset_s = 0.002\nflux_jitter = 0.01\n"
                    "nonlinearity = 0.2\nlinear_limit = 0.3\nreported_e_per_adu_factor = 2\n"
                    "channel_ratio = [1.5, 1, 0.2]\nseed = 4\npattern_seed = 9\n")
    cfg = load_sim_config(path)
    assert (cfg.exposure_step_s, cfg.exposure_offset_s, cfg.flux_jitter, cfg.nonlinearity,
            cfg.linear_limit, cfg.reported_e_per_adu_factor, cfg.channel_ratio, cfg.seed,
            cfg.pattern_seed) == (0.001, 0.002, 0.01, 0.2, 0.3, 2.0, (1.5, 1.0, 0.2), 4, 9)
    assert load_sim_config(use_env=False).seed is None


@pytest.mark.parametrize(("text", "needle"), [
    ("exposure_step_s = -1", "exposure_step_s = -1.0 is not allowed"),
    ("exposure_offset_s = -0.1", "exposure_offset_s"),
    ("flux_jitter = 2", "flux_jitter = 2.0 is not allowed; use 0"),
    ("nonlinearity = 0.6", "nonlinearity"),
    ("linear_limit = 0", "linear_limit = 0.0 is not allowed"),
    ("linear_limit = 1.5", "linear_limit"),
    ("nonlinearity = 0.1", r"linear_limit = 1.0 is not allowed; with nonlinearity = 0.1 use "
                           r"at most 0.81"),
    ("reported_e_per_adu_factor = 0", "reported_e_per_adu_factor"),
    ("channel_ratio = [1, 1, 101]", "channel_ratio"),
    ("channel_ratio = [1, 0, 1]", "channel_ratio"),
    ("channel_ratio = [1, 1]", "channel_ratio"),
    ("seed = -1", "seed = -1 is not allowed"),
    ("seed = 1.5", "seed must be a whole number"),
    ("pattern_seed = 'a'", "pattern_seed must be a number"),
    ("flux_jiter = 0.1", "unknown key 'flux_jiter'; did you mean 'flux_jitter'?"),
    ("[faults]\nflicker_hertz = 100", "unknown key 'flicker_hertz' in \\[faults\\]; did you "
                                      "mean 'flicker_hz'?"),
])
def test_bad_values_are_refused_in_one_line(tmp_path: Path, text: str, needle: str) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(text + "\n")
    with pytest.raises(SimConfigError, match=needle) as caught:
        load_sim_config(path)
    assert "\n" not in str(caught.value)


def test_an_unknown_key_far_from_any_gets_the_list() -> None:
    with pytest.raises(SimConfigError) as caught:
        sim_config_from_mapping({"zzz": 1}, SimConfig())
    assert "did you mean" not in str(caught.value) and "flux_jitter" in str(caught.value)

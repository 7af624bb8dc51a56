"""The simulated camera obeys the physics it claims."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from app.adu import AduScale
from app.stats import frame_stats
from drivers.base import ExposureStatus
from drivers.clock import SimulatedClock
from drivers.errors import (
    CameraDisconnectedError,
    ExposureAbortedError,
    ExposureFailedError,
    ExposureTimeoutError,
    InvalidValueError,
)
from drivers.simulator import SimConfigError, SimFaults, SimulatedCamera, load_sim_config
from tests.conftest import small_config


@pytest.mark.parametrize("bits", [12, 14, 16])
def test_frames_are_msb_aligned_and_mean_matches_truth(bits: int) -> None:
    with SimulatedCamera(small_config(bit_depth=bits, bias_adu=100)) as cam:
        frame = cam.capture(0.2).frame
        assert frame.dtype == np.uint16 and frame.shape == cam.frame_shape
        assert not np.any(frame & ((1 << (16 - bits)) - 1))
        stats = frame_stats(frame, AduScale(bits))
        assert stats.mean_native == pytest.approx(cam.true_mean_native(0.2), rel=2e-3)


def test_signal_is_linear_in_exposure_and_gain_follows_0_1_db() -> None:
    with SimulatedCamera(small_config(bias_adu=200)) as cam:
        scale = AduScale(14)
        m1 = frame_stats(cam.capture(0.2).frame, scale).mean_native - 200
        m2 = frame_stats(cam.capture(0.4).frame, scale).mean_native - 200
        assert m2 / m1 == pytest.approx(2, rel=5e-3)
        cam.set_gain(cam.gain + 60)  # +6 dB
        m3 = frame_stats(cam.capture(0.2).frame, scale).mean_native - 200
        assert m3 / m1 == pytest.approx(10 ** (60 / 200), rel=5e-3)


def test_clipping_at_full_scale_and_full_well() -> None:
    with SimulatedCamera(small_config(bit_depth=12)) as cam:
        frame = cam.capture(50.0).frame
        assert frame.max() == 4095 << 4
    # gain 0, e/ADU 3.1, 16-bit: the full well (20 000 e-) clips below the ADC maximum
    with SimulatedCamera(small_config(bit_depth=16, full_well_e=20_000, prnu=0,
                                      read_noise_e=0)) as cam:
        cam.set_gain(0)
        frame = cam.capture(50.0).frame
        assert frame.max() == round(20_000 / 3.1) + 100
        assert frame.max() < 65535


def test_exposure_limits_clamp_and_readout_takes_simulated_time() -> None:
    clock = SimulatedClock(0)
    with SimulatedCamera(small_config(min_exposure_s=1e-3), clock=clock) as cam:
        assert cam.start_exposure(1e-6) == 1e-3
        assert cam.exposure_status() is ExposureStatus.WORKING
        clock.sleep(1e-3 + cam.readout_s)
        assert cam.exposure_status() is ExposureStatus.SUCCESS
        cam.read_frame()
        with pytest.raises(InvalidValueError):
            cam.start_exposure(math.nan)


def test_same_seed_same_frames() -> None:
    frames = []
    for _ in range(2):
        with SimulatedCamera(small_config(seed=3)) as cam:
            frames.append(cam.capture(0.3).frame)
    assert np.array_equal(frames[0], frames[1])


def test_colour_channels_follow_channel_ratio() -> None:
    with SimulatedCamera(small_config(bayer="GBRG", channel_ratio=(0.5, 1.0, 0.25),
                                      vignetting=0.0, dust_count=0)) as cam:
        stats = frame_stats(cam.capture(0.5).frame, AduScale(14), "GBRG")
        bias = cam.config.bias_native(cam.offset)
        means = {ch: m - bias for ch, m in stats.channel_means_native.items()}
        assert means["R"] / means["G"] == pytest.approx(0.5, rel=0.01)
        assert means["B"] / means["G"] == pytest.approx(0.25, rel=0.01)


def test_faults_fail_then_retry_succeeds() -> None:
    with SimulatedCamera(small_config(faults=SimFaults(fail_at_frames=(1,)))) as cam:
        frame = cam.capture(0.1).frame
        assert frame.size and cam.frames_started == 2


def test_faults_exhaust_retries_and_hang_times_out() -> None:
    with SimulatedCamera(small_config(faults=SimFaults(fail_at_frames=(1, 2, 3)))) as cam:
        with pytest.raises(ExposureFailedError):
            cam.capture(0.1)
    with SimulatedCamera(small_config(faults=SimFaults(hang_at_frames=(1, 2, 3)))) as cam:
        with pytest.raises(ExposureTimeoutError):
            cam.capture(0.1)
        assert not cam.is_exposing


def test_disconnect_is_not_retried() -> None:
    with SimulatedCamera(small_config(faults=SimFaults(disconnect_at_frame=2))) as cam:
        cam.capture(0.1)
        with pytest.raises(CameraDisconnectedError):
            cam.capture(0.1)
        assert cam.frames_started == 2


def test_cancel_aborts_the_exposure() -> None:
    import threading

    cancel = threading.Event()
    cancel.set()
    with SimulatedCamera(small_config()) as cam:
        with pytest.raises(ExposureAbortedError):
            cam.capture(10.0, cancel=cancel)
        assert not cam.is_exposing


def test_flicker_bands_short_exposures() -> None:
    faults = SimFaults(flicker_hz=100, flicker_duty=0.3)
    with SimulatedCamera(small_config(faults=faults, vignetting=0, dust_count=0,
                                      readout_s_per_mp=1.0)) as cam:
        rows = cam.capture(0.002).frame.mean(axis=1)
        assert rows.std() / rows.mean() > 0.1
        rows = cam.capture(2.0).frame.mean(axis=1)
        assert rows.std() / rows.mean() < 0.02


def test_toml_config_and_errors(tmp_path: Path) -> None:
    good = tmp_path / "sim.toml"
    good.write_text('width = 64\nheight = 48\nbayer = "rggb"\nchannel_ratio = [0.5, 1, 0.7]\n'
                    "bias_adu = 120\n[faults]\nfail_at_frames = [3]\n")
    cfg = load_sim_config(good)
    assert (cfg.width, cfg.bayer, cfg.bias_adu, cfg.faults.fail_at_frames) == (
        64, "RGGB", 120.0, (3,))
    for text, needle in [("width = -3", "width"), ("bit_depth = 20", "bit_depth"),
                         ("flux = 3", "unknown key 'flux'"), ('seed = "x"', "seed"),
                         ("width = 6.5", "whole number"), ("bayer = 'XYZW'", "bayer"),
                         ("[faults]\nflicker_duty = 0", "flicker_duty"),
                         ("width = nan", "width")]:
        bad = tmp_path / "bad.toml"
        bad.write_text(text + "\n")
        with pytest.raises(SimConfigError, match=needle):
            load_sim_config(bad)
    with pytest.raises(InvalidValueError, match="not found"):
        load_sim_config(tmp_path / "missing.toml")


def test_env_config_is_the_default_and_the_file_wins(tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    env = tmp_path / "env.toml"
    env.write_text("width = 100\nheight = 80\n")
    cli = tmp_path / "cli.toml"
    cli.write_text("width = 120\n")
    monkeypatch.setenv("AUTOFLATS_SIM_CONFIG", str(env))
    assert (load_sim_config().width, load_sim_config().height) == (100, 80)
    assert (load_sim_config(cli).width, load_sim_config(cli).height) == (120, 80)

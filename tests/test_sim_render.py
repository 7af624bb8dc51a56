"""The simulated camera renders during the exposure, and takes its light from a hook."""

from __future__ import annotations

import math
import threading
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest

from app.adu import AduScale
from app.stats import frame_stats
from drivers import sim_physics, simulator
from drivers.base import ExposureStatus
from drivers.clock import SimulatedClock
from drivers.errors import CameraError
from drivers.simulator import SimFaults, SimulatedCamera
from tests.conftest import small_config

FLAT = {"prnu": 0.0, "vignetting": 0.0, "dust_count": 0, "bias_adu": 100.0}


def mean_native(frame: np.ndarray, bits: int = 14) -> float:  # type: ignore[type-arg]
    return frame_stats(frame, AduScale(bits)).mean_native


class StubLight:
    """A light whose flux the test sets."""

    def __init__(self, flux: float) -> None:
        self.flux = flux
        self.calls = 0

    def flux_e_s(self) -> float:
        self.calls += 1
        return self.flux


class Bands:
    """Stands in for ``render_band``: records each band and can hold the first one."""

    def __init__(self, hold_first: bool = False) -> None:
        self.real = sim_physics.render_band
        self.calls: list[tuple[str, bool]] = []  # (render thread, read had begun)
        self.hold = hold_first
        self.entered = threading.Event()
        self.release = threading.Event()
        self.read_begun = False

    def __call__(self, *args: Any) -> None:
        if self.hold:
            self.hold = False
            self.entered.set()
            self.release.wait(30)
        self.calls.append((threading.current_thread().name, self.read_begun))
        self.real(*args)

    def of(self, number: int) -> int:
        return sum(name == f"sim-render-{number}" for name, _ in self.calls)


@pytest.fixture
def bands(monkeypatch: pytest.MonkeyPatch) -> Iterator[Bands]:
    """Render in bands of 16 rows (of 256) and record them."""
    recorder = Bands()
    monkeypatch.setattr(simulator, "BAND_PIXELS", 256 * 16)
    monkeypatch.setattr(sim_physics, "render_band", recorder)
    yield recorder
    recorder.release.set()


@pytest.mark.parametrize("time_scale", [0.0, 1.0])
def test_a_frame_read_right_after_the_exposure_ends_is_correct(time_scale: float) -> None:
    clock = SimulatedClock(time_scale)
    with SimulatedCamera(small_config(bias_adu=100.0), clock=clock) as cam:
        cam.start_exposure(0.2)
        clock.sleep(0.2 + cam.readout_s)
        assert cam.exposure_status() is ExposureStatus.SUCCESS
        assert mean_native(cam.read_frame()) == pytest.approx(cam.true_mean_native(0.2),
                                                              rel=2e-3)


def test_capture_finds_the_frame_rendered_during_the_exposure(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Real time, a mid-size frame: every band renders on the worker before the read."""
    recorder = Bands()
    monkeypatch.setattr(simulator, "BAND_PIXELS", 1024 * 64)
    monkeypatch.setattr(sim_physics, "render_band", recorder)
    cfg = small_config(width=1024, height=768, time_scale=1.0, bias_adu=100.0)
    with SimulatedCamera(cfg) as cam:
        read = cam._do_read_frame

        def counting_read(out: Any) -> Any:
            recorder.read_begun = True
            return read(out)

        monkeypatch.setattr(cam, "_do_read_frame", counting_read)
        started = cam.clock.monotonic()
        shot = cam.capture(1.0)
        elapsed = cam.clock.monotonic() - started  # simulated seconds
        truth = cam.true_mean_native(1.0)
    assert recorder.of(1) == 12 == len(recorder.calls)
    assert not any(read_begun for _, read_begun in recorder.calls)
    # the clock follows the wall at time_scale 1: a loaded host's scheduling adds a
    # little, a read that waited for the render would add its whole time
    assert elapsed <= 1.0 + cam.readout_s + cam.poll_interval_s + 0.2
    assert mean_native(shot.frame) == pytest.approx(truth, rel=2e-3)


def test_a_frame_is_never_mixed_between_two_exposures(bands: Bands) -> None:
    light = StubLight(1e5)
    bands.hold = True
    with SimulatedCamera(small_config(**FLAT), light=light) as cam:
        cam.start_exposure(0.1)  # bright: its render is held in its first band
        assert bands.entered.wait(30)
        light.flux = 0.0
        threading.Timer(0.05, bands.release.set).start()
        cam.start_exposure(0.1)  # dark: waits until the bright render gives up
        cam.clock.sleep(0.1 + cam.readout_s)
        dark = cam.read_frame()
    assert bands.of(1) == 1 and bands.of(2) == 12
    assert (dark >> 2).max() < 100 + 30


def test_a_returned_frame_is_the_callers(bands: Bands) -> None:
    light = StubLight(1e5)
    with SimulatedCamera(small_config(**FLAT), light=light) as cam:
        bright = cam.capture(0.1).frame
        into = np.zeros(cam.frame_shape, dtype=np.uint16)
        assert cam.capture(0.1, out=into).frame is into
        kept_bright, kept_into = bright.copy(), into.copy()
        light.flux = 0.0
        cam.capture(0.1)
        cam.capture(0.1, out=np.zeros(cam.frame_shape, dtype=np.uint16))
    assert np.array_equal(bright, kept_bright) and np.array_equal(into, kept_into)
    assert (bright >> 2).min() > 1000 and (into >> 2).min() > 1000


def test_abort_during_the_render_cancels_it_without_waiting(bands: Bands) -> None:
    bands.hold = True
    with SimulatedCamera(small_config(bias_adu=100.0)) as cam:
        cam.start_exposure(0.2)
        assert bands.entered.wait(30)
        aborter = threading.Thread(target=cam.abort_exposure)
        aborter.start()
        aborter.join(10)
        stuck = aborter.is_alive()
        bands.release.set()
        assert not stuck, "abort waited for the render"
        assert cam.exposure_status() is ExposureStatus.IDLE and not cam.is_exposing
        with pytest.raises(CameraError, match="no finished exposure"):
            cam.read_frame()
        shot = cam.capture(0.2)
        assert mean_native(shot.frame) == pytest.approx(cam.true_mean_native(0.2), rel=2e-3)
    assert bands.of(1) == 1 and bands.of(2) == 12


def test_close_during_the_render_stops_it(bands: Bands) -> None:
    bands.hold = True
    cam = SimulatedCamera(small_config())
    cam.open()
    cam.start_exposure(0.2)
    assert bands.entered.wait(30)
    threading.Timer(0.05, bands.release.set).start()
    cam.close()
    assert bands.of(1) == 1
    assert not [t for t in threading.enumerate() if t.name.startswith("sim-render-")]


def test_faulty_exposures_render_nothing(bands: Bands) -> None:
    faults = SimFaults(fail_at_frames=(1,), short_buffer_at_frames=(2,))
    with SimulatedCamera(small_config(faults=faults)) as cam:
        assert cam.capture(0.1).frame.any()
        assert cam.frames_started == 3
    assert bands.of(1) == bands.of(2) == 0 and bands.of(3) == 12


def test_the_light_replaces_flux_and_is_sampled_when_the_exposure_starts() -> None:
    light = StubLight(5000.0)
    clock = SimulatedClock(0)
    with SimulatedCamera(small_config(**FLAT), clock=clock, light=light) as cam:
        cam.start_exposure(0.2)
        light.flux = 1e6  # too late for this frame
        clock.sleep(0.2 + cam.readout_s)
        from_light = mean_native(cam.read_frame()) - 100
        cam.set_light(None)
        from_config = mean_native(cam.capture(0.2).frame) - 100
    assert light.calls >= 1
    assert from_light / from_config == pytest.approx(5000 / 10_000, rel=3e-3)


def test_light_off_gives_a_dark_frame_at_bias_plus_dark_current() -> None:
    cfg = small_config(dark_current_e_s=50.0, **FLAT)
    with SimulatedCamera(cfg, light=StubLight(0.0)) as cam:
        dark = mean_native(cam.capture(2.0).frame)
        expected = 100 + 50.0 * 2.0 / cfg.e_per_adu_at(cam.gain)
        assert dark == pytest.approx(expected, rel=2e-3)
        assert cam.true_mean_native(2.0) == pytest.approx(expected)
    with SimulatedCamera(small_config(**FLAT), light=StubLight(0.0)) as cam:
        assert mean_native(cam.capture(1.0).frame) == pytest.approx(100, abs=0.1)


def test_drift_applies_on_top_of_the_light() -> None:
    clock = SimulatedClock(0)
    faults = SimFaults(flux_drift_per_s=0.05)
    with SimulatedCamera(small_config(faults=faults, **FLAT), clock=clock,
                         light=StubLight(5000.0)) as cam:
        t1 = clock.monotonic()
        first = mean_native(cam.capture(0.2).frame) - 100
        clock.sleep(10.0)
        t2 = clock.monotonic()
        later = mean_native(cam.capture(0.2).frame) - 100
    assert later / first == pytest.approx(math.exp(0.05 * (t2 - t1)), rel=3e-3)


@pytest.mark.parametrize("flux", [math.nan, -1.0, math.inf])
def test_a_light_with_a_bad_value_is_refused(flux: float) -> None:
    with SimulatedCamera(small_config(), light=StubLight(flux)) as cam:
        with pytest.raises(CameraError, match="simulated light"):
            cam.start_exposure(0.1)
        assert cam.frames_started == 0

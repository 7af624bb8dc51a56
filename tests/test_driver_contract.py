"""Contract tests every camera driver passes (python-microscope's test-suite idea).

Run on the simulators (mono and DSLR), on the ZWO and QHY drivers over their fake
SDKs and on the gphoto2 DSLR driver over its fake libgphoto2. A new driver joins by
adding a builder to ``BUILDERS`` that can inject the shared faults.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace

import numpy as np
import pytest

from drivers.base import Camera, ExposureStatus, binned_shape
from drivers.clock import SimulatedClock
from drivers.errors import (
    CameraDisconnectedError,
    CameraError,
    ExposureAbortedError,
    ExposureFailedError,
    FrameError,
    InvalidValueError,
    UnsupportedError,
)
from drivers.gphoto import GphotoCamera
from drivers.sim_dslr import DSLR_PRESET, SimulatedDslr
from drivers.simulator import SimFaults, SimulatedCamera
from drivers.zwo import ZwoCamera
from tests.conftest import small_config
from tests.dslr.fake_gphoto import FakeGphotoBackend, decode_fake_raw
from tests.qhy.fake_qhy import FakeQhySdk
from tests.zwo.fake_sdk import FakeZwoSdk


@dataclass
class Faults:
    """Faults by exposure number (1 = first exposure), in driver-neutral terms."""

    fail: set[int] = field(default_factory=set)
    hang: set[int] = field(default_factory=set)
    short: set[int] = field(default_factory=set)
    disconnect: int | None = None


def _sim(faults: Faults) -> Camera:
    config = small_config(faults=SimFaults(
        fail_at_frames=tuple(sorted(faults.fail)), hang_at_frames=tuple(sorted(faults.hang)),
        short_buffer_at_frames=tuple(sorted(faults.short)),
        disconnect_at_frame=faults.disconnect))
    return SimulatedCamera(config)


def _zwo(model: str) -> Callable[[Faults], Camera]:
    def build(faults: Faults) -> Camera:
        sdk = FakeZwoSdk(model)
        fake = sdk.cameras[0].faults
        fake.fail_at, fake.hang_at, fake.short_at = faults.fail, faults.hang, faults.short
        fake.remove_at = faults.disconnect
        return ZwoCamera(0, sdk=sdk, clock=sdk.clock)
    return build


def _sim_dslr(faults: Faults) -> Camera:
    config = replace(DSLR_PRESET, width=240, height=160, time_scale=0.0, seed=0, flux_e_s=40000.0,
                     faults=SimFaults(
        fail_at_frames=tuple(sorted(faults.fail)), hang_at_frames=tuple(sorted(faults.hang)),
        short_buffer_at_frames=tuple(sorted(faults.short)),
        disconnect_at_frame=faults.disconnect))
    return SimulatedDslr(config)


def _gphoto(faults: Faults) -> Camera:
    backend = FakeGphotoBackend()
    fake = backend.faults
    fake.fail_at, fake.hang_at, fake.short_at = faults.fail, faults.hang, faults.short
    fake.remove_at = faults.disconnect
    return GphotoCamera(backend.port, backend=backend, decoder=decode_fake_raw,
                        clock=backend.clock)


def _qhy(model: str) -> Callable[[Faults], Camera]:
    def build(faults: Faults) -> Camera:
        from drivers.qhy import QhyCamera
        sdk = FakeQhySdk(model)
        fake = sdk.cameras[0].faults
        fake.fail_at, fake.hang_at, fake.short_at = faults.fail, faults.hang, faults.short
        fake.remove_at = faults.disconnect
        return QhyCamera(0, sdk=sdk, clock=sdk.clock)
    return build


BUILDERS: dict[str, Callable[[Faults], Camera]] = {
    "sim": _sim,
    "sim-dslr": _sim_dslr,
    "gphoto-fake": _gphoto,
    "qhy-268m": _qhy("268m"),
    "qhy-183c": _qhy("183c"),
    "zwo-mono12": _zwo("mono12"),
    "zwo-color14": _zwo("color14"),
    "zwo-mono16": _zwo("mono16"),
    "zwo-uncooled": _zwo("uncooled"),
}


@pytest.fixture(params=sorted(BUILDERS))
def build(request: pytest.FixtureRequest) -> Callable[..., Camera]:
    builder = BUILDERS[request.param]

    def make(**faults: object) -> Camera:
        return builder(Faults(**faults))  # type: ignore[arg-type]
    return make


@pytest.fixture
def camera(build: Callable[..., Camera]) -> Iterator[Camera]:
    with build() as cam:
        yield cam


def test_info_and_controls_are_consistent(camera: Camera) -> None:
    info, controls = camera.info, camera.controls
    assert 8 <= info.bit_depth <= 16 and 1 in info.supported_bins
    assert camera.frame_shape == binned_shape(info, camera.binning)
    for limits in (controls.exposure_s, controls.gain, controls.offset):
        assert limits.minimum <= limits.default <= limits.maximum
    # DSLRs stop at 30 s (bulb is never used for flats)
    assert 0 < controls.exposure_s.minimum < 0.001 and controls.exposure_s.maximum >= 30
    assert controls.gain.contains(camera.gain) and controls.offset.contains(camera.offset)
    assert camera.readout_s > 0


def test_capture_gives_msb_aligned_uint16_frames(camera: Camera) -> None:
    frame = camera.capture(0.1).frame
    assert frame.dtype == np.uint16 and frame.shape == camera.frame_shape
    shift = 16 - camera.info.bit_depth
    if shift:
        assert not np.any(frame & np.uint16((1 << shift) - 1))
    assert frame.any()


def test_signal_grows_with_exposure(camera: Camera) -> None:
    short = float(camera.capture(0.05).frame.mean())
    long = float(camera.capture(0.2).frame.mean())
    assert long > short * 1.5


def test_capture_fills_out_in_place(camera: Camera) -> None:
    out = np.zeros(camera.frame_shape, dtype=np.uint16)
    assert camera.capture(0.1, out=out).frame is out and out.any()
    with pytest.raises(ValueError):
        camera.read_frame(np.zeros((3, 3), dtype=np.uint16))


def test_status_runs_working_then_success(camera: Camera) -> None:
    actual = camera.start_exposure(1.0)
    assert actual == pytest.approx(1.0)
    assert camera.exposure_status() is ExposureStatus.WORKING
    camera.clock.sleep(1.0 + camera.readout_s + 0.01)
    assert camera.exposure_status() is ExposureStatus.SUCCESS
    assert camera.read_frame().shape == camera.frame_shape


def test_an_exposure_begun_ahead_is_read_not_taken_again(camera: Camera) -> None:
    reference = float(camera.capture(0.2).frame.mean())
    started = camera.begin(0.2)
    camera.clock.sleep(0.1)  # the program handles the last frame meanwhile
    taken = camera.capture(0.2, started=started)
    assert taken.exposure_s == started.exposure_s
    assert taken.started_at == started.started_at
    # read at the end of that exposure, not of a second one started at the capture
    took_s = camera.clock.monotonic() - started.started_at
    assert took_s < started.exposure_s + camera.readout_s + 0.09
    assert float(taken.frame.mean()) == pytest.approx(reference, rel=0.1)


def test_an_exposure_begun_for_another_time_is_replaced(camera: Camera) -> None:
    ahead = camera.begin(0.5)
    taken = camera.capture(0.1, started=ahead)
    assert taken.exposure_s == pytest.approx(0.1, rel=0.01)
    assert taken.frame.shape == camera.frame_shape


def test_a_failed_exposure_begun_ahead_is_retried(build: Callable[..., Camera]) -> None:
    with build(fail={1}) as cam:
        started = cam.begin(0.1)
        taken = cam.capture(0.1, started=started)
        assert taken.frame.shape == cam.frame_shape
        assert taken.started_at is not None and taken.started_at > started.started_at


def test_a_host_stall_after_a_status_poll_is_no_timeout() -> None:
    class Stalling(SimulatedCamera):
        stalled = False

        def _do_exposure_status(self) -> ExposureStatus:
            status = super()._do_exposure_status()
            if status is ExposureStatus.WORKING and not self.stalled and self.is_exposing:
                left = self._exposure.ends_s - self.clock.monotonic()  # type: ignore[union-attr]
                if left < 0.01:  # about to finish: the host stalls right after asking
                    self.stalled = True
                    self.clock.sleep(10.0)
            return status

    with Stalling(small_config()) as cam:
        cam.capture(1.0)
        assert cam.stalled and cam.frames_started == 1  # read, not timed out and retried


def test_too_short_exposure_is_clamped_with_warning(
    camera: Camera, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING):
        actual = camera.start_exposure(1e-9)
    camera.abort_exposure()
    assert actual == pytest.approx(camera.controls.exposure_s.minimum)
    assert "outside" in caplog.text


def test_settings_are_validated(camera: Camera) -> None:
    gain = camera.controls.gain
    camera.set_gain(int(gain.minimum))
    assert camera.gain == int(gain.minimum)
    with pytest.raises(InvalidValueError):
        camera.set_gain(int(gain.maximum) + 1)
    with pytest.raises(InvalidValueError):
        camera.set_offset(-1)
    with pytest.raises(UnsupportedError):
        camera.set_binning(7)


def test_binning_changes_the_frame(camera: Camera) -> None:
    if 2 not in camera.info.supported_bins:
        pytest.skip("this camera does not bin (a DSLR)")
    camera.set_binning(2)
    assert camera.frame_shape == binned_shape(camera.info, 2)
    assert camera.capture(0.1).frame.shape == camera.frame_shape


def test_abort_leaves_the_camera_idle(camera: Camera) -> None:
    camera.start_exposure(5.0)
    camera.abort_exposure()
    assert camera.exposure_status() is ExposureStatus.IDLE
    camera.abort_exposure()  # harmless when idle


def test_cancel_raises_aborted(camera: Camera) -> None:
    cancel = threading.Event()
    cancel.set()
    with pytest.raises(ExposureAbortedError):
        camera.capture(5.0, cancel=cancel)
    assert camera.exposure_status() is not ExposureStatus.WORKING


def test_cooler(camera: Camera) -> None:
    temperature = camera.temperature_c()
    assert temperature is None or -60 < temperature < 60
    if camera.info.has_cooler:
        camera.set_cooler(True, -10)
        assert camera.cooler_state() == (True, -10.0)
    else:
        with pytest.raises(UnsupportedError):
            camera.set_cooler(True, -10)
        assert camera.cooler_state() == (False, None)


def test_close_is_idempotent_and_blocks_use(build: Callable[..., Camera]) -> None:
    cam = build()
    with cam:
        assert cam.is_open
    assert not cam.is_open
    cam.close()
    with pytest.raises(CameraError):
        cam.capture(0.1)


def test_failed_exposure_is_retried(build: Callable[..., Camera]) -> None:
    with build(fail={1}) as cam:
        assert cam.capture(0.1).frame.shape == cam.frame_shape


def test_hung_exposure_times_out_and_is_retried(build: Callable[..., Camera]) -> None:
    with build(hang={1}) as cam:
        before = cam.clock.monotonic()
        cam.capture(0.5)
        assert cam.clock.monotonic() - before >= 0.5 + 2.0


def test_short_frame_is_retried(build: Callable[..., Camera]) -> None:
    with build(short={1}) as cam:
        assert cam.capture(0.1).frame.shape == cam.frame_shape


def test_persistent_faults_raise_typed_errors(build: Callable[..., Camera]) -> None:
    with build(fail={1, 2, 3}) as cam, pytest.raises(ExposureFailedError):
        cam.capture(0.1)
    with build(short={1, 2, 3}) as cam, pytest.raises(FrameError):
        cam.capture(0.1)


def test_disconnect_is_not_retried(build: Callable[..., Camera]) -> None:
    with build(disconnect=2) as cam:
        cam.capture(0.1)
        with pytest.raises(CameraDisconnectedError):
            cam.capture(0.1)


def test_simulated_clock_makes_long_exposures_instant(build: Callable[..., Camera]) -> None:
    with build() as cam:
        assert isinstance(cam.clock, SimulatedClock)
        exposure_s = min(300.0, cam.controls.exposure_s.maximum)
        cam.capture(exposure_s)
        assert cam.clock.monotonic() >= exposure_s

"""The driver contract, run over the fake libASICamera2 in C through zwoasi's ctypes calls.

The same checks as ``tests/test_driver_contract.py``, in real (short) time: the fake
exposes for the exposure time plus a 20 ms readout. Exposures stay at tens of
milliseconds and no assertion depends on how fast the machine is.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator

import numpy as np
import pytest

from drivers import zwo_sdk as z
from drivers.base import ExposureStatus, binned_shape
from drivers.errors import (
    CameraDisconnectedError,
    CameraError,
    ExposureAbortedError,
    ExposureFailedError,
    ExposureTimeoutError,
    InvalidValueError,
    UnsupportedError,
)
from drivers.zwo import ZwoCamera
from drivers.zwo_sdk import SdkError
from tests.zwo.cfake import FakeAsi

#: camera specs by model; IDs are never the index (0)
SPECS = {"mono12": "model=mono12,id=5", "color14": "model=color14,id=9",
         "mono16": "model=mono16,id=12"}
IDS = {"mono12": 5, "color14": 9, "mono16": 12}
SHORT_S = 0.02


@pytest.fixture(params=sorted(SPECS))
def model(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def camera(asi: FakeAsi, model: str) -> Iterator[ZwoCamera]:
    asi.configure(SPECS[model])
    with asi.camera(0) as cam:
        yield cam


def test_info_and_controls_are_consistent(camera: ZwoCamera, model: str) -> None:
    info, controls = camera.info, camera.controls
    assert camera.camera_id == IDS[model] != camera.index
    assert info.bit_depth == {"mono12": 12, "color14": 14, "mono16": 16}[model]
    assert info.is_color == (model == "color14") and 1 in info.supported_bins
    assert camera.frame_shape == binned_shape(info, 1)
    assert controls.exposure_s.minimum == pytest.approx(32e-6)
    assert controls.exposure_s.maximum >= 60
    assert controls.gain.contains(camera.gain) and controls.offset.contains(camera.offset)


def test_capture_gives_msb_aligned_uint16_frames(camera: ZwoCamera) -> None:
    capture = camera.capture(SHORT_S)
    frame = capture.frame
    assert frame.dtype == np.uint16 and frame.shape == camera.frame_shape
    assert capture.exposure_s == pytest.approx(SHORT_S)
    shift = 16 - camera.info.bit_depth
    if shift:
        assert not np.any(frame & np.uint16((1 << shift) - 1))
        assert np.any(frame >> np.uint16(shift))
    assert frame.min() > 0


def test_colour_channels_come_out_where_the_bayer_pattern_says(asi: FakeAsi) -> None:
    asi.configure("model=color14,id=9")
    with asi.camera(0) as camera:
        frame = camera.capture(SHORT_S).frame.astype(float)
    bias = 2.0 * camera.offset * 4  # native bias x 2^(16 - 14)
    red, green, blue = (frame[0::2, 0::2].mean() - bias, frame[0::2, 1::2].mean() - bias,
                        frame[1::2, 1::2].mean() - bias)
    assert camera.info.bayer_pattern == "RGGB"
    assert red == pytest.approx(0.5 * green, rel=0.03)
    assert blue == pytest.approx(0.25 * green, rel=0.03)


def test_signal_grows_with_exposure_and_gain(camera: ZwoCamera) -> None:
    short = float(camera.capture(0.01).frame.mean())
    long = float(camera.capture(0.04).frame.mean())
    assert long > short * 1.5
    camera.set_gain(int(camera.controls.gain.minimum))
    assert float(camera.capture(0.04).frame.mean()) < long


def test_capture_fills_out_in_place(camera: ZwoCamera) -> None:
    out = np.zeros(camera.frame_shape, dtype=np.uint16)
    assert camera.capture(SHORT_S, out=out).frame is out and out.any()
    with pytest.raises(ValueError):
        camera.read_frame(np.zeros((3, 3), dtype=np.uint16))


def test_status_runs_working_then_success(camera: ZwoCamera) -> None:
    started = time.monotonic()
    assert camera.start_exposure(0.2) == pytest.approx(0.2)
    status = camera.exposure_status()
    if time.monotonic() - started < 0.2:  # a loaded machine may have slept past the end
        assert status is ExposureStatus.WORKING
    deadline = started + 10.0
    while status is ExposureStatus.WORKING and time.monotonic() < deadline:
        time.sleep(0.01)
        status = camera.exposure_status()
    assert status is ExposureStatus.SUCCESS
    assert time.monotonic() - started >= 0.2 + 0.02  # exposure plus readout
    assert camera.read_frame().shape == camera.frame_shape
    assert camera.exposure_status() is ExposureStatus.IDLE


def test_settings_are_validated_and_applied(asi: FakeAsi, camera: ZwoCamera,
                                            model: str) -> None:
    gain, offset = camera.controls.gain, camera.controls.offset
    camera.set_gain(int(gain.minimum) + 1)
    camera.set_offset(int(offset.maximum) - 1)
    assert asi.sdk.get_control_value(IDS[model], 0) == (int(gain.minimum) + 1, False)
    assert asi.sdk.get_control_value(IDS[model], 5) == (int(offset.maximum) - 1, False)
    with pytest.raises(InvalidValueError):
        camera.set_gain(int(gain.maximum) + 1)
    with pytest.raises(InvalidValueError):
        camera.set_offset(-1)
    with pytest.raises(UnsupportedError):
        camera.set_binning(7)


def test_binning_changes_the_frame(asi: FakeAsi, camera: ZwoCamera, model: str) -> None:
    full = float(camera.capture(SHORT_S).frame.mean())
    camera.set_binning(2)
    assert asi.sdk.get_roi_format(IDS[model])[2] == 2
    frame = camera.capture(SHORT_S).frame
    assert frame.shape == camera.frame_shape == binned_shape(camera.info, 2)
    if camera.info.bit_depth < 16:
        assert float(frame.mean()) > full  # four pixels' light in one


def test_abort_leaves_the_camera_idle(asi: FakeAsi, camera: ZwoCamera, model: str) -> None:
    camera.start_exposure(5.0)
    camera.abort_exposure()
    assert camera.exposure_status() is ExposureStatus.IDLE
    camera.abort_exposure()
    assert asi.count(IDS[model], "stops") == 2


def test_cancel_raises_aborted(asi: FakeAsi, camera: ZwoCamera, model: str) -> None:
    cancel = threading.Event()
    timer = threading.Timer(0.1, cancel.set)
    timer.start()
    try:
        with pytest.raises(ExposureAbortedError):
            camera.capture(30.0, cancel=cancel)
    finally:
        timer.cancel()
    assert camera.exposure_status() is ExposureStatus.IDLE
    assert asi.count(IDS[model], "reads") == 0


def test_cooler_and_temperature(camera: ZwoCamera) -> None:
    assert camera.temperature_c() == pytest.approx(21.3)
    camera.set_cooler(True, -10)
    assert camera.cooler_state() == (True, -10.0)
    assert camera.temperature_c() == pytest.approx(-10.0)


def test_close_is_idempotent_and_blocks_use(asi: FakeAsi) -> None:
    camera = asi.camera(1)
    with camera:
        assert camera.is_open
        camera.start_exposure(5.0)
    assert not camera.is_open
    camera.close()
    assert asi.count(7, "stops") == 1
    with pytest.raises(CameraError, match="not open"):
        camera.capture(SHORT_S)
    with pytest.raises(SdkError) as closed:
        asi.sdk.get_control_value(7, 0)
    assert closed.value.code == z.ASI_ERROR_CAMERA_CLOSED


def test_failed_exposure_is_stopped_and_retried(asi: FakeAsi) -> None:
    asi.fault(3, "fail", 1)
    with asi.camera(0) as camera:
        assert camera.capture(SHORT_S).frame.any()
    assert asi.count(3, "starts") == 2 and asi.count(3, "reads") == 1


def test_persistent_failure_raises_after_bounded_retries(asi: FakeAsi) -> None:
    for n in (1, 2, 3):
        asi.fault(3, "fail", n)
    with asi.camera(0) as camera, pytest.raises(ExposureFailedError, match="failed exposure"):
        camera.capture(SHORT_S)
    assert asi.count(3, "starts") == 3


def test_hung_exposure_times_out_and_is_retried(asi: FakeAsi) -> None:
    asi.fault(3, "hang", 1)
    with asi.camera(0) as camera:
        assert camera.capture(SHORT_S, timeout_margin_s=1.0).frame.any()
    assert asi.count(3, "starts") == 2


def test_always_hung_exposure_raises_a_timeout(asi: FakeAsi) -> None:
    for n in (1, 2, 3):
        asi.fault(3, "hang", n)
    with asi.camera(0) as camera, pytest.raises(ExposureTimeoutError, match="did not finish"):
        camera.capture(SHORT_S, timeout_margin_s=0.1)
    assert asi.count(3, "starts") == 3


def test_download_timeout_is_retried(asi: FakeAsi) -> None:
    asi.fault(3, "read_timeout", 1)
    with asi.camera(0) as camera:
        assert camera.capture(SHORT_S).frame.any()
    assert asi.count(3, "starts") == 2 and asi.count(3, "reads") == 1


def test_start_errors_are_retried_like_indi(asi: FakeAsi) -> None:
    asi.fault(3, "start_errors", 2)
    with asi.camera(0) as camera:
        assert camera.capture(SHORT_S).frame.any()
    assert asi.count(3, "start_calls") == 3 and asi.count(3, "starts") == 1


def test_disconnect_is_not_retried(asi: FakeAsi) -> None:
    asi.fault(3, "remove", 2)
    with asi.camera(0) as camera:
        camera.capture(SHORT_S)
        with pytest.raises(CameraDisconnectedError, match="USB cable"):
            camera.capture(SHORT_S)
        assert asi.count(3, "starts") == 2
        with pytest.raises(CameraDisconnectedError):
            camera.set_gain(100)
    assert not camera.is_open
    assert asi.sdk.num_cameras() == 1  # the removed camera left the list


def test_a_camera_clamps_exposure_silently_and_the_driver_says_so(
    asi: FakeAsi, caplog: pytest.LogCaptureFixture
) -> None:
    with asi.camera(0) as camera, caplog.at_level(logging.WARNING):
        assert camera.start_exposure(1e-9) == pytest.approx(32e-6)
        camera.abort_exposure()
    assert "outside" in caplog.text

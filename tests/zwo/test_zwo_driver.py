"""The ZWO driver over the fake SDK: conversions, buffers, retries, errors, cooling."""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

import numpy as np
import pytest

from drivers import zwo_sdk as z
from drivers.base import ExposureStatus, binned_shape
from drivers.clock import SimulatedClock
from drivers.errors import (
    CameraDisconnectedError,
    CameraError,
    ExposureAbortedError,
    ExposureFailedError,
    ExposureTimeoutError,
    FrameError,
    InvalidValueError,
    LibraryLoadError,
    UnsupportedError,
)
from drivers.zwo import ZwoCamera, list_zwo_cameras, map_sdk_error, open_zwo_camera
from drivers.zwo_sdk import SdkError
from tests.zwo.fake_sdk import BAYER_LAYOUT, MODELS, FakeModel, FakeZwoSdk


def make(model: str | FakeModel = "mono12", **kwargs: Any) -> tuple[ZwoCamera, FakeZwoSdk]:
    sdk = FakeZwoSdk(model)
    return ZwoCamera(0, sdk=sdk, clock=sdk.clock, **kwargs), sdk


# -- properties ------------------------------------------------------------------------
@pytest.mark.parametrize("key", sorted(MODELS))
def test_info_comes_from_the_camera_properties(key: str) -> None:
    model = MODELS[key]
    camera, _ = make(key)
    info = camera.info
    assert (info.model, info.width, info.height) == (model.name, model.width, model.height)
    assert info.bit_depth == model.bit_depth
    assert info.pixel_size_um == model.pixel_size_um
    assert info.e_per_adu == pytest.approx(model.e_per_adu)
    assert info.supported_bins == model.bins
    assert info.has_cooler == model.cooler
    assert info.driver == "zwo"
    assert info.bayer_pattern == (BAYER_LAYOUT[model.bayer_code] if model.color else None)


@pytest.mark.parametrize(("code", "pattern"), [(0, "RGGB"), (1, "BGGR"), (2, "GRBG"),
                                               (3, "GBRG")])
def test_bayer_codes_map_and_match_the_pixels(code: int, pattern: str) -> None:
    camera, _ = make(FakeModel(name="ZWO ASI585MC", width=64, height=48, bit_depth=12,
                               color=True, bayer_code=code, offset_default=0))
    assert camera.info.bayer_pattern == pattern
    with camera:
        frame = camera.capture(1.0).frame.astype(float)
    means = {pattern[2 * dy + dx] + str(dy * 2 + dx): frame[dy::2, dx::2].mean()
             for dy in (0, 1) for dx in (0, 1)}
    red = next(v for k, v in means.items() if k[0] == "R")
    blue = next(v for k, v in means.items() if k[0] == "B")
    greens = [v for k, v in means.items() if k[0] == "G"]
    assert red == pytest.approx(0.5 * greens[0], rel=0.02)
    assert blue == pytest.approx(0.25 * greens[1], rel=0.02)


def test_controls_need_an_open_camera_and_come_from_the_caps() -> None:
    camera, _ = make("mono12")
    with pytest.raises(CameraError, match="not open"):
        _ = camera.controls
    with camera:
        controls = camera.controls
        assert controls.exposure_s.minimum == pytest.approx(32e-6)
        assert controls.exposure_s.maximum == pytest.approx(2000.0)
        assert (controls.gain.minimum, controls.gain.maximum, controls.gain.default) == (
            0, 300, 139)
        assert controls.offset.maximum == 255
        assert camera.gain == 139 and camera.offset == 21
        assert camera.control_range("BandWidth") is not None
        assert camera.control_range(z.ASI_TEMPERATURE) is not None


def test_open_sets_raw16_full_sensor_high_speed_off_bandwidth_default() -> None:
    camera, sdk = make("mono12")
    with camera:
        fake = sdk.cameras[0]
        assert fake.roi == (96, 70, 1, z.ASI_IMG_RAW16)  # width 100 -> multiple of 8
        assert fake.start_pos == (0, 0)
        assert fake.values[z.ASI_HIGH_SPEED_MODE] == 0
        assert fake.values[z.ASI_BANDWIDTHOVERLOAD] == 50 == camera.bandwidth
        assert fake.values[z.ASI_GAIN] == 139 and fake.values[z.ASI_OFFSET] == 21
        assert all(auto is False for kind, args in fake.calls if kind == "set"
                   for auto in args[2:])
        assert camera.frame_shape == (70, 96)


def test_bandwidth_request_is_clamped_with_a_warning(caplog: pytest.LogCaptureFixture) -> None:
    camera, sdk = make("mono12", bandwidth_percent=150)
    with caplog.at_level(logging.WARNING), camera:
        assert sdk.cameras[0].values[z.ASI_BANDWIDTHOVERLOAD] == 100
    assert "bandwidth 150" in caplog.text


def test_binning_sets_the_binned_roi() -> None:
    camera, sdk = make("mono12")
    with camera:
        camera.set_binning(2)
        assert sdk.cameras[0].roi == (48, 34, 2, z.ASI_IMG_RAW16)
        assert camera.frame_shape == binned_shape(camera.info, 2) == (34, 48)
        assert camera.capture(0.5).frame.shape == (34, 48)
    uncooled, _ = make("uncooled")
    with uncooled, pytest.raises(UnsupportedError, match="binning 3"):
        uncooled.set_binning(3)


# -- exposure conversion and clamping ---------------------------------------------------
def test_exposure_is_sent_in_microseconds() -> None:
    camera, sdk = make("mono12")
    with camera:
        camera.capture(1.5)
        camera.capture(0.0012345)
    starts = [args[0] for kind, args in sdk.cameras[0].calls if kind == "start"]
    assert starts == [1_500_000, 1234]


def test_out_of_range_exposure_is_clamped_with_a_warning(
    caplog: pytest.LogCaptureFixture,
) -> None:
    camera, sdk = make("mono12")
    with camera, caplog.at_level(logging.WARNING):
        assert camera.start_exposure(1e-6) == pytest.approx(32e-6)
        camera.abort_exposure()
    assert sdk.cameras[0].values[z.ASI_EXPOSURE] == 32
    assert "outside" in caplog.text


def test_a_silent_clamp_by_the_camera_is_reported(caplog: pytest.LogCaptureFixture) -> None:
    camera, sdk = make("mono12")
    with camera:
        sdk.cameras[0].controls[z.ASI_EXPOSURE].maximum = 1_000_000  # firmware says 1 s
        with caplog.at_level(logging.WARNING):
            capture = camera.capture(2.0)
    assert sdk.cameras[0].values[z.ASI_EXPOSURE] == 1_000_000
    assert capture.exposure_s == pytest.approx(1.0)  # what the camera applied
    assert "applied 1000000 us for the 2000000 us asked" in caplog.text


def test_a_gain_the_camera_does_not_keep_is_an_error() -> None:
    camera, sdk = make("mono12")
    with camera:
        sdk.cameras[0].controls[z.ASI_GAIN].maximum = 200
        with pytest.raises(InvalidValueError, match="kept gain 200"):
            camera.set_gain(250)
        with pytest.raises(InvalidValueError):
            camera.set_gain(301)  # outside the range read on open: refused before the SDK


# -- pixels and buffers -----------------------------------------------------------------
@pytest.mark.parametrize("key", ["mono12", "color14", "mono16"])
def test_raw16_is_msb_aligned_as_delivered(key: str) -> None:
    camera, sdk = make(key)
    with camera:
        frame = camera.capture(0.2).frame
        native = sdk.cameras[0].pixels()
    shift = 16 - MODELS[key].bit_depth
    assert frame.dtype == np.uint16
    np.testing.assert_array_equal(frame, native << np.uint16(shift))
    if shift:
        assert not np.any(frame % (1 << shift))
        assert frame.max() <= (2 ** MODELS[key].bit_depth - 1) << shift


def test_read_into_out_fills_it_in_place() -> None:
    camera, _ = make("mono12")
    with camera:
        out = np.zeros(camera.frame_shape, dtype=np.uint16)
        frame = camera.capture(0.3, out=out).frame
        assert frame is out and out.any()


def test_without_out_one_driver_buffer_is_reused_per_shape() -> None:
    camera, _ = make("mono12")
    with camera:
        first = camera.capture(0.3).frame
        second = camera.capture(0.6).frame
        assert second is first  # no new full-size array per frame
        camera.set_binning(2)
        binned = camera.capture(0.3).frame
        assert binned is not first and binned.shape == camera.frame_shape


# -- retries, timeouts, aborts, errors ------------------------------------------------------
def test_failed_exposure_is_stopped_and_retried() -> None:
    camera, sdk = make("mono12")
    fake = sdk.cameras[0]
    fake.faults.fail_at = {1}
    with camera:
        camera.capture(0.5)
    assert fake.exposures_started == 2 and fake.stops >= 1 and fake.reads == 1


def test_persistent_failure_raises_after_bounded_retries() -> None:
    camera, sdk = make("mono12")
    fake = sdk.cameras[0]
    fake.faults.fail_at = set(range(1, 10))
    with camera, pytest.raises(ExposureFailedError):
        camera.capture(0.5)
    assert fake.exposures_started == camera.max_retries + 1


def test_never_finishing_exposure_times_out_then_retries() -> None:
    camera, sdk = make("mono12")
    fake = sdk.cameras[0]
    fake.faults.hang_at = {1, 2, 3}
    with camera:
        started = sdk.clock.monotonic()
        with pytest.raises(ExposureTimeoutError, match="did not finish"):
            camera.capture(1.0)
        elapsed = sdk.clock.monotonic() - started
    assert fake.exposures_started == 3
    assert elapsed >= 3 * (1.0 + 2.0)  # each try waited exposure + margin


def test_short_frame_is_a_frame_error_and_is_retried() -> None:
    camera, sdk = make("mono12")
    fake = sdk.cameras[0]
    fake.faults.short_at = {1}
    with camera:
        camera.capture(0.2)
    assert fake.exposures_started == 2
    fake.faults.short_at = {3, 4, 5}
    with camera, pytest.raises(FrameError, match="bytes"):
        camera.capture(0.2)


def test_sdk_read_timeout_is_retried() -> None:
    camera, sdk = make("mono12")
    sdk.cameras[0].faults.read_timeout_at = {1}
    with camera:
        camera.capture(0.2)
    assert sdk.cameras[0].exposures_started == 2


def test_start_is_retried_like_indi() -> None:
    camera, sdk = make("mono12")
    fake = sdk.cameras[0]
    fake.faults.start_errors = {1: z.ASI_ERROR_GENERAL_ERROR, 2: z.ASI_ERROR_GENERAL_ERROR}
    with camera:
        camera.capture(0.2)
    assert fake.start_calls == 3 and fake.exposures_started == 1


def test_removed_camera_is_disconnected_and_not_retried() -> None:
    camera, sdk = make("mono12")
    fake = sdk.cameras[0]
    fake.faults.remove_at = 1
    with camera:
        with pytest.raises(CameraDisconnectedError, match="USB cable"):
            camera.capture(1.0)
        assert fake.exposures_started == 1
        with pytest.raises(CameraDisconnectedError):
            camera.set_gain(100)
    assert not camera.is_open  # closing a removed camera does not raise


def test_removed_at_start_is_not_retried() -> None:
    camera, sdk = make("mono12")
    sdk.cameras[0].faults.start_errors = {1: z.ASI_ERROR_CAMERA_REMOVED}
    with camera, pytest.raises(CameraDisconnectedError):
        camera.capture(0.1)
    assert sdk.cameras[0].start_calls == 1


class _CancelAfter(SimulatedClock):
    def __init__(self, event: threading.Event, after_s: float) -> None:
        super().__init__(0.0)
        self.event, self.after_s = event, after_s

    def sleep(self, seconds: float) -> None:
        super().sleep(seconds)
        if self.monotonic() >= self.after_s:
            self.event.set()


def test_cancel_aborts_the_exposure() -> None:
    cancel = threading.Event()
    clock = _CancelAfter(cancel, 2.0)
    sdk = FakeZwoSdk("mono12", clock=clock)
    with ZwoCamera(0, sdk=sdk, clock=clock) as camera:
        with pytest.raises(ExposureAbortedError):
            camera.capture(30.0, cancel=cancel)
        assert camera.exposure_status() is ExposureStatus.IDLE
    fake = sdk.cameras[0]
    assert fake.stops >= 1 and fake.reads == 0 and clock.monotonic() < 3.0


@pytest.mark.parametrize(("code", "kind"), [
    (z.ASI_ERROR_CAMERA_REMOVED, CameraDisconnectedError),
    (z.ASI_ERROR_INVALID_ID, CameraDisconnectedError),
    (z.ASI_ERROR_TIMEOUT, ExposureTimeoutError),
    (z.ASI_ERROR_INVALID_CONTROL_TYPE, InvalidValueError),
    (z.ASI_ERROR_INVALID_SIZE, InvalidValueError),
    (z.ASI_ERROR_OUTOF_BOUNDARY, InvalidValueError),
    (z.ASI_ERROR_INVALID_IMGTYPE, UnsupportedError),
    (z.ASI_ERROR_BUFFER_TOO_SMALL, FrameError),
    (z.ASI_ERROR_EXPOSURE_IN_PROGRESS, ExposureFailedError),
    (z.ASI_ERROR_CAMERA_CLOSED, CameraError),
    (z.ASI_ERROR_GENERAL_ERROR, CameraError),
    (z.ASI_ERROR_UNKNOWN, CameraError),
])
def test_sdk_error_codes_map_to_typed_errors(code: int, kind: type[CameraError]) -> None:
    error = map_sdk_error(SdkError(code), "ZWO ASI1600MM Pro", "doing a thing")
    assert type(error) is kind
    assert "ZWO ASI1600MM Pro" in str(error) and "\n" not in str(error)


def test_general_error_in_exposure_context_is_a_failed_exposure() -> None:
    error = map_sdk_error(SdkError(z.ASI_ERROR_GENERAL_ERROR), "cam", "starting",
                          ExposureFailedError)
    assert isinstance(error, ExposureFailedError)


def test_invalid_control_from_the_sdk_is_an_invalid_value() -> None:
    camera, _sdk = make("uncooled")
    with camera:
        with pytest.raises(InvalidValueError, match="invalid control type"):
            camera._set_control("setting the cooler", z.ASI_COOLER_ON, 1)


# -- threads and lifecycle ------------------------------------------------------------------
class _Reentrancy(FakeZwoSdk):
    """Counts SDK calls that overlap: the SDK is not thread-safe per camera."""

    def __init__(self, *models: str) -> None:
        super().__init__(*models)
        self.busy = False
        self.overlaps = 0

    def get_control_value(self, index: int, control_type: int) -> tuple[int, bool]:
        if self.busy:
            self.overlaps += 1
        self.busy = True
        try:
            time.sleep(0.0005)
            return super().get_control_value(index, control_type)
        finally:
            self.busy = False


def test_calls_from_two_threads_never_overlap_in_the_sdk() -> None:
    sdk = _Reentrancy("mono12")
    with ZwoCamera(0, sdk=sdk, clock=sdk.clock) as camera:
        def hammer() -> None:
            for _ in range(40):
                camera.temperature_c()
        threads = [threading.Thread(target=hammer) for _ in range(3)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert sdk.overlaps == 0


def test_close_is_clean_and_idempotent_and_not_in_del() -> None:
    camera, sdk = make("mono12")
    assert "__del__" not in vars(ZwoCamera)
    with camera:
        camera.start_exposure(10.0)
    fake = sdk.cameras[0]
    assert not fake.is_open and fake.stops == 1 and fake.calls[-1] == ("close", ())
    camera.close()
    with pytest.raises(CameraError, match="not open"):
        camera.capture(0.1)


def test_failed_open_closes_the_camera() -> None:
    camera, sdk = make("mono12")
    fake = sdk.cameras[0]
    fake.controls.pop(z.ASI_EXPOSURE)
    with pytest.raises(UnsupportedError):
        camera.open()
    assert not fake.is_open and not camera.is_open


# -- cooling -------------------------------------------------------------------------------
def test_cooling_set_point_and_temperature() -> None:
    camera, sdk = make("mono12")
    with camera:
        assert camera.temperature_c() == pytest.approx(21.3)  # SDK gives 213 (°C x 10)
        assert camera.cooler_state() == (False, None)
        camera.set_cooler(True, -10)
        fake = sdk.cameras[0]
        assert fake.values[z.ASI_TARGET_TEMP] == -10 and fake.values[z.ASI_COOLER_ON] == 1
        assert camera.cooler_state() == (True, -10.0)
        sdk.clock.sleep(600)
        assert camera.temperature_c() == pytest.approx(-10.0)
        assert camera.cooler_power_percent() == 60
        camera.set_cooler(False)
        assert camera.cooler_state() == (False, None)


def test_set_point_outside_the_range_is_clamped_with_a_warning(
    caplog: pytest.LogCaptureFixture,
) -> None:
    camera, _sdk = make("mono12")
    with camera, caplog.at_level(logging.WARNING):
        camera.set_cooler(True, -60)
        assert camera.cooler_state() == (True, -40.0)
    assert "outside" in caplog.text


def test_uncooled_camera_refuses_the_cooler() -> None:
    camera, _ = make("uncooled")
    with camera:
        with pytest.raises(UnsupportedError):
            camera.set_cooler(True, -10)
        assert camera.cooler_state() == (False, None)
        assert camera.temperature_c() == pytest.approx(21.3)


# -- listing and opening by id or name ----------------------------------------------------------
def test_listing_gives_identical_models_distinct_names() -> None:
    sdk = FakeZwoSdk("mono12", "color14", "mono12")
    entries, note = list_zwo_cameras(sdk)
    assert note is None
    assert [e.camera_id for e in entries] == ["zwo:0", "zwo:1", "zwo:2"]
    assert [e.name for e in entries] == ["ZWO ASI1600MM Pro", "ZWO ASI294MC Pro",
                                         "ZWO ASI1600MM Pro #2"]
    assert "14-bit" in entries[1].summary and "RGGB" in entries[1].summary


def test_listing_without_cameras_says_so_in_one_line() -> None:
    entries, note = list_zwo_cameras(FakeZwoSdk())
    assert entries == [] and note is not None and note.startswith("no ZWO camera found")
    assert "\n" not in note


def test_listing_without_sdk_says_how_to_fix(monkeypatch: pytest.MonkeyPatch) -> None:
    def missing() -> z.ZwoSdk:
        raise LibraryLoadError("ZWO SDK not found (libASICamera2); install it with: pip ...")

    monkeypatch.setattr(z, "get_sdk", missing)
    entries, note = list_zwo_cameras()
    assert entries == [] and note is not None and note.startswith("ZWO SDK not found")
    assert open_zwo_camera("sim") is None
    with pytest.raises(LibraryLoadError):
        open_zwo_camera("zwo:0")


def test_open_by_index_and_by_name() -> None:
    sdk = FakeZwoSdk("mono12", "color14", "mono12")
    by_index = open_zwo_camera("zwo:2", sdk=sdk)
    by_name = open_zwo_camera("ZWO ASI1600MM Pro #2", sdk=sdk)
    loose = open_zwo_camera("asi294mc pro", sdk=sdk)
    assert by_index is not None and by_name is not None and loose is not None
    assert by_index.index == by_name.index == 2 and by_name.info.name.endswith("#2")
    assert loose.index == 1
    assert open_zwo_camera("zwo:7", sdk=sdk) is None
    assert open_zwo_camera("ASI6200MM Pro", sdk=sdk) is None
    with pytest.raises(InvalidValueError):
        open_zwo_camera("zwo:first", sdk=sdk)


def test_registry_lists_and_opens_fake_cameras() -> None:
    from drivers.registry import list_cameras, open_camera

    sdk = FakeZwoSdk("color14")
    with z.override_sdk(sdk):
        listing = list_cameras()
        assert [c.camera_id for c in listing.cameras] == ["sim", "sim-color", "sim-dslr", "zwo:0"]
        assert listing.notes == ()
        camera = open_camera("zwo:0")
        assert isinstance(camera, ZwoCamera)


def test_cli_cameras_shows_fake_camera(capsys: pytest.CaptureFixture[str]) -> None:
    from app.cli import main

    with z.override_sdk(FakeZwoSdk("mono16")):
        assert main(["cameras"]) == 0
    out = capsys.readouterr().out
    assert "zwo:0" in out and "ZWO ASI2600MM Pro" in out and "16-bit" in out

"""The QHY driver over the fake libqhyccd: what the contract tests do not cover."""

from __future__ import annotations

import numpy as np
import pytest

from app.cli import doctor
from drivers import qhy_sdk
from drivers.errors import CameraDisconnectedError, InvalidValueError
from drivers.qhy import QhyCamera, list_qhy_cameras, open_qhy_camera
from tests.qhy.fake_qhy import FakeQhySdk


def test_frames_are_cut_to_the_effective_area() -> None:
    sdk = FakeQhySdk("268m")
    with QhyCamera(0, sdk=sdk, clock=sdk.clock) as cam:
        area = cam.effective_area
        assert (cam.info.width, cam.info.height) == (area.width, area.height)
        frame = cam.capture(0.5).frame
        assert frame.shape == cam.frame_shape
        # no optical-black strip or zero column pulls the mean down
        assert frame.min() > 0.9 * frame.mean()
        assert cam.info.bit_depth == 16 and cam.info.bayer_pattern is None


def test_colour_12_bit_camera_is_msb_aligned_with_its_bayer_pattern() -> None:
    sdk = FakeQhySdk("183c")
    with QhyCamera(0, sdk=sdk, clock=sdk.clock) as cam:
        assert cam.info.bit_depth == 12 and cam.info.bayer_pattern == "RGGB"
        assert not cam.info.has_cooler
        frame = cam.capture(0.2).frame
        assert not np.any(frame & np.uint16(15))


def test_gain_is_qhys_own_scale_not_the_zwo_law() -> None:
    sdk = FakeQhySdk("268m")
    with QhyCamera(0, sdk=sdk, clock=sdk.clock) as cam:
        cam.set_gain(60)
        assert cam.reported_e_per_adu() is None  # the SDK does not report it
    table = ((0.0, 1.0), (100.0, 0.2))
    with QhyCamera(0, sdk=sdk, clock=sdk.clock, e_per_adu_table=table) as cam:
        cam.set_gain(50)
        assert cam.reported_e_per_adu() == pytest.approx(0.6)


def test_set_values_are_read_back_and_exposure_is_microseconds() -> None:
    sdk = FakeQhySdk("268m")
    with QhyCamera(0, sdk=sdk, clock=sdk.clock) as cam:
        cam.set_offset(30)
        assert sdk.cameras[0].params[qhy_sdk.CONTROL_OFFSET] == 30
        assert cam.start_exposure(0.25) == pytest.approx(0.25)
        assert sdk.cameras[0].params[qhy_sdk.CONTROL_EXPOSURE] == 250_000
        cam.abort_exposure()
        with pytest.raises(InvalidValueError):
            cam.set_gain(101)


def test_cooler_through_the_parameter_calls() -> None:
    sdk = FakeQhySdk("268m")
    with QhyCamera(0, sdk=sdk, clock=sdk.clock) as cam:
        assert cam.temperature_c() == pytest.approx(18.5)
        cam.set_cooler(True, -10)
        assert sdk.cameras[0].params[qhy_sdk.CONTROL_COOLER] == -10
        cam.set_cooler(False)
        assert sdk.cameras[0].params[qhy_sdk.CONTROL_MANULPWM] == 0
        assert cam.cooler_state() == (False, None)


def test_a_removed_camera_is_told_by_the_scan() -> None:
    sdk = FakeQhySdk("268m")
    with QhyCamera(0, sdk=sdk, clock=sdk.clock) as cam:
        sdk.cameras[0].removed = True
        with pytest.raises(CameraDisconnectedError):
            cam.set_gain(10)


def test_reading_the_temperature_of_a_removed_camera_is_a_typed_error() -> None:
    # the engine reads it while the next exposure runs: a raw SDK error would end the
    # run as an internal error and lose the frame being saved
    sdk = FakeQhySdk("268m")
    with QhyCamera(0, sdk=sdk, clock=sdk.clock) as cam:
        sdk.cameras[0].removed = True
        with pytest.raises(CameraDisconnectedError):
            cam.temperature_c()


def test_listing_and_opening_by_qhy_index() -> None:
    sdk = FakeQhySdk("183c")
    entries, note = list_qhy_cameras(sdk)
    assert note is None and [e.camera_id for e in entries] == ["qhy:0"]
    assert entries[0].name == "QHY183C-d4e5f6"
    camera = open_qhy_camera("qhy:0", sdk=sdk, clock=sdk.clock)
    assert camera is not None and camera.camera_id == "QHY183C-d4e5f6"
    assert open_qhy_camera("zwo:0", sdk=sdk) is None
    with pytest.raises(InvalidValueError):
        open_qhy_camera("qhy:x", sdk=sdk)


def test_doctor_warns_when_the_qhy_sdk_is_not_installed(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(qhy_sdk, "find_library", lambda: None)
    check = doctor.check_qhy_sdk()
    assert check.status is doctor.Status.WARN and "autoflats[qhy]" in (check.fix or "")


def test_doctor_reports_the_qhy_sdk_version(monkeypatch: pytest.MonkeyPatch,
                                            tmp_path: object) -> None:
    sdk = FakeQhySdk("268m")
    monkeypatch.setattr(qhy_sdk, "find_library", lambda: "libqhyccd.so")
    monkeypatch.setattr(qhy_sdk, "get_sdk", lambda: sdk)
    check = doctor.check_qhy_sdk()
    assert check.status is doctor.Status.PASS
    assert "24.12.26.0" in check.detail and "QHY268M-a1b2c3" in check.detail

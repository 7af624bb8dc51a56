"""How the ZWO SDK really behaves, over the fake libASICamera2 in C.

CameraIDs that are not indices, ElecPerADU that changes with the gain, status reads
that fail now and then, controls another program left set, trigger modes, padding
bits, and exposures the camera clamps or rounds: each test fails on a driver that
ignores the behaviour.
"""

from __future__ import annotations

import ctypes
import json
import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest

from drivers import zwo_sdk as z
from drivers.errors import CameraDisconnectedError
from drivers.zwo import ZwoCamera, list_zwo_cameras, open_zwo_camera
from drivers.zwo_sdk import SdkError
from tests.zwo.cfake import FakeAsi

ROOT = Path(__file__).resolve().parents[2]


# -- the fake speaks the SDK's ABI ------------------------------------------------------
def test_struct_layouts_match_zwoasi(asi: FakeAsi, cfake_sdk: z.ZwoasiSdk) -> None:
    zwoasi = cfake_sdk._z
    assert asi.sizeof("ASI_CAMERA_INFO") == ctypes.sizeof(zwoasi._ASI_CAMERA_INFO)
    assert asi.sizeof("ASI_CONTROL_CAPS") == ctypes.sizeof(zwoasi._ASI_CONTROL_CAPS)
    assert asi.sizeof("ASI_SUPPORTED_MODE") == ctypes.sizeof(zwoasi._ASI_SUPPORTED_MODE)
    assert asi.sizeof("ASI_ID") == ctypes.sizeof(zwoasi._ASI_ID)


def test_properties_and_caps_decode_through_zwoasi(asi: FakeAsi) -> None:
    asi.configure("model=color14,id=7,bayer=2")
    props = asi.sdk.camera_property(0)
    assert props["Name"] == "ZWO ASI294MC Pro" and props["CameraID"] == 7
    assert (props["MaxWidth"], props["MaxHeight"], props["BitDepth"]) == (96, 64, 14)
    assert props["IsColorCam"] is True and props["BayerPattern"] == 2
    assert props["SupportedBins"] == [1, 2, 3, 4]
    assert props["SupportedVideoFormat"] == [z.ASI_IMG_RAW8, z.ASI_IMG_RGB24,
                                             z.ASI_IMG_RAW16, z.ASI_IMG_Y8]
    assert props["ElecPerADU"] == pytest.approx(3.9)
    assert asi.sdk.sdk_version() == "1.41"
    asi.sdk.open_camera(7)
    caps = asi.sdk.control_caps(7)
    assert caps["Exposure"]["MinValue"] == 32 and caps["Exposure"]["ControlType"] == 1
    assert caps["Temperature"]["IsWritable"] is False
    asi.sdk.close_camera(7)


# -- 1. CameraID, not index ------------------------------------------------------------------
def test_every_call_after_discovery_uses_the_camera_id(asi: FakeAsi) -> None:
    camera = asi.camera(1)
    assert (camera.index, camera.camera_id) == (1, 7)
    with pytest.raises(SdkError) as wrong:
        asi.sdk.open_camera(1)  # an index where the SDK wants an ID
    assert wrong.value.code == z.ASI_ERROR_INVALID_ID
    with camera:
        assert camera.capture(0.02).frame.any()
    assert asi.count(7, "opens") == 1 and asi.count(7, "reads") == 1
    assert asi.count(3, "opens") == 0


def test_the_camera_keeps_working_when_another_is_unplugged(asi: FakeAsi) -> None:
    with asi.camera(1) as camera:  # index 1, CameraID 7
        asi.fault(3, "remove", 0)  # the camera at index 0 goes: ours is index 0 now
        assert asi.sdk.num_cameras() == 1 and asi.sdk.camera_property(0)["CameraID"] == 7
        camera.set_gain(200)
        assert camera.capture(0.02).frame.any()


def test_listing_and_opening_by_id_string_and_name(asi: FakeAsi) -> None:
    entries, note = list_zwo_cameras(asi.sdk)
    assert note is None and [e.camera_id for e in entries] == ["zwo:0", "zwo:1"]
    by_index = open_zwo_camera("zwo:1", sdk=asi.sdk)
    by_name = open_zwo_camera("ASI294MC Pro", sdk=asi.sdk)
    assert by_index is not None and by_name is not None
    assert by_index.camera_id == by_name.camera_id == 7


# -- 2. e-/ADU re-read after each gain change ---------------------------------------------------
def test_e_per_adu_is_what_the_camera_reports_after_each_gain_change(asi: FakeAsi) -> None:
    asi.configure("model=mono16,id=12")  # e-/ADU steps down 3x at gain 100 (HCG)
    with asi.camera(0) as camera:
        assert camera.info.e_per_adu == pytest.approx(0.77)  # read closed: gain 0
        assert camera.gain == 100
        assert camera.reported_e_per_adu() == pytest.approx(0.77 / 10 ** 0.5 / 3, rel=1e-5)
        camera.set_gain(50)
        assert camera.reported_e_per_adu() == pytest.approx(0.77 / 10 ** 0.25, rel=1e-5)
        camera.set_gain(150)
        reported = camera.reported_e_per_adu()
        assert reported == pytest.approx(0.77 / 10 ** 0.75 / 3, rel=1e-5)
        law = camera.info.e_per_adu_at(150)
        assert law is not None and reported is not None
        assert reported == pytest.approx(law / 3, rel=1e-5)  # not the 0.1 dB law


# -- 3. polling ----------------------------------------------------------------------------------
def test_polls_fast_near_the_end() -> None:
    assert ZwoCamera.poll_interval_s <= 0.01


def test_a_failed_status_read_is_retried(asi: FakeAsi) -> None:
    asi.fault(3, "status_errors", 2)
    with asi.camera(0) as camera:
        assert camera.capture(0.02).frame.any()
    assert asi.count(3, "starts") == 1  # no restart: the third read answered


def test_status_reads_that_keep_failing_fail_the_exposure_which_is_retried(
    asi: FakeAsi,
) -> None:
    asi.fault(3, "status_errors", 3)
    with asi.camera(0) as camera:
        assert camera.capture(0.02).frame.any()
    assert asi.count(3, "starts") == 2


def test_a_removed_camera_is_not_polled_again(asi: FakeAsi) -> None:
    asi.fault(3, "remove", 1)
    with asi.camera(0) as camera, pytest.raises(CameraDisconnectedError, match="disconnected"):
        camera.capture(0.02)
    assert asi.count(3, "status_reads") == 1


# -- 4. known control values and normal mode on open ------------------------------------------
KNOWN = {  # control: value on open (the fake starts them elsewhere)
    z.ASI_FLIP: 0, z.ASI_HIGH_SPEED_MODE: 0, z.ASI_HARDWARE_BIN: 0, z.ASI_OVERCLOCK: 0,
    z.ASI_PATTERN_ADJUST: 0, z.ASI_GAMMA: 50, z.ASI_MONO_BIN: 0, z.ASI_WB_R: 52,
    z.ASI_WB_B: 95,
}


def test_open_sets_known_control_values_with_auto_off(asi: FakeAsi) -> None:
    sdk = asi.sdk
    sdk.open_camera(7)
    before = {c: sdk.get_control_value(7, c) for c in KNOWN}
    sdk.close_camera(7)
    assert all(before[c][0] != v for c, v in KNOWN.items())  # the fake starts elsewhere
    with asi.camera(1):
        after = {c: sdk.get_control_value(7, c) for c in KNOWN}
        assert after == {c: (v, False) for c, v in KNOWN.items()}
        for control in (z.ASI_EXPOSURE, z.ASI_GAIN, z.ASI_WB_R):
            assert sdk.get_control_value(7, control)[1] is False  # auto off
        assert sdk.get_roi_format(7) == (96, 64, 1, z.ASI_IMG_RAW16)


def test_a_trigger_camera_is_put_in_normal_mode(asi: FakeAsi) -> None:
    asi.configure("model=mono16,id=12")
    asi.sdk.open_camera(12)
    assert asi.sdk.get_camera_mode(12) == z.ASI_MODE_TRIG_SOFT_EDGE
    assert asi.sdk.supported_camera_modes(12) == [0, 1, 2]
    asi.sdk.close_camera(12)
    with asi.camera(0) as camera:
        assert asi.sdk.get_camera_mode(12) == z.ASI_MODE_NORMAL
        assert camera.capture(0.02).frame.any()  # in trigger mode it would never end


# -- 5. padding bits --------------------------------------------------------------------------
def test_padding_bits_set_warn_once_per_camera(asi: FakeAsi,
                                               caplog: pytest.LogCaptureFixture) -> None:
    asi.configure("model=mono12,id=3,pad=1;model=mono12,id=4")
    with caplog.at_level(logging.WARNING, logger="drivers.zwo"):
        with asi.camera(0) as padded:
            padded.capture(0.02)
            padded.capture(0.02)
        with asi.camera(1) as clean:
            clean.capture(0.02)
    warnings = [r.getMessage() for r in caplog.records if "low 4 bits" in r.getMessage()]
    assert len(warnings) == 1
    assert "not 12-bit values shifted to 16 bits" in warnings[0] and "\n" not in warnings[0]


def test_a_16_bit_camera_has_no_padding_to_check(asi: FakeAsi,
                                                 caplog: pytest.LogCaptureFixture) -> None:
    asi.configure("model=mono16,id=12,pad=1")
    with caplog.at_level(logging.WARNING, logger="drivers.zwo"), asi.camera(0) as camera:
        camera.capture(0.02)
    assert "low" not in caplog.text


# -- 7. the exposure the camera applied ------------------------------------------------------------
def test_capture_returns_the_exposure_the_camera_applied(asi: FakeAsi) -> None:
    asi.configure("model=mono12,id=3,exp_floor_us=100,exp_step_us=10")
    with asi.camera(0) as camera:
        assert camera.capture(1e-6).exposure_s == pytest.approx(100e-6)  # below 32 us too
        assert camera.capture(50e-6).exposure_s == pytest.approx(100e-6)
        assert camera.capture(0.012344).exposure_s == pytest.approx(0.01234)
    assert asi.count(3, "starts") == 3


# -- the production load path: ZWO_ASI_LIB in a fresh process ------------------------------------
def test_the_fake_loads_as_the_sdk_through_zwo_asi_lib(cfake_path: Path) -> None:
    env = {**os.environ, z.ENV_VAR: str(cfake_path),
           "FAKE_ASI_CONFIG": "model=color14,id=9;model=mono12,id=2"}
    env.pop("AUTOFLATS_SIM_CONFIG", None)
    code = (
        "import json\n"
        "from drivers import zwo_sdk\n"
        "from drivers.registry import open_camera\n"
        "status = zwo_sdk.sdk_status()\n"
        "with open_camera('zwo:1') as cam:\n"
        "    cap = cam.capture(0.02)\n"
        "    print(json.dumps([status.source, status.version, cam.camera_id,\n"
        "                      cam.info.model, list(cap.frame.shape), cap.exposure_s]))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stderr
    source, version, camera_id, model, shape, exposure_s = json.loads(result.stdout)
    assert (source, version, camera_id, model) == (z.ENV_VAR, "1.41", 2, "ZWO ASI1600MM Pro")
    assert shape == [70, 96] and exposure_s == pytest.approx(0.02)
    cli = subprocess.run([sys.executable, "-m", "app", "cameras", "--json"], cwd=ROOT,
                         env=env, capture_output=True, text=True, timeout=120, check=False)
    assert cli.returncode == 0, cli.stderr
    ids = [c["id"] for c in json.loads(cli.stdout)["cameras"]]
    assert ids[-2:] == ["zwo:0", "zwo:1"]


class _OldSdk(z.ZwoasiSdk):
    """An SDK build without ASIGetCameraPropertyByID and the camera-mode functions."""

    MISSING = ("ASIGetCameraPropertyByID", "ASIGetCameraSupportMode", "ASISetCameraMode")

    def _library_function(self, name: str) -> object:
        if name in self.MISSING:
            raise SdkError(z.ASI_ERROR_UNKNOWN, f"{name} is not in this SDK")
        return super()._library_function(name)


def test_an_older_sdk_without_by_id_or_mode_functions_still_works(
    asi: FakeAsi, caplog: pytest.LogCaptureFixture
) -> None:
    asi.configure("model=mono12,id=3;model=mono16,id=12,trigger=0")
    old = _OldSdk(asi.sdk._z, str(asi.path))
    assert old.camera_property_by_id(12)["Name"] == "ZWO ASI2600MM Pro"  # found by index
    with pytest.raises(SdkError) as missing:
        old.camera_property_by_id(99)
    assert missing.value.code == z.ASI_ERROR_INVALID_ID
    with ZwoCamera(1, sdk=old) as camera:
        camera.set_gain(150)
        assert camera.reported_e_per_adu() == pytest.approx(0.77 / 10 ** 0.75 / 3, rel=1e-5)
    asi.configure("model=mono16,id=12")  # a trigger camera: normal mode cannot be set
    with caplog.at_level(logging.WARNING), ZwoCamera(0, sdk=old):
        pass
    assert "cannot set normal (untriggered) mode" in caplog.text

"""The SDK's real behaviour over the Python fake (simulated time): IDs, e-/ADU per gain,
polling, status retries, known controls, padding bits, applied exposures."""

from __future__ import annotations

import logging

import pytest

from drivers import zwo_sdk as z
from drivers.clock import SimulatedClock
from drivers.simulator import SimulatedCamera
from drivers.zwo import ZwoCamera
from tests.conftest import SMALL
from tests.zwo.fake_sdk import LEFT_OVER, MODELS, FakeModel, FakeZwoSdk


class _RecordingClock(SimulatedClock):
    def __init__(self) -> None:
        super().__init__(0.0)
        self.sleeps: list[tuple[float, float]] = []  # (when, how long)

    def sleep(self, seconds: float) -> None:
        self.sleeps.append((self.monotonic(), seconds))
        super().sleep(seconds)


def test_calls_go_by_camera_id_and_survive_another_camera_leaving() -> None:
    sdk = FakeZwoSdk("mono12", "color14")
    camera = ZwoCamera(1, sdk=sdk, clock=sdk.clock)
    assert (camera.index, camera.camera_id) == (1, 7)
    with camera:
        sdk.remove(0)  # the colour camera is index 0 now
        assert sdk.camera_property(0)["CameraID"] == 7
        camera.set_gain(200)
        assert camera.capture(0.1).frame.any()


def test_reported_e_per_adu_follows_the_camera_not_the_law() -> None:
    sdk = FakeZwoSdk("mono16")  # e-/ADU drops 3x at gain 100
    with ZwoCamera(0, sdk=sdk, clock=sdk.clock) as camera:
        camera.set_gain(150)
        law = camera.info.e_per_adu_at(150)
        assert law is not None
        assert camera.reported_e_per_adu() == pytest.approx(law / 3, rel=1e-6)
        camera.set_gain(40)
        assert camera.reported_e_per_adu() == pytest.approx(camera.info.e_per_adu_at(40))


def test_the_default_reported_e_per_adu_is_the_gain_law() -> None:
    with SimulatedCamera(SMALL) as camera:
        gain = int(camera.controls.gain.maximum)
        camera.set_gain(gain)
        assert camera.reported_e_per_adu() == camera.info.e_per_adu_at(gain)


def test_polling_after_the_expected_end_is_every_5_ms() -> None:
    clock = _RecordingClock()
    sdk = FakeZwoSdk("mono12", clock=clock)  # readout 0.05 s
    with ZwoCamera(0, sdk=sdk, clock=clock) as camera:
        start = clock.monotonic()
        camera.capture(1.0)
        finished = clock.monotonic()
    late = [length for when, length in clock.sleeps if when >= start + 1.0]
    assert late and max(late) <= 0.005 + 1e-9
    assert finished - (start + 1.0 + 0.05) <= 0.006  # found within one poll of the end


def test_status_read_errors_are_retried_before_failing() -> None:
    sdk = FakeZwoSdk("mono12")
    fake = sdk.cameras[0]
    with ZwoCamera(0, sdk=sdk, clock=sdk.clock) as camera:
        fake.faults.status_errors = 2
        camera.capture(0.1)
        assert fake.exposures_started == 1
        fake.faults.status_errors = 3  # three in a row: that exposure failed, retried
        camera.capture(0.1)
        assert fake.exposures_started == 3


def test_open_leaves_known_values_auto_off_and_normal_mode() -> None:
    sdk = FakeZwoSdk("mono16")
    fake = sdk.cameras[0]
    assert fake.mode == z.ASI_MODE_TRIG_SOFT_EDGE
    with ZwoCamera(0, sdk=sdk, clock=sdk.clock):
        defaults = {c: fake.controls[c].default for c in LEFT_OVER if c in fake.controls}
        assert {c: fake.values[c] for c in defaults} == defaults
        assert fake.auto == set() and fake.mode == z.ASI_MODE_NORMAL


def test_padding_bits_warn_once(caplog: pytest.LogCaptureFixture) -> None:
    model = FakeModel(padding_bits=True)
    sdk = FakeZwoSdk(model, "mono12")
    with caplog.at_level(logging.WARNING, logger="drivers.zwo"):
        for index in (0, 1):
            with ZwoCamera(index, sdk=sdk, clock=sdk.clock) as camera:
                camera.capture(0.1)
                camera.capture(0.1)
    assert caplog.text.count("low 4 bits set") == 1


def test_capture_reports_the_exposure_on_the_camera_grid() -> None:
    sdk = FakeZwoSdk(FakeModel(exposure_step_us=10))
    with ZwoCamera(0, sdk=sdk, clock=sdk.clock) as camera:
        assert camera.capture(0.0012345).exposure_s == pytest.approx(0.00123)
        assert camera.capture(2.5).exposure_s == pytest.approx(2.5)
    assert MODELS["mono12"].exposure_step_us == 1

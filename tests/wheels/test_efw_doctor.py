"""The doctor's filter wheel section: EFW SDK missing, present without wheels, with wheels."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest

from app.cli import doctor
from app.cli.doctor import Status, check_efw_sdk, check_wheels, run_wheel_checks
from drivers import efw_sdk
from drivers import zwo_sdk as z
from drivers.efw_sdk import EfwStatus
from drivers.zwo_sdk import SdkStatus
from tests.wheels.conftest import FakeEfw
from tests.zwo.fake_sdk import FakeZwoSdk

MISSING = EfwStatus(None, None, None, None,
                    f"EFW SDK not found (libEFWFilter); {efw_sdk.INSTALL_HINT}")


def _present(fake: FakeEfw) -> EfwStatus:
    return EfwStatus(fake.library, str(fake.path), efw_sdk.ENV_VAR, "1.7.1002", None, True)


def test_missing_library_warns_with_the_fix() -> None:
    sdk, wheels = run_wheel_checks(MISSING)
    assert sdk.name == "EFW SDK" and sdk.status is Status.WARN
    assert sdk.fix is not None and "ZWO_EFW_LIB=/path/to/libEFWFilter" in sdk.fix
    assert "EFW SDK" in sdk.fix
    assert wheels.status is Status.WARN and "without the EFW SDK" in wheels.detail


def test_a_library_asked_for_but_broken_fails(tmp_path: Path) -> None:
    broken = EfwStatus(None, None, None, None, f"EFW SDK not found: ZWO_EFW_LIB points to "
                       f"{tmp_path}/x.so, which does not exist; fix the path or unset it",
                       configured=True)
    check = check_efw_sdk(broken)
    assert check.status is Status.FAIL and "x.so" in check.detail


def test_library_present_without_wheels(fake_efw: FakeEfw) -> None:
    fake_efw.configure(count=0)
    sdk, wheels = run_wheel_checks(_present(fake_efw))
    assert sdk.status is Status.PASS
    assert sdk.detail == f"libEFWFilter 1.7.1002 at {fake_efw.path} (from $ZWO_EFW_LIB)"
    assert wheels.status is Status.WARN and wheels.detail == "no ZWO filter wheel found"
    assert wheels.fix is not None and "plug the wheel in" in wheels.fix


def test_wheels_are_listed_with_slot_counts(fake_efw: FakeEfw) -> None:
    fake_efw.configure(count=2, slots=5)
    fake_efw.set_slots(1, 7)
    check = check_wheels(_present(fake_efw))
    assert check.status is Status.PASS
    assert check.detail == "efw:0 ZWO EFW, 5 slots; efw:1 ZWO EFW, 7 slots"


def test_a_wheel_that_cannot_be_read_fails(fake_efw: FakeEfw) -> None:
    fake_efw.configure(count=2)
    fake_efw.unplug(0)
    check = check_wheels(_present(fake_efw))
    assert check.status is Status.FAIL
    assert "efw:0 ZWO EFW: the filter wheel efw:0 was removed" in check.detail
    assert "efw:1 ZWO EFW, 7 slots" in check.detail and check.fix


def test_the_report_has_a_wheel_section(fake_efw: FakeEfw, tmp_path: Path) -> None:
    status = SdkStatus(FakeZwoSdk(), "libASICamera2.so", "pyzwoasi", "1.41", None)
    checks = doctor.run_checks(tmp_path, 1, doctor.DoctorEnv(platform="win32"), status)
    wheel_checks = run_wheel_checks(_present(fake_efw))
    text = doctor.report_text(checks, wheel_checks)
    lines = text.splitlines()
    heading = lines.index("filter wheels (ZWO EFW):")
    assert lines[heading - 1] == "" and lines[heading + 1].startswith("PASS  EFW SDK ")
    assert any(line.startswith("PASS  filter wheels") and "efw:0 ZWO EFW, 7 slots" in line
               for line in lines)
    # cameras: 5 pass + 1 warn (no camera); wheels: 2 pass -- the summary counts both
    assert lines[-1] == "7 passed, 1 warnings, 0 failed"
    report = json.loads(doctor.report_json(checks, wheel_checks))
    assert [c["name"] for c in report["filter_wheels"]] == ["EFW SDK", "filter wheels"]
    assert report["checks"][0]["name"] == "ZWO SDK"


def test_doctor_command_shows_the_missing_library_fix(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(efw_sdk, "_status", MISSING)
    with z.override_sdk(FakeZwoSdk("mono16")):
        doctor.run_doctor(argparse.Namespace(out=tmp_path, count=1, json=False))
    text = capsys.readouterr().out
    assert "WARN  EFW SDK" in text and "fix: install ZWO's EFW SDK" in text

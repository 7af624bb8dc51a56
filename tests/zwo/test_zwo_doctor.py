"""``autoflats doctor`` checks, with a fake SDK and temporary system files."""

from __future__ import annotations

import argparse
import json
from collections import namedtuple
from pathlib import Path

import pytest

from app.cli import doctor
from app.cli.doctor import DoctorEnv, Status, check_output, check_udev, check_usbfs, run_checks
from drivers import zwo_sdk as z
from drivers.zwo_sdk import SdkError, SdkStatus
from tests.zwo.fake_sdk import FakeModel, FakeZwoSdk


def _env(tmp_path: Path, usbfs: str | None = "200", rule: str | None = None,
         platform: str = "linux") -> DoctorEnv:
    rules = tmp_path / "rules.d"
    rules.mkdir(exist_ok=True)
    if rule is not None:
        (rules / "99-zwo.rules").write_text(rule, encoding="utf-8")
    usbfs_file = tmp_path / "usbfs_memory_mb"
    if usbfs is not None:
        usbfs_file.write_text(usbfs + "\n", encoding="ascii")
    return DoctorEnv(platform=platform, usbfs_file=usbfs_file, udev_dirs=(rules,))


def _status(sdk: FakeZwoSdk) -> SdkStatus:
    return SdkStatus(sdk, sdk.library_path, "pyzwoasi", "1.41", None)


def _by_name(checks: list[doctor.Check]) -> dict[str, doctor.Check]:
    return {c.name: c for c in checks}


def test_all_good_with_a_camera(tmp_path: Path) -> None:
    env = _env(tmp_path, rule='SUBSYSTEMS=="usb", ATTR{idVendor}=="03c3", MODE="0666"\n')
    checks = _by_name(run_checks(tmp_path / "out", 5, env, _status(FakeZwoSdk("color14"))))
    assert checks["ZWO SDK"].status is Status.PASS and "1.41" in checks["ZWO SDK"].detail
    assert checks["udev rules"].status is Status.PASS
    assert checks["USB memory"].status is Status.PASS
    cams = checks["cameras"]
    assert cams.status is Status.PASS
    assert "zwo:0 ZWO ASI294MC Pro" in cams.detail and "gain 0..570" in cams.detail
    assert "RGGB" in cams.detail and "sensor 21.3 °C" in cams.detail
    assert checks["output folder"].status is Status.PASS
    assert "will be created" in checks["output folder"].detail


def test_missing_sdk_fails_with_the_fix(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    missing = SdkStatus(None, None, None, None, "ZWO SDK not found (libASICamera2); ...")
    monkeypatch.setattr(z, "sdk_status", lambda explicit=None: missing)
    args = argparse.Namespace(out=tmp_path, count=3, json=True)
    assert doctor.run_doctor(args) == 1
    report = json.loads(capsys.readouterr().out)
    assert report["ok"] is False
    sdk = report["checks"][0]
    assert sdk["name"] == "ZWO SDK" and sdk["status"] == "fail"
    assert "autoflats[zwo-sdk]" in sdk["fix"] and "ZWO_ASI_LIB" in sdk["fix"]
    cams = next(c for c in report["checks"] if c["name"] == "cameras")
    assert cams["status"] == "warn"


def test_missing_udev_rule_warns_with_the_install_command(tmp_path: Path) -> None:
    env = _env(tmp_path, rule="# nothing about zwo\n")
    check = check_udev(env)
    assert check.status is Status.WARN
    assert check.fix is not None and "udevadm control --reload-rules" in check.fix
    assert "99-zwo-asi.rules" in check.fix


def test_the_shipped_rules_file_passes_the_check(tmp_path: Path) -> None:
    rules = doctor.RULES_FILE
    assert rules.is_file()
    env = _env(tmp_path, rule=rules.read_text(encoding="utf-8"))
    assert check_udev(env).status is Status.PASS


@pytest.mark.parametrize(("value", "model", "status"), [
    ("0", None, Status.PASS),
    ("200", None, Status.PASS),
    ("16", None, Status.WARN),
    ("16", FakeModel(width=4000, height=3000), Status.FAIL),  # 23 MB frame > 16 MB
    (None, None, Status.WARN),
])
def test_usbfs_memory(tmp_path: Path, value: str | None, model: FakeModel | None,
                      status: Status) -> None:
    env = _env(tmp_path, usbfs=value)
    cameras = [doctor.CameraSeen("zwo:0", model.name, model.width, model.height)] if model else []
    check = check_usbfs(env, cameras)
    assert check.status is status
    if status is not Status.PASS:
        assert check.fix is not None and "usbfs_memory_mb" in check.fix


def test_usbfs_with_a_connected_large_sensor(tmp_path: Path) -> None:
    env = _env(tmp_path, usbfs="16")
    sdk = FakeZwoSdk(FakeModel(name="ZWO ASI6200MM Pro", width=9576, height=6388))
    checks = _by_name(run_checks(tmp_path, 1, env, _status(sdk)))
    assert checks["USB memory"].status is Status.FAIL
    assert "ZWO ASI6200MM Pro" in checks["USB memory"].detail


def test_other_systems_skip_linux_checks(tmp_path: Path) -> None:
    env = _env(tmp_path, usbfs=None, platform="darwin")
    assert check_udev(env).status is Status.PASS
    assert check_usbfs(env, []).status is Status.PASS
    windows = _env(tmp_path, platform="win32")
    assert doctor.check_libusb(windows).status is Status.PASS


def test_camera_that_cannot_open_fails(tmp_path: Path) -> None:
    sdk = FakeZwoSdk("mono12")

    def refuse(index: int) -> None:
        raise SdkError(z.ASI_ERROR_GENERAL_ERROR)

    sdk.open_camera = refuse  # type: ignore[method-assign]
    checks = _by_name(run_checks(tmp_path, 1, _env(tmp_path), _status(sdk)))
    cams = checks["cameras"]
    assert cams.status is Status.FAIL and "cannot open" in cams.detail
    assert cams.fix is not None and "udev" in cams.fix


def test_no_camera_is_a_warning(tmp_path: Path) -> None:
    checks = _by_name(run_checks(tmp_path, 1, _env(tmp_path), _status(FakeZwoSdk())))
    assert checks["cameras"].status is Status.WARN
    assert checks["cameras"].detail == "no ZWO camera found"


def test_output_folder_checks(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    a_file = tmp_path / "file"
    a_file.write_text("x", encoding="utf-8")
    assert check_output(a_file, 1, []).status is Status.FAIL
    assert check_output(a_file / "sub", 1, []).status is Status.FAIL
    assert check_output(tmp_path, 1, []).status is Status.PASS
    usage = namedtuple("usage", "total used free")
    monkeypatch.setattr(doctor.shutil, "disk_usage", lambda path: usage(10**9, 0, 10**8))
    check = check_output(tmp_path, 30, [])  # 30 x 52 MB > 100 MB
    assert check.status is Status.FAIL and "need" in check.detail and check.fix
    monkeypatch.setattr(doctor.shutil, "disk_usage", lambda path: usage(10**9, 0, 80 * 10**6))
    assert check_output(tmp_path, 1, []).status is Status.WARN


def test_text_report_has_fixes_and_a_summary(tmp_path: Path) -> None:
    checks = run_checks(tmp_path, 1, _env(tmp_path, usbfs="16"), _status(FakeZwoSdk()))
    text = doctor.report_text(checks)
    assert "WARN  USB memory" in text and "fix: sudo sh -c 'echo 200" in text
    assert text.splitlines()[-1].endswith("0 failed")


def test_cli_doctor_json_runs(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from app.cli import main

    with z.override_sdk(FakeZwoSdk("mono16")):
        code = main(["doctor", "--json", "--out", str(tmp_path), "--count", "2"])
    report = json.loads(capsys.readouterr().out)
    names = [c["name"] for c in report["checks"]]
    assert names == ["ZWO SDK", "libusb", "udev rules", "USB memory", "cameras",
                     "output folder"]
    assert code == (0 if report["ok"] else 1)

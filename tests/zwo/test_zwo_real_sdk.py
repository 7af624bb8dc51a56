"""The real ZWO SDK (libASICamera2) with no camera attached, as in CI.

These skip when the library or libusb is absent, unless AUTOFLATS_REQUIRE_SDK=1
(CI sets it): then a missing SDK fails loudly instead of hiding behind a skip.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from drivers import zwo_sdk as z

pytestmark = pytest.mark.realsdk
ROOT = Path(__file__).resolve().parents[2]
REQUIRED = os.environ.get("AUTOFLATS_REQUIRE_SDK") == "1"


def _missing_reason() -> str | None:
    try:
        candidates = z.find_sdk_candidates()
    except Exception as error:  # a bad ZWO_ASI_LIB is a reason too
        return str(error)
    if not candidates:
        return "libASICamera2 not found (pip install --no-deps pyzwoasi, or set ZWO_ASI_LIB)"
    if sys.platform != "win32" and z.libusb_path() is None:
        return "libusb-1.0 not found (Debian: apt-get install libusb-1.0-0)"
    return None


@pytest.fixture(scope="module")
def sdk_ready() -> None:
    reason = _missing_reason()
    if reason is None:
        return
    if REQUIRED:
        pytest.fail(f"AUTOFLATS_REQUIRE_SDK=1 but the real SDK cannot run: {reason}",
                    pytrace=False)
    pytest.skip(f"real ZWO SDK unavailable: {reason}")


def _cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "AUTOFLATS_SIM_CONFIG"}
    return subprocess.run([sys.executable, "-m", "app", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=90, check=False)


def test_library_loads_and_reports_its_version(sdk_ready: None) -> None:
    status = z.sdk_status()
    assert status.sdk is not None, status.error
    assert status.error is None and status.path
    if status.source != "already loaded":
        assert Path(status.path).exists()
    assert status.version is not None and re.fullmatch(r"\d+\.\d+(\.\d+)*", status.version)


def test_no_camera_is_found(sdk_ready: None) -> None:
    sdk = z.get_sdk()
    assert sdk.num_cameras() == 0
    from drivers.zwo import list_zwo_cameras, open_zwo_camera

    entries, note = list_zwo_cameras()
    assert entries == [] and note is not None and note.startswith("no ZWO camera found")
    assert open_zwo_camera("zwo:0") is None


def test_zwoasi_is_initialised_once_with_the_path_found(sdk_ready: None) -> None:
    code = ("import json, drivers.zwo_sdk as s, zwoasi; st = s.sdk_status(); "
            "print(json.dumps([st.path, zwoasi.zwolib._name, st.version]))")
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                            text=True, timeout=60, check=False)
    assert result.returncode == 0, result.stderr
    path, loaded, version = json.loads(result.stdout)
    assert path == loaded and version


def test_cli_cameras_lists_only_the_simulators(sdk_ready: None, tmp_path: Path) -> None:
    result = _cli("cameras", "--json", cwd=ROOT)
    assert result.returncode == 0, result.stderr
    listing = json.loads(result.stdout)
    assert [c["id"] for c in listing["cameras"]] == ["sim", "sim-color", "sim-dslr"]
    assert len(listing["notes"]) == 1 and listing["notes"][0].startswith("no ZWO camera found")
    text = _cli("cameras", cwd=ROOT)
    assert text.stdout.splitlines()[-1].startswith("note: no ZWO camera found")


def test_cli_doctor_reports_each_check(sdk_ready: None, tmp_path: Path) -> None:
    result = _cli("doctor", "--json", "--out", str(tmp_path / "flats"), "--count", "3",
                  cwd=ROOT)
    report = json.loads(result.stdout)
    checks = {c["name"]: c for c in report["checks"]}
    assert list(checks) == ["ZWO SDK", "libusb", "udev rules", "USB memory", "cameras",
                            "output folder"]
    assert checks["ZWO SDK"]["status"] == "pass"
    assert re.search(r"libASICamera2 \d+\.\d+", checks["ZWO SDK"]["detail"])
    assert checks["libusb"]["status"] == "pass"
    assert checks["cameras"]["status"] == "warn"
    assert checks["cameras"]["detail"] == "no ZWO camera found"
    assert checks["output folder"]["status"] == "pass"
    if sys.platform.startswith("linux"):
        assert checks["udev rules"]["status"] in ("pass", "warn")
        if checks["udev rules"]["status"] == "warn":
            assert "udevadm" in checks["udev rules"]["fix"]
        assert checks["USB memory"]["status"] in ("pass", "warn")  # no camera: never fail
    assert report["ok"] is True and result.returncode == 0, result.stderr
    text = _cli("doctor", "--out", str(tmp_path), cwd=ROOT)
    assert text.returncode == 0
    assert text.stdout.splitlines()[0].startswith("PASS  ZWO SDK")
    assert text.stdout.splitlines()[-1].endswith("0 failed")

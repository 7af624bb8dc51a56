"""Finding libASICamera2: explicit setting, ZWO_ASI_LIB, system paths, the pyzwoasi wheel."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from drivers import zwo_sdk as z
from drivers.errors import LibraryLoadError

ROOT = Path(__file__).resolve().parents[2]


def _run(code: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    full_env = {**os.environ, **(env or {})}
    full_env.pop("AUTOFLATS_SIM_CONFIG", None)
    return subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=full_env,
                          capture_output=True, text=True, timeout=60, check=False)


def test_env_var_pointing_nowhere_is_reported(monkeypatch: pytest.MonkeyPatch,
                                              tmp_path: Path) -> None:
    missing = tmp_path / "libASICamera2.so"
    monkeypatch.setenv(z.ENV_VAR, str(missing))
    with pytest.raises(LibraryLoadError, match=r"ZWO_ASI_LIB points to .*does not exist"):
        z.find_sdk_candidates()


def test_explicit_path_wins_over_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    explicit, env = tmp_path / "a.so", tmp_path / "b.so"
    explicit.write_bytes(b"")
    env.write_bytes(b"")
    monkeypatch.setenv(z.ENV_VAR, str(env))
    assert z.find_sdk_candidates(explicit) == [z.SdkCandidate(str(explicit), "setting")]
    assert z.find_sdk_candidates() == [z.SdkCandidate(str(env), z.ENV_VAR)]


def test_system_paths_come_before_the_wheel(monkeypatch: pytest.MonkeyPatch,
                                            tmp_path: Path) -> None:
    monkeypatch.delenv(z.ENV_VAR, raising=False)
    system = tmp_path / "usr" / "lib"
    system.mkdir(parents=True)
    (system / "libASICamera2.so.1.40").write_bytes(b"")
    wheel = tmp_path / "wheel.so"
    wheel.write_bytes(b"")
    monkeypatch.setattr(z.ctypes.util, "find_library", lambda name: None)
    monkeypatch.setattr(z, "_system_dirs", lambda: [system])
    monkeypatch.setattr(z, "_library_names", lambda: ("libASICamera2.so",))
    monkeypatch.setattr(z, "pyzwoasi_library", lambda: wheel)
    assert [c.source for c in z.find_sdk_candidates()] == ["system", "pyzwoasi"]
    assert z.find_sdk_candidates()[0].path.endswith("libASICamera2.so.1.40")


def test_pyzwoasi_copy_is_found_without_importing_it() -> None:
    import importlib.util

    if importlib.util.find_spec("pyzwoasi") is None:
        pytest.skip("pyzwoasi (the zwo-sdk extra) is not installed")
    path = z.pyzwoasi_library()
    if sys.platform.startswith("linux") and os.uname().machine not in ("x86_64", "i686"):
        assert path is None
        return
    assert path is not None and path.is_file() and "pyzwoasi" in str(path)
    assert "pyzwoasi" not in sys.modules


@pytest.mark.parametrize(("raw", "text"), [("1, 41, 0, 0", "1.41"), ("1.37", "1.37"),
                                           ("1, 29, 4, 0", "1.29.4"), ("", "unknown")])
def test_sdk_version_format(raw: str, text: str) -> None:
    assert z.format_sdk_version(raw) == text


def test_sdk_error_carries_its_code() -> None:
    error = z.SdkError(z.ASI_ERROR_CAMERA_REMOVED)
    assert error.code == 5 and "camera removed" in str(error)


def test_no_sdk_cameras_lists_the_simulators_and_how_to_fix() -> None:
    code = (
        "import drivers.zwo_sdk as s\n"
        "s.find_sdk_candidates = lambda explicit=None: []\n"
        "from app.cli import main\n"
        "raise SystemExit(main(['cameras', '--json']))\n"
    )
    result = _run(code, {z.ENV_VAR: ""})
    assert result.returncode == 0, result.stderr
    listing = json.loads(result.stdout)
    assert [c["id"] for c in listing["cameras"]] == ["sim", "sim-color", "sim-dslr"]
    assert len(listing["notes"]) == 1
    assert listing["notes"][0].startswith("ZWO SDK not found")
    assert "autoflats[zwo-sdk]" in listing["notes"][0]
    assert "ASI SDK library not found" not in result.stderr  # zwoasi's import noise


def test_bad_env_var_is_one_line_and_the_simulator_still_runs(tmp_path: Path) -> None:
    env = {z.ENV_VAR: str(tmp_path / "nope.so")}
    code = "from app.cli import main; raise SystemExit(main(['cameras']))"
    result = _run(code, env)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith("sim ") and lines[1].startswith("sim-color")
    assert lines[2].startswith("sim-dslr")
    assert lines[3] == f"note: ZWO SDK not found: ZWO_ASI_LIB points to {env[z.ENV_VAR]}, " \
        "which does not exist; fix the path or unset it"
    out, config = tmp_path / "flats", tmp_path / "sim.toml"
    config.write_text("width = 256\nheight = 192\ntime_scale = 0.0\n", encoding="utf-8")
    code = ("from app.cli import main; raise SystemExit(main(['flats', '--camera', 'sim', "
            f"'--count', '1', '--out', {str(out)!r}, '--sim-config', {str(config)!r}, "
            "'--quiet']))")
    result = _run(code, env)
    assert result.returncode == 0, result.stderr
    assert list(out.glob("*.fits"))


def test_a_library_that_cannot_load_is_reported(tmp_path: Path) -> None:
    broken = tmp_path / "libASICamera2.so"
    broken.write_bytes(b"not a library")
    code = ("import json, drivers.zwo_sdk as s; st = s.sdk_status(); "
            "print(json.dumps([st.sdk is None, st.error]))")
    result = _run(code, {z.ENV_VAR: str(broken)})
    assert result.returncode == 0, result.stderr
    missing, error = json.loads(result.stdout)
    assert missing and error.startswith(f"ZWO SDK at {broken} cannot load")

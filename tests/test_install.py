"""Installed like an app: resources inside the package and the wheel, the desktop entry,
and the first start on a machine without the ZWO SDK."""

from __future__ import annotations

import configparser
import contextlib
import importlib.util
import os
import shutil
import subprocess
import sys
import textwrap
import xml.etree.ElementTree as ET
import zipfile
from pathlib import Path

import pytest

from app.cli import doctor, install_desktop, main

REPO = Path(__file__).resolve().parents[1]
RESOURCES = ("app/resources/udev/99-zwo-asi.rules", "app/resources/icons/autoflats.svg",
             "app/resources/icons/check-dark.svg", "app/resources/icons/check-night.svg",
             "app/resources/autoflats.desktop")


def test_resources_are_inside_the_package() -> None:
    for name in RESOURCES:
        assert (REPO / name).is_file(), name
    assert doctor.RULES_FILE == REPO / "app/resources/udev/99-zwo-asi.rules"
    # the README's install command points at the copy at the top of the repository
    top = REPO / "resources/udev/99-zwo-asi.rules"
    assert top.read_bytes() == doctor.RULES_FILE.read_bytes()
    assert "resources/udev/99-zwo-asi.rules" in (REPO / "README.md").read_text()
    for svg in (REPO / "app/resources/icons").glob("*.svg"):
        assert ET.parse(svg).getroot().tag.endswith("svg")


def _desktop(path: Path) -> configparser.SectionProxy:
    parser = configparser.ConfigParser(interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read(path, encoding="utf-8")
    return parser["Desktop Entry"]


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="freedesktop entry")
def test_install_desktop_writes_entry_and_icon(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    data = tmp_path / "xdg data"
    monkeypatch.setenv("XDG_DATA_HOME", str(data))
    command = tmp_path / "my apps" / "autoflats"
    assert main(["install-desktop", "--exec", str(command)]) == 0
    entry_path = data / "applications" / "autoflats.desktop"
    icon_path = data / "icons" / "hicolor" / "scalable" / "apps" / "autoflats.svg"
    assert entry_path.is_file() and icon_path.is_file()
    entry = _desktop(entry_path)
    assert entry["Type"] == "Application" and entry["Name"] == "autoflats"
    assert entry["Exec"] == f'"{command}" gui'  # quoted: the path has a space
    assert entry["Icon"] == "autoflats" and entry["Terminal"] == "false"
    assert "Astronomy" in entry["Categories"]
    assert icon_path.read_bytes() == install_desktop.ICON.read_bytes()
    out = capsys.readouterr().out
    assert str(entry_path) in out and str(icon_path) in out
    # again: replaced in place, nothing else left behind
    assert main(["install-desktop", "--exec", "/usr/bin/autoflats"]) == 0
    assert _desktop(entry_path)["Exec"] == "/usr/bin/autoflats gui"
    assert sorted(p.name for p in (data / "applications").iterdir()) == ["autoflats.desktop"]


def test_install_desktop_defaults(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_DATA_HOME", "")
    monkeypatch.setenv("HOME", str(tmp_path))
    assert install_desktop.data_home() == tmp_path / ".local" / "share"
    monkeypatch.setattr(sys, "argv", ["python"])
    monkeypatch.setattr(shutil, "which", lambda name: None)
    command = install_desktop.autoflats_command()
    assert command == f"{sys.executable} -m app"
    entry = install_desktop.desktop_entry(command)
    assert f"Exec={sys.executable} -m app gui" in entry


def _offline_build() -> tuple[list[str], dict[str, str]]:
    """pip options that build the wheel without the network, or skip.

    The running interpreter's setuptools builds it directly when it can make wheels;
    otherwise pip's build isolation fetches the backend, allowed only from package
    indexes on this machine (file://), never from the network.
    """
    env = {**os.environ, "PIP_DISABLE_PIP_VERSION_CHECK": "1"}
    can_build = importlib.util.find_spec("wheel") is not None
    with contextlib.suppress(Exception):
        import setuptools

        major, minor = (int(p) for p in setuptools.__version__.split(".")[:2])
        can_build = can_build or (major, minor) >= (70, 1)
    if can_build:
        return ["--no-build-isolation", "--no-index"], {**env, "PIP_NO_INDEX": "1"}
    listed = subprocess.run([sys.executable, "-m", "pip", "config", "list"],
                            capture_output=True, text=True, timeout=60).stdout
    urls = [url.strip("'\"") for line in listed.splitlines() if "index-url=" in line
            for url in line.split("=", 1)[1].strip("'\"").split()]
    local = list(dict.fromkeys(url for url in urls if url.startswith("file:")))
    if not local:
        pytest.skip("no wheel-capable setuptools and no local package index: the test "
                    "never downloads")
    options = ["--index-url", local[0]]
    for url in local[1:]:
        options += ["--extra-index-url", url]
    return options, {**env, "PIP_CONFIG_FILE": os.devnull}


@pytest.mark.slow
def test_built_wheel_carries_the_resources_and_installs(tmp_path: Path) -> None:
    """pip wheel, then pip install --no-deps into a fresh venv: offline, in tmp only."""
    src = tmp_path / "src"
    src.mkdir()
    for name in ("app", "drivers"):
        shutil.copytree(REPO / name, src / name,
                        ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(REPO / name, src / name)
    dist = tmp_path / "dist"
    options, build_env = _offline_build()
    built = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", *options, "-q",
                            "-w", str(dist), str(src)],
                           capture_output=True, text=True, env=build_env, timeout=300)
    assert built.returncode == 0, built.stderr[-2000:]
    (wheel,) = dist.glob("autoflats-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    for name in RESOURCES:
        assert name in names, name
    assert "app/cli/install_desktop.py" in names and "app/live.py" in names

    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, capture_output=True,
                   timeout=300)
    bindir = venv / ("Scripts" if os.name == "nt" else "bin")
    env = {**os.environ, "PIP_NO_INDEX": "1", "PIP_DISABLE_PIP_VERSION_CHECK": "1"}
    subprocess.run([str(bindir / "python"), "-m", "pip", "install", "--no-deps", "--no-index",
                    "-q", str(wheel)], check=True, capture_output=True, env=env, timeout=300)
    assert (bindir / "autoflats").exists()
    # the installed package finds its own resources (no repository around it)
    # (found without importing: the wheel went in without its dependencies)
    probe = textwrap.dedent("""
        import importlib.util, pathlib, sys
        spec = importlib.util.find_spec("app")
        root = pathlib.Path(spec.submodule_search_locations[0])
        names = sys.argv[1:]
        print(all((root.parent / n).is_file() for n in names), root)
    """)
    clean = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    result = subprocess.run([str(bindir / "python"), "-c", probe, *RESOURCES], check=True,
                            capture_output=True, text=True, cwd=tmp_path, env=clean,
                            timeout=120)
    assert result.stdout.startswith("True ")
    assert str(venv) in result.stdout


FIRST_START = """
import os, sys
os.environ["QT_QPA_PLATFORM"] = "offscreen"
import drivers.zwo_sdk as z
z.find_sdk_candidates = lambda explicit=None: []   # a machine without any ZWO SDK
z.ENV_VAR and os.environ.pop(z.ENV_VAR, None)
from PyQt6.QtCore import QEventLoop, QTimer
from app.gui.app import make_app
from app.gui.main_window import MainWindow
app = make_app()
window = MainWindow(sim_config=sys.argv[1])
window.show()
deadline = 200
while deadline and (window.facts is None or "note:" not in window.logView.toPlainText()):
    loop = QEventLoop(); QTimer.singleShot(50, loop.quit); loop.exec(); deadline -= 1
print("CAMERA", window.current_camera_id())
print("FACTS", window.facts is not None)
print("BANNER", repr(window.banner_text()))
print("LOG", window.logView.toPlainText())
"""


def test_first_start_without_the_sdk_opens_on_the_simulator(tmp_path: Path) -> None:
    pytest.importorskip("PyQt6")
    sim = tmp_path / "sim.toml"
    sim.write_text("time_scale = 0\nwidth = 64\nheight = 48\n")
    env = {**os.environ, "AUTOFLATS_GUI_SETTINGS": str(tmp_path / "gui.ini"),
           "PYTHONPATH": str(REPO)}
    result = subprocess.run([sys.executable, "-c", FIRST_START, str(sim)], capture_output=True,
                            text=True, env=env, cwd=tmp_path, timeout=120)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "CAMERA sim\n" in out and "FACTS True" in out and "BANNER ''" in out
    log = out.split("LOG", 1)[1].strip().splitlines()
    notes = [line for line in log if "note:" in line]
    assert len(notes) == 1, log  # one line, saying how to add the SDK
    assert "ZWO SDK not found" in notes[0]
    assert "pip install 'autoflats[zwo-sdk]'" in notes[0] and "ZWO_ASI_LIB" in notes[0]

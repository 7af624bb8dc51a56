"""GUI test fixtures: the window over a small, instant simulator, with private settings."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

pytest.importorskip("PyQt6")
pytest.importorskip("pyqtgraph")
pytest.importorskip("superqt")

from PyQt6.QtCore import QSettings
from PyQt6.QtWidgets import QApplication, QWidget

from app.gui.main_window import SETTINGS_ENV, MainWindow

SMALL_TOML = """\
width = 256
height = 192
time_scale = 0.0
dust_count = 2
"""


def write_sim(path: Path, extra: str = "") -> Path:
    """A simulator TOML: the small instant sensor plus ``extra`` lines."""
    path.write_text(SMALL_TOML + extra, encoding="utf-8")
    return path


_KEPT: list[QWidget] = []


@pytest.fixture(autouse=True)
def _keep_windows_alive(qapp: QApplication) -> Iterator[None]:
    """Keep every closed window referenced until the test run ends.

    Left to Python's cycle collector, a window's pyqtgraph items can lose their
    attributes before Qt destroys them, and Qt then calls into the half-cleared
    objects during a later test ("LabelItem has no attribute _sizeHint"); deleting
    them explicitly crashes pyqtgraph. Closed windows cost a little memory only.
    """
    yield
    _KEPT.extend(QApplication.topLevelWidgets())


@pytest.fixture(autouse=True)
def _private_gui_settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No test reads or writes the real user's settings."""
    monkeypatch.setenv(SETTINGS_ENV, str(tmp_path / "gui-settings.ini"))


@pytest.fixture
def sim_toml(tmp_path: Path) -> Path:
    """The small instant simulator as a TOML file."""
    return write_sim(tmp_path / "sim.toml")


@pytest.fixture
def qsettings(tmp_path: Path) -> QSettings:
    """A settings file of this test's own."""
    return QSettings(str(tmp_path / "window.ini"), QSettings.Format.IniFormat)


WindowFactory = Callable[..., MainWindow]


@pytest.fixture
def make_window(qtbot: Any, tmp_path: Path, sim_toml: Path,
                qsettings: QSettings) -> Iterator[WindowFactory]:
    """Build a window (camera read), preset for the small simulator into tmp/flats."""
    windows: list[MainWindow] = []

    def make(**options: Any) -> MainWindow:
        options.setdefault("camera", "sim")
        options.setdefault("sim_config", sim_toml)
        options.setdefault("out", tmp_path / "flats")
        options.setdefault("count", 4)
        options.setdefault("qsettings", qsettings)
        window = MainWindow(**options)
        # pytest-qt closes and deletes its widgets before fixtures tear down: a run
        # still going (a failed test) must end first, or its finish reaches no window.
        qtbot.addWidget(window, before_close_func=stop_run)
        window.show()
        qtbot.waitUntil(lambda: window.facts is not None, timeout=10_000)
        windows.append(window)
        return window

    def stop_run(window: MainWindow) -> None:
        if window.is_running():
            window.cancel()
            qtbot.waitUntil(lambda: not window.is_running(), timeout=20_000)

    yield make
    for window in windows:
        stop_run(window)


def run_to_end(qtbot: Any, window: MainWindow, timeout_ms: int = 30_000) -> None:
    """Click Auto flats and wait for the session (and its worker) to finish."""
    qtbot.mouseClick(window.autoFlatsButton, _left())
    qtbot.waitUntil(lambda: window.last_finished is not None and not window.is_running(),
                    timeout=timeout_ms)


def _left() -> Any:
    from PyQt6.QtCore import Qt

    return Qt.MouseButton.LeftButton

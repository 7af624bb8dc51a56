"""``autoflats gui``: the QApplication around :class:`app.gui.main_window.MainWindow`."""

from __future__ import annotations

import argparse
import gc
import sys
from pathlib import Path

from PyQt6.QtGui import QIcon
from PyQt6.QtWidgets import QApplication

from app.gui.main_window import APPLICATION, ORGANIZATION, GuiOptions, MainWindow

ICON = Path(__file__).resolve().parents[1] / "resources" / "icons" / "autoflats.svg"


def make_app(argv: list[str] | None = None) -> QApplication:
    """The QApplication (reused if one exists)."""
    existing = QApplication.instance()
    if isinstance(existing, QApplication):
        return existing
    app = QApplication(argv if argv is not None else sys.argv[:1])
    app.setOrganizationName(ORGANIZATION)
    app.setApplicationName(APPLICATION)
    app.setApplicationDisplayName("autoflats")
    app.setStyle("Fusion")  # once: palettes render the same on every platform
    if ICON.exists():
        app.setWindowIcon(QIcon(str(ICON)))
    return app


def settle_heap() -> None:
    """Move everything built at start-up out of the garbage collector's way.

    Qt, pyqtgraph and astropy leave a large heap of long-lived objects; without this
    every full collection walks it again, a 20-40 ms pause of the event loop.
    """
    gc.collect()
    gc.freeze()


def open_window(args: argparse.Namespace | None = None) -> MainWindow:
    """The shown window, preset from ``args`` (the ``autoflats gui`` options)."""
    make_app()
    window = MainWindow(GuiOptions.from_object(args))
    window.show()
    return window


def run_gui(args: argparse.Namespace | None = None) -> int:
    """Open the window and run the event loop until it closes; the exit code."""
    app = make_app()
    window = open_window(args)  # noqa: F841 - kept alive while the loop runs
    settle_heap()
    return int(app.exec())

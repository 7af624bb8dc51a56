"""``make screenshots``: the README's pictures of both themes, into ``docs/``.

A simulated colour run with a dim panel and no history (so the log holds a whole
exposure search), into a long output folder (elided in the middle), shown in the
dark theme, then in night mode at its default (dimmed) brightness. Everything the
run writes goes to a temporary folder; settings and history are private to it.

    python -m app.gui.screenshots [OUT_DIR]     (default: docs)
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

SIM_TOML = """\
width = 1200
height = 800
time_scale = 0.05
dust_count = 6
flux_e_s = 260.0
seed = 11
"""
#: the pictures, in OUT_DIR
DARK_PNG = "screenshot-dark.png"
NIGHT_PNG = "screenshot-night.png"


def _wait(app: object, seconds: float, until: object = None) -> None:
    from PyQt6.QtCore import QEventLoop, QTimer

    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if callable(until) and until():
            return
        loop = QEventLoop()
        QTimer.singleShot(50, loop.quit)
        loop.exec()


def take(out_dir: Path) -> list[Path]:
    """Run the simulated session and save both pictures; their paths."""
    out_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="autoflats-shots-") as tmp_name:
        tmp = Path(tmp_name)
        os.environ["AUTOFLATS_GUI_SETTINGS"] = str(tmp / "gui.ini")
        os.environ["AUTOFLATS_HISTORY"] = str(tmp / "history.json")
        sim = tmp / "sim.toml"
        sim.write_text(SIM_TOML, encoding="utf-8")
        flats = (tmp / "astro" / "2026-11-25" / "NGC7000-North-America-Nebula" /
                 "ZWO-ASI2600MC-Pro" / "flats" / "Ha-3nm")
        from app.gui.app import make_app
        from app.gui.main_window import MainWindow

        app = make_app()
        window = MainWindow(camera="sim-color", sim_config=sim, out=flats, count=12)
        window.resize(1400, 900)
        window.show()
        _wait(app, 30, lambda: window.facts is not None)
        window.historyCheck.setChecked(False)
        window.autoFlatsButton.click()
        _wait(app, 300, lambda: window.last_finished is not None and not window.is_running())
        window.autoFlatsButton.setFocus()
        _wait(app, 0.5)
        shots = [out_dir / DARK_PNG, out_dir / NIGHT_PNG]
        if not window.grab().save(str(shots[0]), "PNG"):
            raise OSError(f"could not write {shots[0]}")
        window.nightAction.setChecked(True)
        _wait(app, 0.5)
        if not window.grab().save(str(shots[1]), "PNG"):
            raise OSError(f"could not write {shots[1]}")
        window.nightAction.setChecked(False)  # the private settings file only
        window.close()
        _wait(app, 0.5)
    return shots


def main(argv: list[str] | None = None) -> int:
    """Save the pictures into argv[0] (default docs)."""
    args = sys.argv[1:] if argv is None else argv
    for path in take(Path(args[0] if args else "docs")):
        print(path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

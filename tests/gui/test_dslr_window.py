"""The simulated DSLR in the window: ISO instead of gain, no offset, auto flats to the
end with and without a dimmable simulated panel."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from astropy.io import fits

from app.events import FinishReason
from app.gui.job_panel import BRIGHTNESS_AUTO
from app.gui.main_window import MainWindow

pytestmark = pytest.mark.gui


def run_to_end(qtbot: Any, window: MainWindow, timeout_ms: int) -> None:
    """Start (refused: fail at once, with the banner) and wait for the run's end."""
    assert window.start(), window.banner_text()
    qtbot.waitUntil(lambda: window.last_finished is not None and not window.is_running(),
                    timeout=timeout_ms)

SMALL = "width = 240\nheight = 160\ntime_scale = 0.0\nseed = 3\n"
PANEL = "[panel]\nflux_e_s_at_max = 9000.0\nhas_cover = false\n"
TIMEOUT_MS = 120_000


def _toml(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "dslr.toml"
    path.write_text(text, encoding="utf-8")
    return path


def _session(folder: Path) -> dict[str, Any]:
    return json.loads((folder / "session.json").read_text(encoding="utf-8"))


def _gain_label(window: MainWindow) -> str:
    from PyQt6.QtWidgets import QLabel

    label = window.findChild(QLabel, "gainLabel")
    assert label is not None
    return label.text()


def _check_flats(out: Path, record: dict[str, Any]) -> None:
    assert record["status"] == "completed" and record["gain"] == 400
    fits_files = sorted(out.glob("*.fits"))
    assert len(fits_files) == 3 == len(record["flats"])
    for path in fits_files:
        assert path.with_suffix(".pgm").exists()  # the camera's own file beside it
        header = fits.getheader(path)
        assert header["GAIN"] == header["ISOSPEED"] == 400 and "OFFSET" not in header


def test_the_form_says_iso_and_hides_the_offset_for_the_dslr(
        make_window: Any, qtbot: Any, tmp_path: Path) -> None:
    window = make_window(camera="sim-dslr", sim_config=_toml(tmp_path, SMALL))
    assert _gain_label(window) == "ISO"
    assert window.gainSpin.specialValueText() == "400 (camera default)"
    assert "ISO" in window.gainSpin.toolTip() and "25600" in window.gainSpin.toolTip()
    assert window.gainSpin.maximum() >= 25600
    assert window.settingsForm.gainInfo.text().startswith("ISO 400")
    assert not window.offsetSpin.isVisibleTo(window)
    # an ISO the body does not list is refused before anything runs
    window.gainSpin.setValue(450)
    assert not window.start()
    assert "ISO 450 is not offered" in window.banner_text()
    # a camera with gain and offset shows them again
    window.cameraCombo.setCurrentIndex(window.cameraCombo.findData("sim"))
    qtbot.waitUntil(lambda: window.facts is not None and window.facts.camera_id == "sim",
                    timeout=10_000)
    assert _gain_label(window) == "Gain" and window.offsetSpin.isVisibleTo(window)
    assert "0.1 dB" in window.gainSpin.toolTip()


def test_sim_dslr_runs_auto_flats_without_a_panel(make_window: Any, qtbot: Any,
                                                  tmp_path: Path) -> None:
    # an offset from a ZWO camera's run is left in the (hidden) field: it must not count
    window = make_window(camera="sim-dslr", sim_config=_toml(tmp_path, SMALL), count=3,
                         offset=50)
    run_to_end(qtbot, window, TIMEOUT_MS)
    finished = window.last_finished
    assert finished is not None and finished.reason is FinishReason.COMPLETED, finished
    out = tmp_path / "flats"
    record = _session(out)
    _check_flats(out, record)
    # between two speeds: the nearest one, and the window's log says by how much
    assert any("falls between" in w for w in record["warnings"])
    log = window.logView.toPlainText()
    assert "falls between" in log and "ISO 400, bin 1" in log and "offset" not in log.split(
        "ISO 400")[1].splitlines()[0]
    assert "Done: 3 flats written" in window.statusLabel.text()


def test_sim_dslr_with_a_dimmable_panel_lands_on_the_target(make_window: Any, qtbot: Any,
                                                            tmp_path: Path) -> None:
    window = make_window(camera="sim-dslr", sim_config=_toml(tmp_path, SMALL + PANEL),
                         count=3)
    job = window.jobPanel
    job.panelCombo.setCurrentIndex(job.panelCombo.findData("sim"))
    job.brightnessCombo.setCurrentIndex(job.brightnessCombo.findData(BRIGHTNESS_AUTO))
    run_to_end(qtbot, window, TIMEOUT_MS)
    finished = window.last_finished
    assert finished is not None and finished.reason is FinishReason.COMPLETED, finished
    out = tmp_path / "flats"
    record = _session(out)
    _check_flats(out, record)
    assert not any("falls between" in w for w in record.get("warnings") or [])
    assert 1.0 <= record["exposure_s"] <= 10.0 and isinstance(record["brightness"], int)
    target = record["target_native"]
    assert all(abs(f["mean_native"] - target) <= 0.05 * target for f in record["flats"])
    assert "light off" in window.panelStateLabel.text()

"""Sky flats from the window: the twilight sky as the light source, dusk with a wheel
and dawn without one, on the simulated sky (``[sky]`` with ``time_scale = 0``)."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest

from app.events import FinishReason
from app.gui import job_worker
from app.gui.filter_table import DONE, DONE_MARK, FLATS, STATUS
from app.gui.job_panel import BRIGHTNESS_AUTO
from app.gui.main_window import MainWindow
from app.gui.sky_panel import SITE_ENV
from tests.test_sky import TARGET_E, sky_toml

pytestmark = pytest.mark.gui


def run_to_end(qtbot: Any, window: MainWindow, timeout_ms: int) -> None:
    """Start (refused: fail at once, with the banner) and wait for the run's end."""
    assert window.start(), window.banner_text()
    qtbot.waitUntil(lambda: window.last_finished is not None and not window.is_running(),
                    timeout=timeout_ms)

JOB_TIMEOUT_MS = 120_000


@pytest.fixture(autouse=True)
def _no_site_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(SITE_ENV, raising=False)


def _session(folder: Path) -> dict[str, Any]:
    return json.loads((folder / "session.json").read_text(encoding="utf-8"))


def _requests(monkeypatch: pytest.MonkeyPatch) -> list[job_worker.JobRequest]:
    """Record what the window hands the job worker."""
    seen: list[job_worker.JobRequest] = []
    original = job_worker.open_rig

    def recording(request: job_worker.JobRequest) -> Any:
        seen.append(request)
        return original(request)

    monkeypatch.setattr(job_worker, "open_rig", recording)
    return seen


def _log_lines(window: MainWindow) -> list[str]:
    """The log's lines without their time stamps."""
    return [line.partition("  ")[2] for line in window.logView.toPlainText().splitlines()]


def _statuses(window: MainWindow) -> list[str]:
    """Every text the status line shows from now on."""
    shown: list[str] = []
    label = window.statusLabel
    original = label.setText

    def recording(text: str | None) -> None:
        shown.append(text or "")
        original(text)

    label.setText = recording  # type: ignore[method-assign]
    return shown


def _panel_choices(window: MainWindow, qtbot: Any, wheel: str | None,
                   filters: list[str]) -> None:
    """A panel, auto brightness and dark flats chosen first: sky flats must drop them."""
    job = window.jobPanel
    job.panelCombo.setCurrentIndex(job.panelCombo.findData("sim"))
    job.brightnessCombo.setCurrentIndex(job.brightnessCombo.findData(BRIGHTNESS_AUTO))
    job.darkFlatsSpin.setValue(3)
    job.wheelCombo.setCurrentIndex(job.wheelCombo.findData(wheel) if wheel else 0)
    if wheel:
        qtbot.waitUntil(lambda: len(window.filterTable.filter_names()) > 0, timeout=10_000)
    window.filterTable.set_chosen(filters)


def test_dusk_with_a_wheel_waits_then_fills_each_filter_and_the_table(
        make_window: Any, qtbot: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # R needs about 0.15 s at the start (under the 1 s floor): the window waits first.
    sim = sky_toml(tmp_path, "dusk", 150, TARGET_E / 0.05)
    requests = _requests(monkeypatch)
    window = make_window(sim_config=sim, count=3)
    _panel_choices(window, qtbot, "sim", ["L", "R"])
    window.lightSource.choose("dusk")
    shown = _statuses(window)
    run_to_end(qtbot, window, JOB_TIMEOUT_MS)
    finished = window.last_finished
    assert finished is not None and finished.reason is FinishReason.COMPLETED, finished
    # the job the CLI builds for --sky dusk --wheel sim --filters L,R: no panel, no
    # brightness, no dark flats
    [request] = requests
    assert request.panel is None and request.wheel == "sim"
    assert request.job.sky == "dusk" and request.job.site is None
    assert request.job.brightness is None and request.job.dark_count == 0
    out = tmp_path / "flats"
    data = _session(out)
    assert data["sky"] == "dusk" and data["site"] is None
    assert not (out / "darkflats").exists()
    frames = 0
    for entry in data["filters"]:
        name = entry["filter"]
        assert entry["status"] == "completed" and len(entry["flats"]) == 3
        assert len(list((out / name).glob("*.fits"))) == 3
        assert window.filterTable.cell_text(name, DONE) == DONE_MARK
        assert window.filterTable.cell_text(name, FLATS) == "3 / 3"
        assert window.filterTable.cell_text(name, STATUS) == "completed"
        frames += len(entry["sky_frames"])
    log = window.logView.toPlainText()
    # every sky frame in the log, predicted against measured
    sky_lines = [line for line in _log_lines(window)
                 if line.startswith("sky ") and ", predicted " in line]
    assert len(sky_lines) == frames, sky_lines
    kept = [line for line in sky_lines if line.endswith("(kept)")]
    assert len(kept) == 6 and all("predicted " in line and "measured " in line for line in kept)
    assert all("predicted —" not in line for line in kept)
    # the wait, its countdown in the log and in the status line
    assert "too bright" in log and "waiting" in log and "left" in log
    assert any(s.startswith("Waiting for the sky:") and "left" in s for s in shown), shown
    assert window.panelStateLabel.text() == "the twilight sky (dusk): no panel"
    assert "Done: 6 flats written" in window.statusLabel.text()


def test_dawn_without_a_wheel_with_a_site(make_window: Any, qtbot: Any, tmp_path: Path,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    # midnight in Vienna: the site is taken, and the sky's own trend is used
    monkeypatch.setattr("app.engine.utc_now",
                        lambda: datetime(2026, 6, 20, 23, 0, tzinfo=timezone.utc))
    sim = sky_toml(tmp_path, "dawn", 120, TARGET_E / 20.0)  # 20 s needed at the start
    window = make_window(sim_config=sim, count=4)
    window.lightSource.choose("dawn", "48.2,16.4,200")
    run_to_end(qtbot, window, JOB_TIMEOUT_MS)
    finished = window.last_finished
    assert finished is not None and finished.reason is FinishReason.COMPLETED, finished
    out = tmp_path / "flats"
    data = _session(out)
    assert data["sky"] == "dawn"
    assert data["site"] == {"latitude_deg": 48.2, "longitude_deg": 16.4, "elevation_m": 200.0}
    exposures = [f["exposure_s"] for f in data["flats"]]
    assert len(exposures) == 4 and exposures == sorted(exposures, reverse=True)
    assert len(list(out.glob("*.fits"))) == 4
    assert window.filterTable.cell_text("(no filter)", DONE) == DONE_MARK
    log = window.logView.toPlainText()
    assert "dawn sky flats at 48.2, 16.4" in log
    assert sum(line.endswith("(kept)") for line in _log_lines(window)
               if line.startswith("sky: ") and ", predicted " in line) == 4


def test_the_sky_turns_off_panel_brightness_and_dark_flats_and_is_remembered(
        make_window: Any, qtbot: Any, tmp_path: Path, qsettings: Any) -> None:
    sim = sky_toml(tmp_path, "dusk", 180, 1e5)
    window = make_window(sim_config=sim)
    job = window.jobPanel
    refused = (job.panelCombo, job.brightnessCombo, job.brightnessSpin, job.darkFlatsSpin)
    assert all(w.isEnabled() for w in refused[:2] + refused[3:])
    assert not window.lightSource.siteEdit.isVisibleTo(window)
    window.lightSource.choose("dawn", "-33.9,151.2")
    assert not any(w.isEnabled() for w in refused)
    assert "master bias" in job.darkFlatsSpin.toolTip()
    assert window.lightSource.siteEdit.isVisibleTo(window)
    assert job.wheelCombo.isEnabled()  # a wheel still turns with sky flats
    window._set_running(True)
    window._set_running(False)  # the end of a run does not switch them back on
    assert not any(w.isEnabled() for w in refused)
    window.save_settings()
    again = make_window(sim_config=sim, qsettings=qsettings)
    assert again.lightSource.sky() == "dawn"
    assert again.lightSource.siteEdit.text() == "-33.9,151.2"
    assert not again.jobPanel.panelCombo.isEnabled()
    again.lightSource.choose(None)
    job = again.jobPanel
    assert all(w.isEnabled() for w in (job.panelCombo, job.brightnessCombo, job.darkFlatsSpin))
    assert "master bias" not in again.jobPanel.darkFlatsSpin.toolTip()
    assert again.jobControl.job_settings(again.form_settings()) is None  # one camera's flats


@pytest.mark.parametrize(("site", "message"), [
    ("95,16", "latitude"),
    ("north", "LAT,LON"),
])
def test_a_bad_site_is_refused_before_anything_runs(
        make_window: Any, tmp_path: Path, site: str, message: str) -> None:
    window = make_window(sim_config=sky_toml(tmp_path, "dusk", 180, 1e5))
    window.lightSource.choose("dusk", site)
    assert not window.start()
    assert message in window.banner_text() and "site" in window.banner_text()
    assert not (tmp_path / "flats").exists()

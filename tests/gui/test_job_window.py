"""The whole job from the window: panel, wheel, filters, brightness, dark flats, the
hand-cover question and cancel, on the simulated rig."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from PyQt6.QtWidgets import QMessageBox

from app.atomic import TEMP_SUFFIX
from app.cli import EXIT_OK
from app.events import FinishReason
from app.gui import job_worker
from app.gui.filter_table import BRIGHTNESS, DONE, DONE_MARK, EXPOSURE, FLATS, STATUS
from app.gui.job_panel import BRIGHTNESS_AUTO
from app.gui.main_window import MainWindow
from app.job import MAX_FLAT_EXPOSURE_S
from tests.gui.conftest import run_to_end
from tests.test_job import cli

pytestmark = pytest.mark.gui

RIG = """width = 256
height = 192
time_scale = 0
seed = 3

[panel]
levels = 255
flux_e_s_at_max = 40000
gamma = 2.2
has_cover = true

[wheel]
filters = ["L", "R", "G", "B", "Ha"]
throughput = [1.0, 0.33, 0.36, 0.30, 0.012]
move_s = 1.5
"""

JOB_TIMEOUT_MS = 120_000


def rig_toml(tmp_path: Path) -> Path:
    path = tmp_path / "rig.toml"
    path.write_text(RIG, encoding="utf-8")
    return path


def _session(folder: Path) -> dict[str, Any]:
    return json.loads((folder / "session.json").read_text(encoding="utf-8"))


def choose(window: MainWindow, qtbot: Any, *, panel: str | None, wheel: str | None,
           filters: list[str], brightness: str | None = None, darks: int = 0) -> None:
    """Pick the rig in the window like a user, waiting for the wheel's filters."""
    job = window.jobPanel
    job.panelCombo.setCurrentIndex(job.panelCombo.findData(panel) if panel else 0)
    job.wheelCombo.setCurrentIndex(job.wheelCombo.findData(wheel) if wheel else 0)
    if wheel:
        qtbot.waitUntil(lambda: len(window.filterTable.filter_names()) > 0, timeout=10_000)
    window.filterTable.set_chosen(filters)
    if brightness is not None:
        job.brightnessCombo.setCurrentIndex(job.brightnessCombo.findData(brightness))
    job.darkFlatsSpin.setValue(darks)


def test_the_whole_job_fills_the_filter_table_and_writes_dark_flats(
        make_window: Any, qtbot: Any, tmp_path: Path) -> None:
    window = make_window(sim_config=rig_toml(tmp_path), count=3)
    choose(window, qtbot, panel="sim", wheel="sim", filters=["L", "R", "G", "Ha"],
           brightness=BRIGHTNESS_AUTO, darks=2)
    assert window.filterTable.filter_names() == ["L", "R", "G", "B", "Ha"]
    run_to_end(qtbot, window, JOB_TIMEOUT_MS)
    finished = window.last_finished
    assert finished is not None and finished.reason is FinishReason.COMPLETED, finished
    out = tmp_path / "flats"
    data = _session(out)
    table = window.filterTable
    exposures = set()
    for entry in data["filters"]:
        name = entry["filter"]
        assert table.cell_text(name, DONE) == DONE_MARK
        assert table.cell_text(name, STATUS) == "completed"
        assert table.cell_text(name, FLATS) == "3 / 3"
        assert table.cell_text(name, EXPOSURE) == f"{entry['exposure_s']:.4g} s"
        assert table.cell_text(name, BRIGHTNESS) == str(entry["brightness"])
        exposures.add(entry["exposure_s"])
    assert [e["filter"] for e in data["filters"]] == ["L", "R", "G", "Ha"]
    assert table.cell_text("B", STATUS) == "" and table.cell_text("B", DONE) == ""
    darks = data["dark_flats"]
    assert len(darks) == 2 * len(exposures)
    assert len(list((out / "darkflats").glob("*.fits"))) == len(darks)
    assert f"{len(darks)} dark flat(s) written" in window.jobPanel.darkFlatsLabel.text()
    assert "dark flats written" in window.statusLabel.text()
    # the panel was left dark, and the window says so
    assert "light off" in window.panelStateLabel.text()
    assert window.jobControl.questions_asked == 0  # the panel darkens itself: no question
    assert window.autoFlatsButton.isEnabled()


class _Dark:
    """The scope covered by hand: no light reaches the simulated sensor."""

    def flux_e_s(self) -> float:
        return 0.0


def _capture_rig(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    opened: list[Any] = []
    original = job_worker.open_rig

    def recording(request: Any) -> Any:
        devices = original(request)
        opened.append(devices)
        return devices

    monkeypatch.setattr(job_worker, "open_rig", recording)
    return opened


def test_the_hand_cover_question_waits_and_ok_goes_on(
        make_window: Any, qtbot: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    opened = _capture_rig(monkeypatch)
    window = make_window(sim_config=rig_toml(tmp_path), count=2)
    choose(window, qtbot, panel=None, wheel="sim", filters=["L"], darks=2)
    qtbot.mouseClick(window.autoFlatsButton, _left())
    control = window.jobControl
    qtbot.waitUntil(lambda: control.questionBox is not None, timeout=JOB_TIMEOUT_MS)
    box = control.questionBox
    assert box is not None and box.isVisible() and box.isModal()
    assert "cover the scope" in box.text().lower()
    assert window.statusLabel.text().startswith("Waiting for you: cover the scope")
    qtbot.wait(100)  # the worker waits for the answer: nothing finishes meanwhile
    assert window.is_running() and window.last_finished is None
    assert not list((tmp_path / "flats").rglob("darkflats/*.fits"))
    opened[0].camera.set_light(_Dark())  # the user caps the scope
    ok = box.button(QMessageBox.StandardButton.Ok)
    assert ok is not None
    qtbot.mouseClick(ok, _left())
    qtbot.waitUntil(lambda: window.last_finished is not None and not window.is_running(),
                    timeout=JOB_TIMEOUT_MS)
    finished = window.last_finished
    assert finished is not None and finished.reason is FinishReason.COMPLETED, finished
    data = _session(tmp_path / "flats")
    assert len(data["dark_flats"]) == 2 and control.questions_asked == 1
    assert control.questionBox is None


def test_cancel_in_the_hand_cover_question_ends_the_run_and_keeps_the_flats(
        make_window: Any, qtbot: Any, tmp_path: Path) -> None:
    window = make_window(sim_config=rig_toml(tmp_path), count=2)
    choose(window, qtbot, panel=None, wheel="sim", filters=["L"], darks=2)
    qtbot.mouseClick(window.autoFlatsButton, _left())
    control = window.jobControl
    qtbot.waitUntil(lambda: control.questionBox is not None, timeout=JOB_TIMEOUT_MS)
    box = control.questionBox
    assert box is not None
    cancel = box.button(QMessageBox.StandardButton.Cancel)
    assert cancel is not None
    qtbot.mouseClick(cancel, _left())
    qtbot.waitUntil(lambda: window.last_finished is not None and not window.is_running(),
                    timeout=JOB_TIMEOUT_MS)
    finished = window.last_finished
    assert finished is not None and finished.reason is FinishReason.CANCELLED
    data = _session(tmp_path / "flats")
    assert data["status"] == "cancelled" and data["dark_flats"] == []
    assert len(data["filters"][0]["flats"]) == 2  # the flats are kept


def test_cancel_mid_job_keeps_complete_files(make_window: Any, qtbot: Any,
                                             tmp_path: Path) -> None:
    # exposures take 3 % of their time for real, so the cancel lands mid-filter
    # (in instant time the whole first filter could finish before the test's next poll)
    slow = rig_toml(tmp_path)
    slow.write_text(RIG.replace("time_scale = 0", "time_scale = 0.03"), encoding="utf-8")
    window = make_window(sim_config=slow, count=8)
    choose(window, qtbot, panel="sim", wheel="sim", filters=["L", "R"],
           brightness=BRIGHTNESS_AUTO, darks=2)
    qtbot.mouseClick(window.autoFlatsButton, _left())
    qtbot.waitUntil(lambda: len(window._saved) >= 1, timeout=JOB_TIMEOUT_MS)
    window.cancel()
    qtbot.waitUntil(lambda: window.last_finished is not None and not window.is_running(),
                    timeout=JOB_TIMEOUT_MS)
    finished = window.last_finished
    assert finished is not None and finished.reason is FinishReason.CANCELLED
    out = tmp_path / "flats"
    data = _session(out)
    assert data["status"] == "cancelled"
    listed = {f["file"] for e in data["filters"] for f in e["flats"]}
    listed |= {d["file"] for d in data["dark_flats"]}
    on_disk = {str(p.relative_to(out)) for p in out.rglob("*.fits")}
    assert listed == on_disk and 1 <= len(on_disk) < 16
    assert not list(out.rglob(f"*{TEMP_SUFFIX}"))
    assert window.filterTable.cell_text("L", DONE) == ""  # not done: cancelled
    assert "Cancelled" in window.statusLabel.text()
    # the window says how to go on; that command finishes the job on the same rig
    assert f"autoflats flats --resume {out}" in window.statusLabel.text()
    assert (data["panel"], data["wheel"]) == ("sim", "sim")
    assert data["max_flat_exposure_s"] == MAX_FLAT_EXPOSURE_S
    code, _, err = cli("flats", "--resume", str(out))
    assert code == EXIT_OK, err
    done = _session(out)
    assert done["status"] == "completed" and done["brightness_mode"] == "auto"
    assert [len(e["flats"]) for e in done["filters"]] == [8, 8]
    assert len(done["dark_flats"]) == 2 * len({e["exposure_s"] for e in done["filters"]})


def test_filters_without_a_wheel_or_brightness_without_a_panel_are_refused(
        make_window: Any, qtbot: Any, tmp_path: Path) -> None:
    window = make_window(sim_config=rig_toml(tmp_path), count=2)
    choose(window, qtbot, panel=None, wheel=None, filters=[], brightness=BRIGHTNESS_AUTO)
    assert not window.start()
    assert "needs a light panel" in window.banner_text()
    assert not (tmp_path / "flats").exists() or not list((tmp_path / "flats").rglob("*"))


def _left() -> Any:
    from PyQt6.QtCore import Qt

    return Qt.MouseButton.LeftButton


def test_the_panel_state_follows_the_job(make_window: Any, qtbot: Any, tmp_path: Path) -> None:
    window = make_window(sim_config=rig_toml(tmp_path), count=2)
    choose(window, qtbot, panel="sim", wheel=None, filters=[], brightness=BRIGHTNESS_AUTO)
    seen: list[str] = []
    original = window.jobControl.render

    def recording(item: object) -> bool:
        handled = original(item)
        seen.append(window.panelStateLabel.text())
        return handled

    window.jobControl.render = recording  # type: ignore[method-assign]
    run_to_end(qtbot, window, JOB_TIMEOUT_MS)
    assert window.last_finished is not None
    assert window.last_finished.reason is FinishReason.COMPLETED
    states = [s for i, s in enumerate(seen) if i == 0 or s != seen[i - 1]]  # changes only
    moving = [i for i, s in enumerate(states) if "cover moving" in s]
    lit = [i for i, s in enumerate(states) if "light on, level" in s and "cover closed" in s]
    assert moving and lit and moving[0] < lit[0], states
    assert "light off" in states[-1] and "cover closed" in states[-1]


def test_a_panel_that_cannot_be_opened_is_reported_and_the_window_survives(
        make_window: Any, qtbot: Any, tmp_path: Path) -> None:
    window = make_window(sim_config=rig_toml(tmp_path), count=2)
    choose(window, qtbot, panel="alnitak", wheel=None, filters=[])
    window.jobPanel.panelPortEdit.setText(str(tmp_path / "no-such-port"))
    assert window.jobPanel.panel_spec() == f"alnitak:{tmp_path / 'no-such-port'}"
    run_to_end(qtbot, window, JOB_TIMEOUT_MS)
    finished = window.last_finished
    assert finished is not None and finished.reason is FinishReason.FAILED
    assert "could not open the rig" in window.banner_text().lower()
    assert "no-such-port" in window.banner_text()
    assert window.autoFlatsButton.isEnabled() and not window.is_running()


def test_closing_the_window_during_the_question_cancels_and_closes(
        make_window: Any, qtbot: Any, tmp_path: Path) -> None:
    window = make_window(sim_config=rig_toml(tmp_path), count=2)
    choose(window, qtbot, panel=None, wheel="sim", filters=["L"], darks=1)
    qtbot.mouseClick(window.autoFlatsButton, _left())
    qtbot.waitUntil(lambda: window.jobControl.questionBox is not None, timeout=JOB_TIMEOUT_MS)
    window.close()  # cancels first, closes once the rig is released
    qtbot.waitUntil(lambda: not window.isVisible(), timeout=JOB_TIMEOUT_MS)
    finished = window.last_finished
    assert finished is not None and finished.reason is FinishReason.CANCELLED
    assert window.jobControl.questionBox is None
    assert _session(tmp_path / "flats")["status"] == "cancelled"


def test_job_widgets_are_named_and_the_choices_are_remembered(
        make_window: Any, qtbot: Any, tmp_path: Path, qsettings: Any) -> None:
    from PyQt6.QtWidgets import QComboBox, QLabel, QSpinBox, QTableWidget

    window = make_window(sim_config=rig_toml(tmp_path))
    for kind, name in ((QComboBox, "panelCombo"), (QComboBox, "wheelCombo"),
                       (QComboBox, "brightnessCombo"), (QComboBox, "screenCombo"),
                       (QSpinBox, "darkFlatsSpin"), (QSpinBox, "brightnessSpin"),
                       (QTableWidget, "filterTable"), (QLabel, "panelStateLabel")):
        assert window.findChild(kind, name) is not None, name
    panels = [window.panelCombo.itemData(i) for i in range(window.panelCombo.count())]
    assert {None, "sim", "alnitak", "pegasus", "screen"} <= set(panels)
    choose(window, qtbot, panel="sim", wheel="sim", filters=["R", "Ha"],
           brightness=BRIGHTNESS_AUTO, darks=5)
    window.save_settings()
    again = make_window(sim_config=rig_toml(tmp_path), qsettings=qsettings)
    assert again.jobPanel.panel_spec() == "sim" and again.jobPanel.wheel_spec() == "sim"
    assert again.jobPanel.brightness() == "auto"
    assert again.jobPanel.darkFlatsSpin.value() == 5
    qtbot.waitUntil(lambda: again.filterTable.chosen() == ["R", "Ha"], timeout=10_000)

"""The Auto flats window, driven like a user would, over the simulator."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PyQt6.QtCore import QSettings, Qt
from PyQt6.QtWidgets import QComboBox, QLabel, QLineEdit, QPushButton, QSpinBox, QWidget

from app.adu import AduSpace
from app.events import FinishReason
from app.gui.main_window import GuiOptions, MainWindow
from app.gui.worker import display_frame
from app.settings import FlatSettings
from tests.gui.conftest import run_to_end, write_sim

pytestmark = pytest.mark.gui


def _session(folder: Path) -> dict[str, Any]:
    return json.loads((folder / "session.json").read_text(encoding="utf-8"))


def test_contract_widgets(make_window: Any) -> None:
    window = make_window()
    assert window.findChild(QComboBox, "cameraCombo") is window.cameraCombo
    assert window.findChild(QSpinBox, "flatCountSpin") is window.flatCountSpin
    button = window.findChild(QPushButton, "autoFlatsButton")
    assert button is not None and button.text() == "Auto flats"
    assert window.findChild(QPushButton, "cancelButton") is not None
    assert window.findChild(QWidget, "histogramPlot") is not None
    assert window.findChild(QWidget, "imageView") is not None
    assert window.findChild(QLabel, "statusLabel") is not None
    assert window.findChild(QLineEdit, "outputDirEdit") is not None
    ids = [window.cameraCombo.itemData(i) for i in range(window.cameraCombo.count())]
    assert "sim" in ids and "sim-color" in ids
    assert "14-bit" in window.cameraFacts.text()


def test_constructible_without_arguments(qtbot: Any) -> None:
    window = MainWindow()
    qtbot.addWidget(window)
    assert window.cameraCombo.findData("sim") >= 0
    qtbot.waitUntil(lambda: window.facts is not None, timeout=10_000)


def test_full_click_through_writes_flats_and_session(make_window: Any, qtbot: Any,
                                                       tmp_path: Path) -> None:
    window = make_window(count=5)
    run_to_end(qtbot, window)
    finished = window.last_finished
    assert finished is not None and finished.reason is FinishReason.COMPLETED
    out = tmp_path / "flats"
    assert len(list(out.glob("*.fits"))) == 5
    record = _session(out)
    assert record["status"] == "completed"
    assert len(record["flats"]) == 5
    assert "Done: 5 flats" in window.statusLabel.text()
    assert window.progressBar.value() == 5
    assert not window.summaryLabel.isHidden() and "16-bit" in window.summaryLabel.text()
    assert not window.openFolderButton.isHidden()
    # the histogram, the frame and the search plot received data
    assert window.histogram.updates >= 1
    assert window.histogram.channel_names() == ["L"]
    assert window.imageView.frames_drawn >= 1
    assert window.imageView.getImageItem().image is not None
    assert window.searchPlot.solved is not None
    assert window.banner_text() == ""
    assert window.autoFlatsButton.isEnabled() and not window.cancelButton.isEnabled()


def test_search_plot_shows_test_frames_and_fit(make_window: Any, qtbot: Any,
                                               tmp_path: Path) -> None:
    # a dim panel: the first guess is far off, so the solver needs test frames
    sim = write_sim(tmp_path / "dim.toml", "flux_e_s = 300.0\n")
    window = make_window(sim_config=sim, count=2)
    run_to_end(qtbot, window)
    assert window.last_finished is not None
    assert window.last_finished.reason is FinishReason.COMPLETED
    plot = window.searchPlot
    assert len(plot.tests) >= 1
    xs, _ = plot.points.getData()
    assert xs is not None and len(xs) == len(plot.tests)
    assert plot.fit is not None
    fit_x, _ = plot.fit_curve.getData()
    assert fit_x is not None and len(fit_x) > 0
    assert plot.target_line.isVisible()


def test_colour_camera_histogram_has_three_channels(make_window: Any, qtbot: Any) -> None:
    window = make_window(camera="sim-color", count=2)
    assert "Bayer RGGB" in window.cameraFacts.text()
    run_to_end(qtbot, window)
    assert window.last_finished is not None
    assert window.last_finished.reason is FinishReason.COMPLETED
    assert sorted(window.histogram.channel_names()) == ["B", "G", "R"]
    assert window.histogram.target_line.isVisible()
    assert window.histogram.clip_line.isVisible()


def test_cancel_mid_run(make_window: Any, qtbot: Any, tmp_path: Path) -> None:
    # real (scaled) time: each flat takes a few hundred ms, so Cancel lands mid-run
    sim = write_sim(tmp_path / "slow.toml", "").read_text().replace(
        "time_scale = 0.0", "time_scale = 0.4")
    (tmp_path / "slow.toml").write_text(sim)
    window = make_window(sim_config=tmp_path / "slow.toml", count=40)
    qtbot.mouseClick(window.autoFlatsButton, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: window.progressBar.value() >= 1, timeout=30_000)
    assert window.is_running()
    qtbot.mouseClick(window.cancelButton, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not window.is_running(), timeout=10_000)
    finished = window.last_finished
    assert finished is not None and finished.reason is FinishReason.CANCELLED
    out = tmp_path / "flats"
    record = _session(out)
    assert record["status"] == "cancelled"
    fits = sorted(out.glob("*.fits"))
    assert 1 <= len(fits) < 40
    assert len(record["flats"]) == len(fits)
    assert not [p for p in out.iterdir() if p.name.endswith(".part")]
    assert "Cancelled" in window.statusLabel.text()
    assert window.autoFlatsButton.isEnabled()


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ("count0", "count 0"),
        ("unwritable", "output"),
        ("above_full_scale", "full scale"),
        ("percent_too_high", "100%"),
        ("not_a_number", "not understood"),
    ],
)
def test_invalid_input_is_refused_before_anything_starts(
    make_window: Any, qtbot: Any, tmp_path: Path, change: str, expected: str
) -> None:
    window = make_window()
    out = tmp_path / "flats"
    if change == "count0":
        window.flatCountSpin.setValue(0)
    elif change == "unwritable":
        blocker = tmp_path / "a-file"
        blocker.write_text("not a folder")
        out = blocker / "flats"
        window.outputDirEdit.setText(str(out))
    elif change == "above_full_scale":
        window.targetEdit.setText("70000")
    elif change == "percent_too_high":
        window.targetEdit.setText("120%")
    else:
        window.targetEdit.setText("lots")
    qtbot.mouseClick(window.autoFlatsButton, Qt.MouseButton.LeftButton)
    assert not window.is_running()
    assert window.last_finished is None
    assert window.statusLabel.text().startswith("Not started")
    assert expected in window.statusLabel.text()
    assert window.banner.isVisible() and expected in window.banner_text()
    assert not (out / "session.json").exists()


def test_native_target_above_full_scale_is_refused(make_window: Any, qtbot: Any) -> None:
    window = make_window()
    window.spaceCombo.setCurrentIndex(window.spaceCombo.findData(AduSpace.NATIVE.value))
    window.targetEdit.setText("20000")  # the simulator is 14-bit: 16383 native
    assert "20000" in window.targetInfo.text()
    assert not window.start()
    assert "full scale" in window.banner_text()


def test_target_shows_both_scales(make_window: Any) -> None:
    window = make_window()
    window.targetEdit.setText("50%")
    assert window.targetInfo.text().startswith("50 % = 8192 native (14-bit) = 32768 16-bit")
    window.targetEdit.setText("30000")
    assert "7500 native (14-bit) = 30000 16-bit" in window.targetInfo.text()
    window.spaceCombo.setCurrentIndex(window.spaceCombo.findData(AduSpace.NATIVE.value))
    assert "full scale" in window.targetInfo.text()  # 30000 native > 16383
    window.targetEdit.setText("4000")
    assert "4000 native (14-bit) = 16000 16-bit" in window.targetInfo.text()


def test_camera_error_is_shown_and_the_app_survives(make_window: Any, qtbot: Any,
                                                   tmp_path: Path) -> None:
    sim = write_sim(tmp_path / "faulty.toml", "[faults]\ndisconnect_at_frame = 2\n")
    window = make_window(sim_config=sim, count=5)
    run_to_end(qtbot, window)
    finished = window.last_finished
    assert finished is not None and finished.reason is FinishReason.FAILED
    assert "disconnected" in window.banner_text()
    assert "disconnected" in window.logView.toPlainText()
    assert window.statusLabel.text().startswith("Failed")
    assert window.autoFlatsButton.isEnabled()
    assert _session(tmp_path / "flats")["status"] == "failed"


def test_bad_sim_config_is_reported_not_fatal(qtbot: Any, tmp_path: Path,
                                              qsettings: QSettings) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("width = 3\n")
    window = MainWindow(sim_config=bad, qsettings=qsettings)
    qtbot.addWidget(window)
    assert "simulator settings" in window.banner_text()
    assert window.cameraCombo.findData("sim") >= 0


def test_only_the_newest_frame_is_drawn(make_window: Any, qtbot: Any) -> None:
    window = make_window()
    run_to_end(qtbot, window)
    last = window._pending_frame
    assert last is None
    from app.events import FlatCaptured
    from app.stats import FrameStats, histogram

    frames = []
    for i in range(20):
        image = np.full((48, 64), 1000 * (i + 1), dtype=np.uint16)
        stats = FrameStats(1000.0 * (i + 1), 250.0 * (i + 1), {}, 0.0, 16383.0)
        event = FlatCaptured(i + 1, 20, 1.0, stats, histogram(image), image)
        frames.append(display_frame(event))
    drawn_before = window.frames_drawn
    for item in frames:
        window._on_item(item)  # a burst, faster than the render interval
    qtbot.waitUntil(lambda: window.frames_drawn > drawn_before, timeout=2000)
    qtbot.wait(100)
    assert window.frames_drawn == drawn_before + 1
    shown = window.imageView.getImageItem().image
    assert shown is not None and shown.shape == (48, 64)
    assert window.histogram._last is not None
    assert int(window.histogram._last[0].counts["L"].argmax()) == 20_000 >> 8


def test_options_preset_the_form(make_window: Any, tmp_path: Path) -> None:
    window = make_window(camera="sim-color", count=12, gain=150, offset=20, target="40%",
                         out=tmp_path / "elsewhere")
    assert window.current_camera_id() == "sim-color"
    assert window.flatCountSpin.value() == 12
    assert window.gainSpin.value() == 150
    assert window.offsetSpin.value() == 20
    assert window.targetEdit.text() == "40%"
    assert window.outputDirEdit.text() == str(tmp_path / "elsewhere")
    settings = window.form_settings()
    assert settings.gain == 150 and settings.offset == 20 and settings.count == 12


def test_options_from_parsed_arguments_and_settings_objects(qtbot: Any, tmp_path: Path,
                                                           sim_toml: Path,
                                                           qsettings: QSettings) -> None:
    from app.cli import build_parser

    args = build_parser().parse_args(["gui", "--camera", "sim", "--sim-config", str(sim_toml),
                                      "--out", str(tmp_path / "o"), "--count", "7",
                                      "--gain", "90", "--offset", "10", "--target", "30000"])
    assert isinstance(args, argparse.Namespace)
    window = MainWindow(args, qsettings=qsettings)
    qtbot.addWidget(window)
    assert window.flatCountSpin.value() == 7 and window.targetEdit.text() == "30000"
    assert window.gainSpin.value() == 90 and window.offsetSpin.value() == 10
    flat = FlatSettings(out_dir=tmp_path / "f", count=9)
    other = MainWindow(settings=flat, qsettings=qsettings)
    qtbot.addWidget(other)
    assert other.flatCountSpin.value() == 9 and other.targetEdit.text() == "50%"
    assert GuiOptions.from_object({"count": 3}).count == 3
    with pytest.raises(TypeError):
        MainWindow(colour="red", qsettings=qsettings)


def test_settings_persist_between_runs(qtbot: Any, sim_toml: Path,
                                       qsettings: QSettings, tmp_path: Path) -> None:
    first = MainWindow(sim_config=sim_toml, qsettings=qsettings)
    qtbot.addWidget(first)
    first.flatCountSpin.setValue(17)
    first.outputDirEdit.setText(str(tmp_path / "kept"))
    first.targetEdit.setText("45%")
    first.toleranceSpin.setValue(3.0)
    first.filterEdit.setText("Ha")
    first.nightCheck.setChecked(True)
    first.close()
    second = MainWindow(sim_config=sim_toml, qsettings=qsettings)
    qtbot.addWidget(second)
    assert second.flatCountSpin.value() == 17
    assert second.outputDirEdit.text() == str(tmp_path / "kept")
    assert second.targetEdit.text() == "45%"
    assert second.toleranceSpin.value() == pytest.approx(3.0)
    assert second.filterEdit.text() == "Ha"
    assert second.nightCheck.isChecked()
    second.nightCheck.setChecked(False)


def test_closing_while_running_cancels_first(make_window: Any, qtbot: Any,
                                             tmp_path: Path) -> None:
    slow = write_sim(tmp_path / "slow.toml").read_text().replace("time_scale = 0.0",
                                                                  "time_scale = 0.4")
    (tmp_path / "slow.toml").write_text(slow)
    window = make_window(sim_config=tmp_path / "slow.toml", count=40)
    assert window.start()
    qtbot.waitUntil(lambda: window.last_finished is None and window.frames_received >= 1,
                    timeout=30_000)
    window.close()
    qtbot.waitUntil(lambda: not window.is_running(), timeout=10_000)
    assert window.last_finished is not None
    assert window.last_finished.reason is FinishReason.CANCELLED
    qtbot.waitUntil(lambda: not window.isVisible(), timeout=5000)


def test_night_mode_turns_the_window_red(make_window: Any) -> None:
    from PyQt6.QtGui import QPalette
    from PyQt6.QtWidgets import QApplication

    window = make_window()
    window.nightCheck.setChecked(True)
    colour = QApplication.palette().color(QPalette.ColorRole.WindowText)
    assert colour.red() > 100 and colour.green() < 80 and colour.blue() < 80
    assert window.nightAction.isChecked()
    window.nightAction.setChecked(False)
    colour = QApplication.palette().color(QPalette.ColorRole.WindowText)
    assert colour.green() > 150


def test_gui_command_presets_the_window(qtbot: Any, sim_toml: Path, tmp_path: Path) -> None:
    from app.cli import build_parser
    from app.gui.app import open_window

    # run_gui = open_window + the event loop; the loop itself is not run here, because a
    # QApplication that has quit once stops delivering worker signals to later tests.
    args = build_parser().parse_args(["gui", "--camera", "sim-color", "--sim-config",
                                      str(sim_toml), "--out", str(tmp_path / "o"),
                                      "--count", "3"])
    window = open_window(args)
    qtbot.addWidget(window)
    qtbot.waitUntil(lambda: window.facts is not None, timeout=10_000)
    assert window.isVisible()
    assert window.current_camera_id() == "sim-color"
    assert window.flatCountSpin.value() == 3
    assert window.outputDirEdit.text() == str(tmp_path / "o")


def test_corrupt_settings_file_still_opens(qtbot: Any, tmp_path: Path) -> None:
    ini = tmp_path / "corrupt.ini"
    ini.write_text("[General]\ncount=abc\ngain=1e999\nbinning=nan\ntolerance=nan\n"
                   "max_exposure=inf\ntarget=zz\nspace=12bit\ngeometry=garbage\n"
                   "night=maybe\ncamera=nosuch\n")
    window = MainWindow(qsettings=QSettings(str(ini), QSettings.Format.IniFormat))
    qtbot.addWidget(window)
    assert window.flatCountSpin.value() == 30
    assert window.toleranceSpin.value() == pytest.approx(5.0)
    assert window.cameraCombo.findData("sim") >= 0


def test_slow_camera_listing_never_blocks_the_window(qtbot: Any, monkeypatch: pytest.MonkeyPatch,
                                                     qsettings: QSettings) -> None:
    import threading

    from app.gui import main_window
    from drivers.base import CameraEntry
    from drivers.registry import CameraListing

    real_listing = main_window.list_cameras
    usb_answers = threading.Event()

    def slow_listing(path: Any = None, *, hardware: bool = True) -> CameraListing:
        listing = real_listing(path, hardware=False)
        if not hardware:
            return listing
        usb_answers.wait(30)  # an SDK waiting on a sick USB bus, until the test lets it go
        extra = CameraEntry("zwo:0", "ZWO ASI533MM Pro", "zwo", "3008x3008, 14-bit, mono")
        return CameraListing((*listing.cameras, extra), ("found 1 ZWO camera",))

    monkeypatch.setattr(main_window, "list_cameras", slow_listing)
    try:
        # The window is built (and shows the simulators) while the SDK still hangs:
        # no timing involved, so a loaded machine cannot make this fail.
        window = MainWindow(qsettings=qsettings)
        qtbot.addWidget(window)
        assert window.cameraCombo.findData("sim") >= 0
        assert window.cameraCombo.findData("zwo:0") < 0
    finally:
        usb_answers.set()
    qtbot.waitUntil(lambda: window.cameraCombo.findData("zwo:0") >= 0, timeout=10_000)


def test_second_run_starts_from_history_unless_unticked(make_window: Any, qtbot: Any) -> None:
    window = make_window()
    run_to_end(qtbot, window)
    first = window.searchPlot.tests[:]
    run_to_end(qtbot, window)
    assert len(window.searchPlot.tests) <= max(len(first) - 1, 0)  # history saves frames
    assert "last time" in window.logView.toPlainText()
    window.historyCheck.setChecked(False)
    run_to_end(qtbot, window)
    assert len(window.searchPlot.tests) == len(first)  # from scratch, as the first time


RUN_GUI_SCRIPT = """
import sys
from PyQt6.QtCore import QTimer
from PyQt6.QtWidgets import QApplication
from app.cli import build_parser
from app.gui.app import make_app, run_gui

app = make_app()
def check():
    for window in QApplication.topLevelWidgets():
        if getattr(window, "facts", None) is not None:
            print("READY", window.current_camera_id(), window.flatCountSpin.value())
            window.close()
            app.quit()
timer = QTimer()
timer.timeout.connect(check)
timer.start(50)
sys.exit(run_gui(build_parser().parse_args(sys.argv[1:])))
"""


def test_run_gui_runs_the_event_loop(sim_toml: Path, tmp_path: Path) -> None:
    import os
    import subprocess
    import sys

    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    done = subprocess.run(
        [sys.executable, "-c", RUN_GUI_SCRIPT, "gui", "--camera", "sim-color",
         "--sim-config", str(sim_toml), "--out", str(tmp_path / "o"), "--count", "3"],
        capture_output=True, text=True, timeout=60, env=env)
    assert done.returncode == 0, done.stderr
    assert "READY sim-color 3" in done.stdout

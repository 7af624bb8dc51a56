"""At the scope, at night: night mode, readable progress, boxed checkboxes, camera
defaults, the elided folder, the log with the search steps, the cancel message."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PyQt6.QtCore import QRect, Qt
from PyQt6.QtGui import QImage, QPalette
from PyQt6.QtWidgets import QApplication, QCheckBox, QStyle, QStyleOptionButton, QWidget

from app.events import FinishReason
from app.gui.main_window import MainWindow
from app.gui.theme import DARK, NIGHT, NIGHT_BRIGHTNESS, contrast_ratio
from tests.gui.conftest import run_to_end, write_sim

pytestmark = pytest.mark.gui

#: night mode's live frame: mean red value (0-255) over the frame, at the default
#: brightness. A flat drawn at full red averages about 110; dark-adapted eyes want
#: the whole screen below about 15 % of full brightness.
NIGHT_FRAME_MEAN_LIMIT = 38
#: WCAG 2 AA minimum contrast for normal text
WCAG_AA = 4.5


def _array(image: QImage) -> np.ndarray:
    image = image.convertToFormat(QImage.Format.Format_RGB888)
    width, height, stride = image.width(), image.height(), image.bytesPerLine()
    data = np.frombuffer(image.constBits().asstring(stride * height), dtype=np.uint8)
    return data.reshape(height, stride)[:, : width * 3].reshape(height, width, 3)


def _frame_pixels(window: MainWindow) -> np.ndarray:
    """The grabbed frame view, cropped to where the frame is drawn (RGB)."""
    view = window.imageView
    shot = _array(view.grab().toImage())
    item = view.getImageItem()
    rect: QRect = view.mapFromScene(item.sceneBoundingRect()).boundingRect()
    rect = rect.intersected(view.rect()).adjusted(2, 2, -2, -2)
    assert rect.width() > 50 and rect.height() > 50
    return shot[rect.top():rect.bottom(), rect.left():rect.right()]


def test_night_mode_dims_the_live_frame(make_window: Any, qtbot: Any) -> None:
    window = make_window(count=1)
    run_to_end(qtbot, window)
    qtbot.wait(100)
    day = _frame_pixels(window)
    assert day.mean() > 80  # a stretched flat: mid grey

    window.nightAction.setChecked(True)
    assert window.nightBrightnessMenu.level() == pytest.approx(NIGHT_BRIGHTNESS)
    night = _frame_pixels(window)
    assert night[..., 1:].max() == 0  # red only
    assert night[..., 0].mean() < NIGHT_FRAME_MEAN_LIMIT, night[..., 0].mean()

    # the View menu's brightness changes it; full red is far brighter than the limit
    window.nightBrightnessMenu.level_actions[1.0].trigger()
    assert _frame_pixels(window)[..., 0].mean() > 2 * NIGHT_FRAME_MEAN_LIMIT
    window.nightBrightnessMenu.level_actions[0.05].trigger()
    assert _frame_pixels(window)[..., 0].mean() < NIGHT_FRAME_MEAN_LIMIT / 4
    # the plots are dimmed with it
    pen = window.histogram.curves["L"].opts["pen"]
    assert pen.color().red() <= round(0.05 * 255) + 1
    assert window.qsettings.value("night_brightness") in (0.05, "0.05")


def test_night_mode_has_no_blue_in_the_search_legend(make_window: Any, qtbot: Any) -> None:
    window = make_window()
    window.set_night_mode(True)
    plot = window.searchPlot
    assert plot.tests == []  # no test frames drawn yet: the legend still shows a sample
    qtbot.wait(50)
    legend = _array(plot.grab().toImage())
    red, green, blue = (legend[..., i].astype(int) for i in range(3))
    assert (blue > red + 10).sum() == 0 and (green > red + 10).sum() == 0
    colour = plot.points.scatter.opts["brush"].color()
    assert colour.red() > colour.blue() and colour.red() > colour.green()


def test_night_window_after_a_colour_run_has_no_blue_or_green(make_window: Any,
                                                               qtbot: Any) -> None:
    window = make_window(camera="sim-color", count=1)
    window.set_night_mode(True)
    run_to_end(qtbot, window)
    qtbot.wait(100)
    pixels = _array(window.grab().toImage()).astype(int)
    red, green, blue = pixels[..., 0], pixels[..., 1], pixels[..., 2]
    assert ((blue > red + 10) | (green > red + 10)).sum() == 0


def test_night_brightness_is_remembered(make_window: Any, qtbot: Any, qsettings: Any) -> None:
    qsettings.setValue("night_brightness", 0.1)
    window = make_window()
    assert window.nightBrightnessMenu.level() == pytest.approx(0.1)
    assert window.nightBrightnessMenu.level_actions[0.1].isChecked()


@pytest.mark.parametrize("theme", [DARK, NIGHT], ids=["dark", "night"])
def test_progress_text_contrast(make_window: Any, theme: Any) -> None:
    window = make_window()
    window.set_night_mode(theme is NIGHT)
    app = QApplication.instance()
    assert isinstance(app, QApplication)
    palette = app.palette()
    text = palette.color(QPalette.ColorRole.HighlightedText).name()
    chunk = palette.color(QPalette.ColorRole.Highlight).name()
    empty = palette.color(QPalette.ColorRole.Base).name()
    # "5 of 5 flats" sits over the filled chunk and, centred, over the empty part too
    assert contrast_ratio(text, chunk) >= WCAG_AA, (theme.name, text, chunk)
    assert contrast_ratio(text, empty) >= WCAG_AA, (theme.name, text, empty)
    # the progress bar draws its text and chunk in those very colours
    sheet = app.styleSheet()
    bar_rule = re.search(r"QProgressBar \{[^}]*\}", sheet)
    chunk_rule = re.search(r"QProgressBar::chunk \{[^}]*\}", sheet)
    assert bar_rule is not None and f"color: {text}" in bar_rule.group(0)
    assert chunk_rule is not None and chunk in chunk_rule.group(0)


def test_contrast_ratio_is_wcag() -> None:
    assert contrast_ratio("#000000", "#ffffff") == pytest.approx(21.0)
    assert contrast_ratio("#777777", "#ffffff") == pytest.approx(4.48, abs=0.01)
    assert contrast_ratio("#c03030", "#8a1010") < WCAG_AA  # the old night progress bar


def _indicator(box: QCheckBox) -> np.ndarray:
    option = QStyleOptionButton()
    box.initStyleOption(option)
    style = box.style()
    assert style is not None
    rect = style.subElementRect(QStyle.SubElement.SE_CheckBoxIndicator, option, box)
    pixels = _array(box.grab().toImage())
    return pixels[rect.top():rect.bottom() + 1, rect.left():rect.right() + 1].astype(int)


@pytest.mark.parametrize("night", [False, True], ids=["dark", "night"])
def test_checkboxes_are_boxed_ticked_or_not(make_window: Any, qtbot: Any, night: bool) -> None:
    window = make_window()
    window.set_night_mode(night)
    holder = QWidget()
    qtbot.addWidget(holder)
    ticked, unticked = QCheckBox("ticked", holder), QCheckBox("unticked", holder)
    ticked.setChecked(True)
    unticked.move(0, 40)
    holder.show()
    a, b = _indicator(ticked), _indicator(unticked)
    assert a.shape == b.shape and a.shape[0] >= 10
    border = np.ones(a.shape[:2], dtype=bool)
    border[1:-1, 1:-1] = False
    # the same visible box around both...
    assert np.abs(a[border] - b[border]).max() <= 8
    background = _array(holder.grab().toImage())[-2, -2].astype(int)
    assert np.abs(b[border] - background).sum(axis=1).mean() > 30
    # ...and a tick only inside the ticked one
    inner = (slice(3, -3), slice(3, -3))
    assert np.abs(a[inner] - b[inner]).sum(axis=2).max() > 100
    assert np.ptp(b[inner].reshape(-1, 3), axis=0).max() <= 8  # the empty box is plain


def test_gain_and_offset_show_the_camera_default_and_e_per_adu(make_window: Any) -> None:
    window = make_window()
    facts = window.facts
    assert facts is not None
    gain_default = int(facts.controls.gain.default)
    offset_default = int(facts.controls.offset.default)
    assert window.gainSpin.value() == -1
    assert window.gainSpin.text() == f"{gain_default} (camera default)"
    assert window.offsetSpin.text() == f"{offset_default} (camera default)"
    e_default = facts.info.e_per_adu_at(gain_default)
    assert e_default is not None
    info = window.settingsForm.gainInfo.text()
    assert f"{e_default:.2f} e⁻/ADU" in info and f"gain {gain_default}" in info
    window.gainSpin.setValue(0)
    e_zero = facts.info.e_per_adu_at(0)
    assert e_zero is not None and f"{e_zero:.2f} e⁻/ADU" in window.settingsForm.gainInfo.text()
    assert e_zero != pytest.approx(e_default)


def test_long_output_folder_is_elided_in_the_middle(make_window: Any, qtbot: Any,
                                                    tmp_path: Path) -> None:
    window = make_window()
    edit = window.outputDirEdit
    long_path = str(tmp_path / "astro" / "flats" / "very-long-target-name-NGC7000-north-america"
                    / "2026-11-25" / "Ha-3nm")
    edit.setText(long_path)
    window.autoFlatsButton.setFocus()
    shown = edit.displayed_text()
    assert "…" in shown and shown != long_path
    head, tail = shown.split("…")
    assert long_path.startswith(head) and long_path.endswith(tail)
    assert tail.endswith("Ha-3nm") and head.startswith("/")
    assert edit.fontMetrics().horizontalAdvance(shown) <= edit.width()
    assert edit.text() == long_path  # the settings get the full path
    assert long_path in edit.toolTip()
    edit.setFocus()
    qtbot.waitUntil(edit.hasFocus)
    assert edit.displayed_text() == long_path  # editing shows it all


def test_log_grows_and_the_search_steps_stay_in_view(make_window: Any, qtbot: Any,
                                                     tmp_path: Path) -> None:
    sim = write_sim(tmp_path / "dim.toml", "flux_e_s = 300.0\n")
    window = make_window(sim_config=sim, count=30)
    window.historyCheck.setChecked(False)
    window.targetEdit.setText("30002")  # 7500.5 native: a half, rounded up everywhere
    run_to_end(qtbot, window)
    steps = window.monitor.stepsView.toPlainText()
    tests = re.findall(r"^\S+  test \d+: ", steps, flags=re.MULTILINE)
    assert len(tests) == len(window.searchPlot.tests) >= 1
    assert "exposure found" in steps and "— start" in steps and "— completed" in steps
    assert "flat 30/30" not in steps and "flat 30/30" in window.logView.toPlainText()
    # the whole search is in view at once, however many flats followed
    steps_view = window.monitor.stepsView
    line = steps_view.fontMetrics().lineSpacing()
    assert steps_view.viewport().height() >= line * (steps.count("\n") + 1)
    # the log shows more than four lines and grows when its splitter is dragged
    log = window.logView
    assert log.viewport().height() >= 6 * log.fontMetrics().lineSpacing()
    before = log.height()
    split = window.monitor.splitters["split/right"]
    split.setSizes([200, sum(split.sizes()) - 200])
    assert log.height() > before + 50
    # the target reads the same in the log as in the form (one rounding rule)
    assert "target 7501 native (14-bit) = 30002 16-bit" in window.logView.toPlainText()
    assert window.targetInfo.text().startswith("7501 native (14-bit) = 30002 16-bit")


def test_cancel_says_what_is_kept_and_how_to_continue(make_window: Any, qtbot: Any,
                                                      tmp_path: Path) -> None:
    sim = write_sim(tmp_path / "slow.toml", "").read_text().replace(
        "time_scale = 0.0", "time_scale = 0.4")
    (tmp_path / "slow.toml").write_text(sim)
    window = make_window(sim_config=tmp_path / "slow.toml", count=40)
    qtbot.mouseClick(window.autoFlatsButton, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: window.progressBar.value() >= 2, timeout=30_000)
    qtbot.mouseClick(window.cancelButton, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not window.is_running(), timeout=10_000)
    finished = window.last_finished
    assert finished is not None and finished.reason is FinishReason.CANCELLED
    kept = len(list((tmp_path / "flats").glob("*.fits")))
    assert kept >= 2
    hint = (f"{kept} flats kept; continue with: autoflats flats --resume "
            f"{tmp_path / 'flats'}")
    assert hint in window.statusLabel.text()
    assert hint in window.summaryLabel.text()
    assert hint in window.logView.toPlainText()

"""The right-hand side of the window: error banner, live frame, plots and the log."""

from __future__ import annotations

import time

from PyQt6.QtCore import QSettings, Qt
from PyQt6.QtGui import QAction, QActionGroup
from PyQt6.QtWidgets import (
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QMenu,
    QPlainTextEdit,
    QSplitter,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from app.gui.options import setting_float
from app.gui.plots import FrameView, HistogramPlot, SearchPlot
from app.gui.theme import NIGHT_BRIGHTNESS, NIGHT_LEVELS, Theme, dimmed

#: the log and the steps pane show at least this many lines, and start with more
LOG_MIN_LINES = 6
LOG_START_LINES = 12
#: the window's log lines that belong to the exposure search (see MainWindow)
RUN_START = "— start"
STEP_PREFIXES = (RUN_START, "test ", "exposure found", "— ", "error:")


class MonitorPane(QWidget):
    """What a session shows: ``imageView``, ``histogram``, ``searchPlot``, ``logView``.

    ``splitters`` maps the QSettings keys of the pane's splitters to them, so the
    window can remember their sizes.
    """

    def __init__(self) -> None:
        super().__init__()
        self.banner = QLabel()
        self.banner.setObjectName("errorBanner")
        self.banner.setWordWrap(True)
        self.banner.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.banner.hide()
        self.bannerClose = QToolButton()
        self.bannerClose.setText("✕")
        self.bannerClose.setToolTip("Hide this message")
        self.bannerClose.clicked.connect(self.hide_banner)
        self.bannerClose.hide()
        banner_row = QHBoxLayout()
        banner_row.addWidget(self.banner, 1)
        banner_row.addWidget(self.bannerClose, 0, Qt.AlignmentFlag.AlignTop)

        self.imageView = FrameView()
        self.histogram = HistogramPlot()
        self.searchPlot = SearchPlot()
        frame_box = _titled("Live frame (stretched, reduced)", self.imageView)
        hist_box = _titled("Histogram of the latest frame", self.histogram)
        search_box = _titled("Exposure search: test frames, fit and target", self.searchPlot)
        plots = QSplitter(Qt.Orientation.Vertical)
        plots.addWidget(hist_box)
        plots.addWidget(search_box)
        top = QSplitter(Qt.Orientation.Horizontal)
        top.addWidget(frame_box)
        top.addWidget(plots)
        top.setStretchFactor(0, 3)
        top.setStretchFactor(1, 2)
        self.logView = QPlainTextEdit()
        self.logView.setObjectName("logView")
        self.logView.setReadOnly(True)
        self.logView.setMaximumBlockCount(5000)
        self.logView.setPlaceholderText("Session events appear here.")
        self.logView.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
        self.stepsView = QPlainTextEdit()
        self.stepsView.setObjectName("searchStepsView")
        self.stepsView.setReadOnly(True)
        self.stepsView.setPlaceholderText("The exposure search of the latest run: each test "
                                          "frame, and the exposure found.")
        self.stepsView.setToolTip("Stays put while the flats scroll by in the log.")
        for view in (self.logView, self.stepsView):
            view.setMinimumHeight(_lines_height(view, LOG_MIN_LINES))
        log_split = QSplitter(Qt.Orientation.Horizontal)
        log_split.addWidget(_titled("Exposure search steps", self.stepsView))
        log_split.addWidget(_titled("Log", self.logView))
        log_split.setStretchFactor(0, 2)
        log_split.setStretchFactor(1, 3)
        right_split = QSplitter(Qt.Orientation.Vertical)
        right_split.addWidget(top)
        right_split.addWidget(log_split)
        right_split.setChildrenCollapsible(False)
        right_split.setStretchFactor(0, 3)
        right_split.setStretchFactor(1, 1)
        right_split.setSizes([560, _lines_height(self.logView, LOG_START_LINES) + 40])
        self.splitters = {"split/top": top, "split/plots": plots, "split/right": right_split,
                          "split/log": log_split}
        self.theme: Theme | None = None
        self.night_brightness = NIGHT_BRIGHTNESS
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(banner_row)
        layout.addWidget(right_split, 1)

    def show_error(self, message: str) -> None:
        """The error banner."""
        self.banner.setText(message)
        self.banner.show()
        self.bannerClose.show()

    def hide_banner(self) -> None:
        """Hide the error banner."""
        self.banner.hide()
        self.bannerClose.hide()

    def banner_text(self) -> str:
        """The banner's message, '' when hidden."""
        return self.banner.text() if not self.banner.isHidden() else ""

    def log(self, line: str) -> None:
        """Append a line, with the time, to the log pane.

        The exposure search's lines (the run's start, each test frame, the exposure
        found, the outcome) also go to the steps pane, which a new run clears: they
        stay in view however many flats follow.
        """
        stamped = f"{time.strftime('%H:%M:%S')}  {line}"
        self.logView.appendPlainText(stamped)
        if line.startswith(RUN_START):
            self.stepsView.clear()
        if line.startswith(STEP_PREFIXES):
            self.stepsView.appendPlainText(stamped)

    def apply_theme(self, theme: Theme) -> None:
        """Colour the frame and the plots (dimmed to the night brightness in night mode)."""
        self.theme = theme
        shown = dimmed(theme, self.night_brightness) if theme.name == "night" else theme
        self.imageView.apply_theme(shown)
        self.histogram.apply_theme(shown)
        self.searchPlot.apply_theme(shown)

    def set_night_brightness(self, brightness: float) -> None:
        """How bright the frame and the plots are in night mode (share of full red)."""
        self.night_brightness = min(1.0, max(0.02, brightness))
        if self.theme is not None:
            self.apply_theme(self.theme)


class NightBrightnessMenu(QMenu):
    """View ▸ Night brightness: how bright the live frame and the plots are in night mode.

    The level is kept in ``qsettings`` (``night_brightness``) and applied to ``monitor``
    at once; it only shows while night mode is on.
    """

    SETTING = "night_brightness"

    def __init__(self, monitor: MonitorPane, qsettings: QSettings,
                 parent: QWidget | None = None) -> None:
        super().__init__("Night &brightness", parent)
        self.setObjectName("nightBrightnessMenu")
        self.setToolTipsVisible(True)
        self._monitor, self._qsettings = monitor, qsettings
        group = QActionGroup(self)
        group.setExclusive(True)
        self.level_actions: dict[float, QAction] = {}
        for level in NIGHT_LEVELS:
            action = QAction(f"{level:.0%} of full red", self)
            action.setCheckable(True)
            action.setToolTip("The live frame and the plots in night mode.")
            action.triggered.connect(lambda _=False, lv=level: self.set_level(lv))
            group.addAction(action)
            self.addAction(action)
            self.level_actions[level] = action
        saved = setting_float(qsettings.value(self.SETTING), NIGHT_BRIGHTNESS)
        self.set_level(min(NIGHT_LEVELS, key=lambda lv: abs(lv - saved)), remember=False)

    def level(self) -> float:
        """The chosen brightness (share of full red)."""
        return self._monitor.night_brightness

    def set_level(self, level: float, *, remember: bool = True) -> None:
        """Dim (or brighten) the frame and the plots to ``level``."""
        self._monitor.set_night_brightness(level)
        action = self.level_actions.get(level)
        if action is not None and not action.isChecked():
            action.setChecked(True)
        if remember:
            self._qsettings.setValue(self.SETTING, level)


def _lines_height(view: QPlainTextEdit, lines: int) -> int:
    """Height in pixels that shows ``lines`` lines of ``view``'s text."""
    return view.fontMetrics().lineSpacing() * lines + 12


def _titled(title: str, widget: QWidget) -> QGroupBox:
    box = QGroupBox(title)
    layout = QVBoxLayout(box)
    layout.setContentsMargins(4, 4, 4, 4)
    layout.addWidget(widget)
    return box

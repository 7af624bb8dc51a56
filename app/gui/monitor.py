"""The right-hand side of the window: error banner, live frame, plots and the log."""

from __future__ import annotations

import time

from PyQt6.QtCore import Qt
from PyQt6.QtWidgets import (
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QSplitter,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from app.gui.plots import FrameView, HistogramPlot, SearchPlot
from app.gui.theme import Theme


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
        right_split = QSplitter(Qt.Orientation.Vertical)
        right_split.addWidget(top)
        right_split.addWidget(_titled("Log", self.logView))
        right_split.setStretchFactor(0, 4)
        right_split.setStretchFactor(1, 1)
        self.splitters = {"split/top": top, "split/plots": plots, "split/right": right_split}
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
        """Append a line, with the time, to the log pane."""
        self.logView.appendPlainText(f"{time.strftime('%H:%M:%S')}  {line}")

    def apply_theme(self, theme: Theme) -> None:
        """Colour the frame and the plots."""
        self.imageView.apply_theme(theme)
        self.histogram.apply_theme(theme)
        self.searchPlot.apply_theme(theme)


def _titled(title: str, widget: QWidget) -> QGroupBox:
    box = QGroupBox(title)
    layout = QVBoxLayout(box)
    layout.setContentsMargins(4, 4, 4, 4)
    layout.addWidget(widget)
    return box

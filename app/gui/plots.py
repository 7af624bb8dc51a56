"""The live plots: frame, histogram, exposure search. They draw what they are given."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import numpy.typing as npt
import pyqtgraph as pg
from PyQt6.QtCore import Qt
from PyQt6.QtGui import QColor
from PyQt6.QtWidgets import QCheckBox, QVBoxLayout, QWidget

from app.adu import FULL_SCALE_16BIT, AduScale, AduSpace
from app.gui.theme import DARK, Theme
from app.stats import Frame, Histogram

pg.setConfigOptions(imageAxisOrder="row-major", antialias=False)


class FrameView(pg.GraphicsView):  # type: ignore[misc]  # pyqtgraph is untyped
    """The live frame, stretched for the eye; only the newest frame is drawn.

    A plain view box with one ImageItem (lighter than ``pg.ImageView``, which also
    keeps a histogram of every image and registers named views).
    """

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("imageView")
        self.view = pg.ViewBox(lockAspect=True, invertY=True, enableMenu=False)
        self.setCentralItem(self.view)
        self.imageItem = pg.ImageItem(axisOrder="row-major")
        self.view.addItem(self.imageItem)
        self.frames_drawn = 0
        self._shape: tuple[int, ...] | None = None

    @property
    def image(self) -> Frame | None:
        """The frame on display (None before the first)."""
        image: Frame | None = self.imageItem.image
        return image

    def getImageItem(self) -> pg.ImageItem:
        """The ImageItem that draws the frame."""
        return self.imageItem

    def show_frame(self, frame: npt.NDArray[Any], levels: tuple[float, float]) -> None:
        """Draw ``frame`` (a reduced preview) between ``levels``."""
        self.imageItem.setImage(frame, autoLevels=False, levels=levels)
        if self._shape != frame.shape:
            self.view.autoRange(padding=0)
            self._shape = frame.shape
        self.frames_drawn += 1

    def apply_theme(self, theme: Theme) -> None:
        """Background colour; in night mode the frame is drawn in dim shades of red only.

        The brightest pixel is drawn at ``theme.frame_peak × theme.brightness``: a flat
        is an even, bright field, and at full red it would spoil dark adaptation.
        """
        self.setBackground(theme.plot_bg)
        if theme.name == "night":
            peak = max(1, round(theme.frame_peak * theme.brightness))
            lut = np.zeros((256, 3), dtype=np.uint8)
            lut[:, 0] = np.arange(256, dtype=np.uint32) * peak // 255
            self.imageItem.setLookupTable(lut)
        else:
            self.imageItem.setLookupTable(None)


class HistogramPlot(QWidget):
    """Per-channel histogram of the latest frame with target, tolerance and clipping."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.plot = pg.PlotWidget()
        self.plot.setObjectName("histogramPlot")
        self.plot.setMenuEnabled(False)
        self.plot.setLabel("left", "pixels")
        self.plot.showGrid(x=True, y=True, alpha=0.15)
        self.plot.setMouseEnabled(x=False, y=False)
        self.log_check = QCheckBox("log y")
        self.log_check.setObjectName("histogramLogCheck")
        self.log_check.setToolTip("Logarithmic pixel counts: shows the few clipped pixels.")
        self.log_check.toggled.connect(self._set_log)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.plot)
        layout.addWidget(self.log_check, alignment=Qt.AlignmentFlag.AlignRight)
        self.band = pg.LinearRegionItem(movable=False)
        self.band.setZValue(-10)
        self.target_line = pg.InfiniteLine(angle=90, movable=False)
        self.clip_line = pg.InfiniteLine(angle=90, movable=False)
        for item in (self.band, self.target_line, self.clip_line):
            item.hide()
            self.plot.addItem(item)
        self.curves: dict[str, pg.PlotDataItem] = {}
        self.updates = 0
        self._theme = DARK
        self._scale = AduScale(16)
        self._space = AduSpace.BIT16
        self._target_native: float | None = None
        self._tolerance_native = 0.0
        self._last: tuple[Histogram, float] | None = None
        self._set_axis()

    # -- configuration -------------------------------------------------------------
    def set_scale(self, scale: AduScale, space: AduSpace) -> None:
        """The camera's bit depth and the space the axis is drawn in."""
        self._scale, self._space = scale, space
        self._set_axis()
        self._redraw()

    def set_target(self, target_native: float | None, tolerance_native: float) -> None:
        """The target level and tolerance, in native ADU (None hides them)."""
        self._target_native = target_native
        self._tolerance_native = tolerance_native
        self._redraw_marks()

    def apply_theme(self, theme: Theme) -> None:
        """Colours of background, axes and marks."""
        self._theme = theme
        self.plot.setBackground(theme.plot_bg)
        for axis in ("left", "bottom"):
            self.plot.getAxis(axis).setPen(theme.plot_fg)
            self.plot.getAxis(axis).setTextPen(theme.plot_fg)
        self.target_line.setPen(pg.mkPen(theme.target, width=2))
        self.clip_line.setPen(pg.mkPen(theme.clip, width=2, style=Qt.PenStyle.DashLine))
        self.band.setBrush(pg.mkBrush(QColor(*theme.band)))
        for line in self.band.lines:
            line.setPen(pg.mkPen(None))
        for name, curve in self.curves.items():
            curve.setPen(pg.mkPen(theme.channel.get(name, theme.plot_fg), width=1.5))

    # -- data ----------------------------------------------------------------------
    def show_histogram(self, hist: Histogram, clip_level_native: float) -> None:
        """Draw the histogram of the latest frame."""
        self._last = (hist, clip_level_native)
        self.updates += 1
        self._redraw()

    def channel_names(self) -> list[str]:
        """Channels currently drawn."""
        return [name for name, curve in self.curves.items() if curve.isVisible()]

    # -- drawing -------------------------------------------------------------------
    def _to_axis(self, native: float) -> float:
        return native if self._space is AduSpace.NATIVE else self._scale.to_16bit(native)

    def _set_axis(self) -> None:
        if self._space is AduSpace.NATIVE:
            label, top = f"ADU (native, {self._scale.bit_depth}-bit)", self._scale.full_scale_native
        else:
            label, top = "ADU (16-bit)", FULL_SCALE_16BIT
        self.plot.setLabel("bottom", label)
        self.plot.setXRange(0, top * 1.01, padding=0)

    def _set_log(self, on: bool) -> None:
        self.plot.setLogMode(x=False, y=on)
        self._redraw()

    def _redraw(self) -> None:
        self._redraw_marks()
        if self._last is None:
            return
        hist, _ = self._last
        edges = np.asarray(hist.bin_edges_16bit, dtype=np.float64)
        centres = (edges[:-1] + edges[1:]) / 2
        if self._space is AduSpace.NATIVE:
            centres = centres / self._scale.factor
        log = self.log_check.isChecked()
        for name in list(self.curves):
            if name not in hist.counts:
                self.curves[name].hide()
        for name, counts in hist.counts.items():
            values = np.asarray(counts, dtype=np.float64)
            if log:
                values = np.maximum(values, 0.5)  # log of empty bins
            curve = self.curves.get(name)
            if curve is None:
                curve = self.plot.plot(
                    pen=pg.mkPen(self._theme.channel.get(name, self._theme.plot_fg), width=1.5),
                    name=name)
                self.curves[name] = curve
            curve.setData(centres, values)
            curve.show()

    def _redraw_marks(self) -> None:
        if self._target_native is None:
            self.target_line.hide()
            self.band.hide()
        else:
            self.target_line.setValue(self._to_axis(self._target_native))
            low = self._to_axis(self._target_native - self._tolerance_native)
            high = self._to_axis(self._target_native + self._tolerance_native)
            self.band.setRegion((low, high))
            self.target_line.show()
            self.band.show()
        if self._last is None:
            self.clip_line.hide()
        else:
            self.clip_line.setValue(self._to_axis(self._last[1]))
            self.clip_line.show()


class SearchPlot(pg.PlotWidget):  # type: ignore[misc]  # pyqtgraph is untyped
    """Exposure search: test frames (exposure vs mean), the fitted line and the target."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("searchPlot")
        self.setMenuEnabled(False)
        self.setLabel("bottom", "exposure (s)")
        self.showGrid(x=True, y=True, alpha=0.15)
        self.addLegend(offset=(8, 8))
        self.points = pg.PlotDataItem(pen=None, symbol="o", symbolSize=9, name="test frames")
        self.accepted = pg.PlotDataItem(pen=None, symbol="star", symbolSize=16,
                                        name="accepted")
        self.fit_curve = pg.PlotDataItem(name="fit: bias + rate × t")
        self.target_line = pg.InfiniteLine(angle=0, movable=False, label="target",
                                           labelOpts={"position": 0.12})
        self.target_line.hide()
        for item in (self.fit_curve, self.points, self.accepted, self.target_line):
            self.addItem(item)
        self.tests: list[tuple[float, float]] = []
        self.fit: tuple[float, float] | None = None
        self.solved: tuple[float, float] | None = None
        self._target_native: float | None = None
        self._scale = AduScale(16)
        self._space = AduSpace.BIT16
        self._theme = DARK
        self._log_x = False
        self._set_axis()

    def reset(self) -> None:
        """Forget the previous run."""
        self.tests.clear()
        self.fit = None
        self.solved = None
        self._redraw()

    def set_scale(self, scale: AduScale, space: AduSpace) -> None:
        """The camera's bit depth and the space the mean axis is drawn in."""
        self._scale, self._space = scale, space
        self._set_axis()
        self._redraw()

    def set_target(self, target_native: float | None) -> None:
        """The target level in native ADU."""
        self._target_native = target_native
        self._redraw()

    def add_test(self, exposure_s: float, mean_native: float, bias_native: float | None,
                 rate_native_per_s: float | None) -> None:
        """One test frame, with the solver's linear fit so far (if any)."""
        self.tests.append((exposure_s, mean_native))
        if bias_native is not None and rate_native_per_s is not None:
            self.fit = (bias_native, rate_native_per_s)
        self._redraw()

    def set_solved(self, exposure_s: float, mean_native: float) -> None:
        """The accepted exposure."""
        self.solved = (exposure_s, mean_native)
        self._redraw()

    def apply_theme(self, theme: Theme) -> None:
        """Colours of background, axes, points and lines."""
        self._theme = theme
        self.setBackground(theme.plot_bg)
        for axis in ("left", "bottom"):
            self.getAxis(axis).setPen(theme.plot_fg)
            self.getAxis(axis).setTextPen(theme.plot_fg)
        self.points.setSymbolBrush(pg.mkBrush(theme.points))
        self.points.setSymbolPen(pg.mkPen(theme.plot_bg))
        self.accepted.setSymbolBrush(pg.mkBrush(theme.target))
        self.accepted.setSymbolPen(pg.mkPen(theme.plot_bg))
        # The legend draws its samples from the scatter's own defaults, which the
        # calls above leave alone while a plot has no points (pyqtgraph's default is
        # blue-grey: a blue light in night mode).
        for item, colour in ((self.points, theme.points), (self.accepted, theme.target)):
            item.scatter.setBrush(pg.mkBrush(colour))
            item.scatter.setPen(pg.mkPen(theme.plot_bg))
        self.fit_curve.setPen(pg.mkPen(theme.fit, width=2, style=Qt.PenStyle.DashLine))
        self.target_line.setPen(pg.mkPen(theme.target, width=2))
        self.target_line.label.setColor(theme.target)

    def _y(self, native: float) -> float:
        return native if self._space is AduSpace.NATIVE else self._scale.to_16bit(native)

    def _set_axis(self) -> None:
        unit = (f"native, {self._scale.bit_depth}-bit" if self._space is AduSpace.NATIVE
                else "16-bit")
        self.setLabel("left", f"mean ADU ({unit})")
        # Always 0..full scale: where the target sits between black and clipping.
        self.setYRange(0, self._y(self._scale.full_scale_native), padding=0.02)

    def _redraw(self) -> None:
        frames = list(self.tests)
        if self.solved is not None:
            frames.append(self.solved)
        exposures = [t for t, _ in frames]
        log_x = bool(exposures) and max(exposures) / min(exposures) > 20
        if log_x != self._log_x:
            self._log_x = log_x
            self.setLogMode(x=log_x, y=False)
        self.points.setData([t for t, _ in self.tests], [self._y(m) for _, m in self.tests])
        if self.solved is not None:
            self.accepted.setData([self.solved[0]], [self._y(self.solved[1])])
        else:
            self.accepted.setData([], [])
        if self.fit is not None and exposures:
            bias, rate = self.fit
            low, high = min(exposures) / 2, max(exposures) * 1.5
            ts = np.geomspace(low, high, 100) if log_x else np.linspace(0, high, 100)
            top = self._scale.full_scale_native
            means = np.clip(bias + rate * ts, -0.05 * top, top)
            self.fit_curve.setData(ts, [self._y(m) for m in means])
        else:
            self.fit_curve.setData([], [])
        if self._target_native is not None:
            self.target_line.setValue(self._y(self._target_native))
            self.target_line.show()
        else:
            self.target_line.hide()


def nice_seconds(seconds: float | None) -> str:
    """'1 h 02 min', '3 min 05 s', '12.3 s', '450 ms' or '—'."""
    if seconds is None or not math.isfinite(seconds) or seconds < 0:
        return "—"
    if seconds < 1:
        return f"{seconds * 1000:.0f} ms"
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, secs = divmod(round(seconds), 60)
    if minutes < 60:
        return f"{minutes} min {secs:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"

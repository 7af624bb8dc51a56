"""The "Auto flats" window: pick a camera, set the count, click Auto flats, watch.

The window renders the session's events and nothing more: the session runs in
:func:`app.gui.worker.run_session` on a worker thread (superqt ``create_worker``),
which opens, uses and closes the camera. Cancel sets the ``threading.Event`` the
session watches; it aborts the running exposure.
"""

from __future__ import annotations

import argparse
import math
import os
import threading
import time
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from PyQt6.QtCore import QByteArray, QSettings, Qt, QTimer, QUrl
from PyQt6.QtGui import QAction, QCloseEvent, QDesktopServices, QKeySequence
from PyQt6.QtWidgets import (
    QApplication,
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMainWindow,
    QPlainTextEdit,
    QProgressBar,
    QPushButton,
    QScrollArea,
    QSizePolicy,
    QSpinBox,
    QSplitter,
    QToolButton,
    QVBoxLayout,
    QWidget,
)
from superqt.utils import create_worker

from app.adu import FULL_SCALE_16BIT, AduScale, AduSpace, Target, TargetError
from app.events import (
    ExposureSolved,
    FinishReason,
    FlatRejected,
    FlatSaved,
    Notice,
    Phase,
    Progress,
    SessionError,
    SessionFinished,
    SessionStarted,
    TestFrame,
)
from app.gui.plots import FrameView, HistogramPlot, SearchPlot, nice_seconds
from app.gui.theme import apply_theme, theme_for
from app.gui.worker import CameraFacts, DisplayFrame, probe_camera, run_session
from app.session import check_output_folder, plan_session
from app.settings import MAX_COUNT, FlatSettings, SettingsError
from drivers.base import CameraEntry
from drivers.errors import CameraError
from drivers.registry import list_cameras

#: QSettings file to use instead of the user's (tests, automated checks)
SETTINGS_ENV = "AUTOFLATS_GUI_SETTINGS"
ORGANIZATION = "autoflats"
APPLICATION = "autoflats"
#: how often the newest frame is drawn at most (ms): frames in between are dropped
RENDER_INTERVAL_MS = 40

ADU_TIP = (
    "ADU (analog-to-digital unit) is the number a pixel reads.\n"
    "A 14-bit sensor reads 0..16383 natively; ZWO cameras deliver it scaled to 16 bits\n"
    "(x4), so most programs show 0..65535. '16-bit' and 'native' are the same light.\n"
    "Full scale is 2^bits - 1 (65535 in 16-bit)."
)
TARGET_TIP = (
    "The mean level the flats aim for: a percentage of full scale (50%) or an ADU value\n"
    "(30000). 50 % keeps flats well clear of clipping and of the non-linear top of the\n"
    "sensor while giving plenty of signal; sensors that go non-linear early (ASI1600)\n"
    "do well at 8-10 k (16-bit).\n\n" + ADU_TIP
)


@dataclass(frozen=True, slots=True)
class GuiOptions:
    """What ``autoflats gui`` can preset; None keeps the saved (or default) value."""

    camera: str | None = None
    sim_config: Path | None = None
    out: Path | None = None
    count: int | None = None
    gain: int | None = None
    offset: int | None = None
    target: str | None = None

    @classmethod
    def from_object(cls, source: Any) -> GuiOptions:
        """From GuiOptions, argparse.Namespace, FlatSettings, a mapping or any object."""
        if source is None:
            return cls()
        if isinstance(source, GuiOptions):
            return source
        if isinstance(source, FlatSettings):
            return cls(out=source.out_dir, count=source.count, gain=source.gain,
                       offset=source.offset, target=_target_text(source.target))
        data = dict(source) if isinstance(source, dict) else vars(source) if hasattr(
            source, "__dict__") else {f.name: getattr(source, f.name, None) for f in fields(cls)}
        if "out" not in data and "out_dir" in data:
            data["out"] = data["out_dir"]
        return cls(**{f.name: data.get(f.name) for f in fields(cls)}).normalised()

    def normalised(self) -> GuiOptions:
        """Paths as Path, target as text."""
        target = self.target
        if isinstance(target, Target):
            target = _target_text(target)
        return GuiOptions(
            camera=self.camera,
            sim_config=Path(self.sim_config) if self.sim_config else None,
            out=Path(self.out) if self.out else None,
            count=self.count, gain=self.gain, offset=self.offset,
            target=str(target) if target is not None else None,
        )


def _target_text(target: Target) -> str:
    return f"{target.value:g}%" if target.is_percent else f"{target.value:g}"


def default_qsettings() -> QSettings:
    """The user's settings, or the INI file named by $AUTOFLATS_GUI_SETTINGS."""
    path = os.environ.get(SETTINGS_ENV)
    if path:
        return QSettings(path, QSettings.Format.IniFormat)
    return QSettings(QSettings.Format.IniFormat, QSettings.Scope.UserScope, ORGANIZATION,
                     APPLICATION)


def default_out_dir() -> Path:
    """Where flats go unless the user chose a folder."""
    return Path.home() / "autoflats"


class MainWindow(QMainWindow):
    """The Auto flats window.

    ``MainWindow()`` works alone; options come as keyword arguments
    (``camera``, ``sim_config``, ``out``, ``count``, ``gain``, ``offset``, ``target``)
    or as one object (GuiOptions, the parsed ``autoflats gui`` arguments, FlatSettings).
    """

    def __init__(
        self,
        options: Any = None,
        *,
        settings: Any = None,
        qsettings: QSettings | None = None,
        parent: QWidget | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(parent)
        base = GuiOptions.from_object(options if options is not None else settings)
        if kwargs:
            unknown = set(kwargs) - {f.name for f in fields(GuiOptions)} - {"out_dir"}
            if unknown:
                raise TypeError(f"unknown option(s): {', '.join(sorted(unknown))}")
            merged = {f.name: getattr(base, f.name) for f in fields(GuiOptions)}
            if "out_dir" in kwargs:
                kwargs["out"] = kwargs.pop("out_dir")
            merged.update({k: v for k, v in kwargs.items() if v is not None})
            base = GuiOptions(**merged).normalised()
        self.options = base
        self.qsettings = qsettings if qsettings is not None else default_qsettings()
        self.sim_config_path = base.sim_config
        self.facts: CameraFacts | None = None
        self.last_finished: SessionFinished | None = None
        self._entries: list[CameraEntry] = []
        self._probe_worker: Any = None
        self._probe_serial = 0
        self._worker: Any = None
        self._cancel: threading.Event | None = None
        self._running = False
        self._start_pending = False
        self._close_requested = False
        self._pending_frame: DisplayFrame | None = None
        self._started_at = 0.0
        self._last_progress: tuple[Progress, float] | None = None
        self._saved: list[FlatSaved] = []
        self._captured = 0
        self._count = 0
        self._out_dir: Path | None = None
        self._solved: ExposureSolved | None = None
        self._started_event: SessionStarted | None = None
        self.frames_received = 0
        self.frames_drawn = 0

        self.setWindowTitle("autoflats: Auto flats")
        self._build()
        self._render_timer = QTimer(self)
        self._render_timer.setSingleShot(True)
        self._render_timer.setInterval(RENDER_INTERVAL_MS)
        self._render_timer.timeout.connect(self._render_latest)
        self._clock_timer = QTimer(self)
        self._clock_timer.setInterval(500)
        self._clock_timer.timeout.connect(self._update_clock)
        self._load_settings()
        self.refresh_cameras()
        self._set_running(False)
        self._update_target_info()

    # ==============================================================================
    # building
    # ==============================================================================
    def _build(self) -> None:
        left = QWidget()
        left_layout = QVBoxLayout(left)
        left_layout.addWidget(self._build_camera_group())
        left_layout.addWidget(self._build_settings_group())
        left_layout.addWidget(self._build_run_group())
        left_layout.addStretch(1)
        self.nightCheck = QCheckBox("Night mode (red)")
        self.nightCheck.setObjectName("nightModeCheck")
        self.nightCheck.setToolTip("Red-only colours that keep your night vision.")
        self.nightCheck.toggled.connect(self.set_night_mode)
        left_layout.addWidget(self.nightCheck)
        scroll = QScrollArea()
        scroll.setWidget(left)
        scroll.setWidgetResizable(True)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        scroll.setMinimumWidth(390)

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
        self.histogramPlot = self.histogram.plot
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
        self._splitters = {"split/top": top, "split/plots": plots, "split/right": right_split}
        right = QWidget()
        right_layout = QVBoxLayout(right)
        right_layout.setContentsMargins(0, 0, 0, 0)
        right_layout.addLayout(banner_row)
        right_layout.addWidget(right_split, 1)

        central = QSplitter(Qt.Orientation.Horizontal)
        central.addWidget(scroll)
        central.addWidget(right)
        central.setStretchFactor(1, 1)
        self._splitters["split/main"] = central
        self.setCentralWidget(central)

        view_menu = self.menuBar().addMenu("&View")
        self.nightAction = QAction("&Night mode (red)", self, checkable=True)
        self.nightAction.setShortcut(QKeySequence("Ctrl+R"))
        self.nightAction.toggled.connect(self.nightCheck.setChecked)
        view_menu.addAction(self.nightAction)
        self.resize(1360, 860)

    def _build_camera_group(self) -> QGroupBox:
        box = QGroupBox("Camera")
        form = QFormLayout(box)
        self.cameraCombo = QComboBox()
        self.cameraCombo.setObjectName("cameraCombo")
        self.cameraCombo.setToolTip("Connected ZWO cameras and the built-in simulator.")
        self.cameraCombo.currentIndexChanged.connect(self._camera_changed)
        self.refreshButton = QPushButton("Refresh")
        self.refreshButton.setObjectName("refreshButton")
        self.refreshButton.setToolTip("Look for cameras again and re-read the chosen one.")
        self.refreshButton.clicked.connect(self.refresh_cameras)
        row = QHBoxLayout()
        row.addWidget(self.cameraCombo, 1)
        row.addWidget(self.refreshButton)
        form.addRow(row)
        self.cameraFacts = QLabel("—")
        self.cameraFacts.setObjectName("cameraFactsLabel")
        self.cameraFacts.setWordWrap(True)
        self.cameraFacts.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.cameraFacts.setToolTip(ADU_TIP)
        form.addRow(self.cameraFacts)
        return box

    def _build_settings_group(self) -> QGroupBox:
        box = QGroupBox("Flats")
        form = QFormLayout(box)
        self.flatCountSpin = QSpinBox()
        self.flatCountSpin.setObjectName("flatCountSpin")
        self.flatCountSpin.setRange(0, MAX_COUNT)
        self.flatCountSpin.setValue(30)
        self.flatCountSpin.setToolTip(
            "How many flats to take. Averaging N flats cuts the master flat's noise by\n"
            "√N: 30 flats leave 18 % of one flat's noise, 50 leave 14 %.")
        form.addRow("Flat count", self.flatCountSpin)

        self.gainSpin = _default_spin("gainSpin", "Gain (ZWO units, 0.1 dB). Use the gain of "
                                      "your lights; 'camera default' keeps the camera's.")
        form.addRow("Gain", self.gainSpin)
        self.offsetSpin = _default_spin("offsetSpin", "Offset (black level). Use the offset "
                                        "of your lights; it adds to the bias.")
        form.addRow("Offset", self.offsetSpin)
        self.binCombo = QComboBox()
        self.binCombo.setObjectName("binCombo")
        self.binCombo.setToolTip("Binning: must match your lights.")
        self.binCombo.addItem("1×1", 1)
        form.addRow("Binning", self.binCombo)
        self.filterEdit = QLineEdit()
        self.filterEdit.setObjectName("filterEdit")
        self.filterEdit.setPlaceholderText("e.g. L, Ha (for headers and file names)")
        form.addRow("Filter", self.filterEdit)

        self.outputDirEdit = QLineEdit()
        self.outputDirEdit.setObjectName("outputDirEdit")
        self.outputDirEdit.setToolTip("The folder the flats and session.json are written to.")
        self.browseButton = QPushButton("Browse…")
        self.browseButton.setObjectName("browseButton")
        self.browseButton.clicked.connect(self._browse)
        row = QHBoxLayout()
        row.addWidget(self.outputDirEdit, 1)
        row.addWidget(self.browseButton)
        form.addRow("Output folder", row)

        self.targetEdit = QLineEdit("50%")
        self.targetEdit.setObjectName("targetEdit")
        self.targetEdit.setToolTip(TARGET_TIP)
        self.targetEdit.textChanged.connect(self._update_target_info)
        self.spaceCombo = QComboBox()
        self.spaceCombo.setObjectName("spaceCombo")
        self.spaceCombo.addItem("16-bit", AduSpace.BIT16.value)
        self.spaceCombo.addItem("native", AduSpace.NATIVE.value)
        self.spaceCombo.setToolTip(
            "Which scale an ADU number (and the plots) is in.\n" + ADU_TIP)
        self.spaceCombo.currentIndexChanged.connect(self._update_target_info)
        row = QHBoxLayout()
        row.addWidget(self.targetEdit, 1)
        row.addWidget(self.spaceCombo)
        form.addRow("Target", row)
        self.targetInfo = QLabel()
        self.targetInfo.setObjectName("targetInfoLabel")
        self.targetInfo.setWordWrap(True)
        self.targetInfo.setToolTip(TARGET_TIP)
        form.addRow("", self.targetInfo)
        self.toleranceSpin = QDoubleSpinBox()
        self.toleranceSpin.setObjectName("toleranceSpin")
        self.toleranceSpin.setRange(0.1, 50.0)
        self.toleranceSpin.setDecimals(1)
        self.toleranceSpin.setValue(5.0)
        self.toleranceSpin.setSuffix(" %")
        self.toleranceSpin.setToolTip("How far a flat's mean may sit from the target, in % of "
                                      "the target.")
        self.toleranceSpin.valueChanged.connect(self._update_target_info)
        form.addRow("Tolerance", self.toleranceSpin)
        self.minExposureSpin = QDoubleSpinBox()
        self.minExposureSpin.setObjectName("minExposureSpin")
        self.minExposureSpin.setRange(0.0, 600.0)
        self.minExposureSpin.setDecimals(3)
        self.minExposureSpin.setSuffix(" s")
        self.minExposureSpin.setSpecialValueText("camera minimum")
        self.minExposureSpin.setToolTip(
            "Shortest flat exposure. LED panels and tablets flicker (PWM): keep flats at\n"
            "1-3 s or more to avoid bands, dimming the panel if needed.")
        form.addRow("Min exposure", self.minExposureSpin)
        self.maxExposureSpin = QDoubleSpinBox()
        self.maxExposureSpin.setObjectName("maxExposureSpin")
        self.maxExposureSpin.setRange(0.001, 3600.0)
        self.maxExposureSpin.setDecimals(3)
        self.maxExposureSpin.setValue(120.0)
        self.maxExposureSpin.setSuffix(" s")
        self.maxExposureSpin.setToolTip("Longest flat exposure the search may use.")
        form.addRow("Max exposure", self.maxExposureSpin)
        return box

    def _build_run_group(self) -> QGroupBox:
        box = QGroupBox("Run")
        layout = QVBoxLayout(box)
        self.autoFlatsButton = QPushButton("Auto flats")
        self.autoFlatsButton.setObjectName("autoFlatsButton")
        self.autoFlatsButton.setToolTip("Find the exposure, then capture the flats.")
        self.autoFlatsButton.setMinimumHeight(52)
        self.autoFlatsButton.setSizePolicy(QSizePolicy.Policy.Expanding,
                                           QSizePolicy.Policy.Fixed)
        self.autoFlatsButton.clicked.connect(self.start)
        self.cancelButton = QPushButton("Cancel")
        self.cancelButton.setObjectName("cancelButton")
        self.cancelButton.setToolTip("Stop now: aborts the exposure; flats already written "
                                     "are kept.")
        self.cancelButton.setMinimumHeight(52)
        self.cancelButton.clicked.connect(self.cancel)
        row = QHBoxLayout()
        row.addWidget(self.autoFlatsButton, 3)
        row.addWidget(self.cancelButton, 1)
        layout.addLayout(row)
        self.statusLabel = QLabel("Ready")
        self.statusLabel.setObjectName("statusLabel")
        self.statusLabel.setWordWrap(True)
        layout.addWidget(self.statusLabel)
        self.progressBar = QProgressBar()
        self.progressBar.setObjectName("progressBar")
        self.progressBar.setFormat("%v of %m flats")
        self.progressBar.setRange(0, 1)
        self.progressBar.setValue(0)
        layout.addWidget(self.progressBar)
        self.timeLabel = QLabel("")
        self.timeLabel.setObjectName("timeLabel")
        layout.addWidget(self.timeLabel)
        self.summaryLabel = QLabel()
        self.summaryLabel.setObjectName("summaryLabel")
        self.summaryLabel.setWordWrap(True)
        self.summaryLabel.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.summaryLabel.hide()
        layout.addWidget(self.summaryLabel)
        self.openFolderButton = QPushButton("Open folder")
        self.openFolderButton.setObjectName("openFolderButton")
        self.openFolderButton.clicked.connect(self.open_folder)
        self.openFolderButton.hide()
        layout.addWidget(self.openFolderButton)
        return box

    # ==============================================================================
    # settings (QSettings)
    # ==============================================================================
    def _load_settings(self) -> None:
        qs, opts = self.qsettings, self.options
        count = opts.count if opts.count is not None else _int(qs.value("count"), 30)
        self.flatCountSpin.setValue(count)
        gain = opts.gain if opts.gain is not None else _int(qs.value("gain"), -1)
        self.gainSpin.setValue(gain)
        offset = opts.offset if opts.offset is not None else _int(qs.value("offset"), -1)
        self.offsetSpin.setValue(offset)
        self._wanted_bin = _int(qs.value("binning"), 1)
        self.filterEdit.setText(str(qs.value("filter", "") or ""))
        out = opts.out if opts.out is not None else qs.value("out_dir") or default_out_dir()
        self.outputDirEdit.setText(str(out))
        self.targetEdit.setText(opts.target if opts.target is not None
                                else str(qs.value("target", "50%") or "50%"))
        space = str(qs.value("space", AduSpace.BIT16.value))
        self.spaceCombo.setCurrentIndex(max(0, self.spaceCombo.findData(space)))
        self.toleranceSpin.setValue(_float(qs.value("tolerance"), 5.0))
        self.minExposureSpin.setValue(_float(qs.value("min_exposure"), 0.0))
        self.maxExposureSpin.setValue(_float(qs.value("max_exposure"), 120.0))
        self._wanted_camera = opts.camera or qs.value("camera") or None
        night = str(qs.value("night", "false")).lower() == "true"
        self.nightCheck.setChecked(night)
        self.set_night_mode(night)
        # A corrupt or foreign settings file must never stop the window from opening.
        geometry = qs.value("geometry")
        if isinstance(geometry, QByteArray | bytes | bytearray):
            self.restoreGeometry(geometry)
        for key, splitter in self._splitters.items():
            state = qs.value(key)
            if isinstance(state, QByteArray | bytes | bytearray):
                splitter.restoreState(state)

    def save_settings(self) -> None:
        """Remember the form for the next run."""
        qs = self.qsettings
        qs.setValue("camera", self.current_camera_id() or "")
        qs.setValue("count", self.flatCountSpin.value())
        qs.setValue("gain", self.gainSpin.value())
        qs.setValue("offset", self.offsetSpin.value())
        qs.setValue("binning", self.binCombo.currentData() or 1)
        qs.setValue("filter", self.filterEdit.text())
        qs.setValue("out_dir", self.outputDirEdit.text())
        qs.setValue("target", self.targetEdit.text())
        qs.setValue("space", self.spaceCombo.currentData())
        qs.setValue("tolerance", self.toleranceSpin.value())
        qs.setValue("min_exposure", self.minExposureSpin.value())
        qs.setValue("max_exposure", self.maxExposureSpin.value())
        qs.setValue("night", "true" if self.nightCheck.isChecked() else "false")
        qs.setValue("geometry", self.saveGeometry())
        for key, splitter in self._splitters.items():
            qs.setValue(key, splitter.saveState())
        qs.sync()

    # ==============================================================================
    # cameras
    # ==============================================================================
    def refresh_cameras(self) -> None:
        """List cameras again (the simulator is always there) and re-read the chosen one."""
        if self._running:
            return
        wanted = self.current_camera_id() or self._wanted_camera
        try:
            listing = list_cameras(self.sim_config_path)
        except (CameraError, OSError, ValueError) as error:
            self.show_error(f"The simulator settings could not be read: {error}. "
                            "Fix the file or start without --sim-config.")
            self.sim_config_path = None
            listing = list_cameras(None)
        for note in listing.notes:
            self.log(f"note: {note}")
        self._entries = list(listing.cameras)
        self.cameraCombo.blockSignals(True)
        self.cameraCombo.clear()
        for entry in self._entries:
            label = entry.name if entry.driver == "sim" else f"{entry.name} ({entry.camera_id})"
            self.cameraCombo.addItem(label, entry.camera_id)
            self.cameraCombo.setItemData(self.cameraCombo.count() - 1, entry.summary,
                                         Qt.ItemDataRole.ToolTipRole)
        index = self.cameraCombo.findData(wanted) if wanted else -1
        if index < 0 and wanted:
            index = self.cameraCombo.findText(str(wanted))
        if index < 0:
            real = [i for i, e in enumerate(self._entries) if e.driver != "sim"]
            index = real[0] if real else 0
            if wanted and self.options.camera:
                self.show_error(f"Camera {wanted!r} was not found; choose one from the list "
                                "or check that it is connected, then press Refresh.")
        self.cameraCombo.setCurrentIndex(index)
        self.cameraCombo.blockSignals(False)
        self._camera_changed()

    def current_camera_id(self) -> str | None:
        """The id of the camera chosen in the picker."""
        data = self.cameraCombo.currentData()
        return str(data) if data is not None else None

    def _camera_changed(self, *_: object) -> None:
        camera_id = self.current_camera_id()
        self.facts = None
        if camera_id is None:
            return
        self.cameraFacts.setText("Reading the camera…")
        self._probe_serial += 1
        serial = self._probe_serial
        worker = create_worker(probe_camera, camera_id, self.sim_config_path,
                               _start_thread=False)
        worker.returned.connect(lambda facts, s=serial: self._on_facts(s, facts))
        worker.errored.connect(lambda error, s=serial, c=camera_id:
                               self._on_probe_error(s, c, error))
        self._probe_worker = worker
        worker.start()

    def _on_facts(self, serial: int, facts: CameraFacts) -> None:
        if serial != self._probe_serial:
            return
        self.facts = facts
        self.cameraFacts.setText(describe_camera(facts))
        bins = facts.info.supported_bins
        wanted = self.binCombo.currentData() if self.binCombo.count() > 1 else self._wanted_bin
        self.binCombo.clear()
        for b in bins:
            self.binCombo.addItem(f"{b}×{b}", b)
        self.binCombo.setCurrentIndex(max(0, self.binCombo.findData(wanted)))
        c = facts.controls
        self.gainSpin.setToolTip(f"Gain (0.1 dB), {int(c.gain.minimum)}..{int(c.gain.maximum)}"
                                 f"; camera default {int(c.gain.default)}. Match your lights.")
        self.offsetSpin.setToolTip(f"Offset, {int(c.offset.minimum)}..{int(c.offset.maximum)}"
                                   f"; camera default {int(c.offset.default)}. Match your "
                                   "lights.")
        self._update_target_info()
        if self._start_pending:
            self._start_pending = False
            self.start()

    def _on_probe_error(self, serial: int, camera_id: str, error: BaseException) -> None:
        if serial != self._probe_serial:
            return
        self._start_pending = False
        self.cameraFacts.setText("The camera could not be read.")
        self.show_error(f"Camera {camera_id!r} could not be opened: {error}. Check the cable "
                        "and power (and that no other program uses it), then press Refresh.")
        if not self._running:
            self.statusLabel.setText("Camera not available")

    # ==============================================================================
    # target display
    # ==============================================================================
    def scale(self) -> AduScale:
        """The chosen camera's ADU scale (16-bit until it is known)."""
        return AduScale(self.facts.info.bit_depth if self.facts else 16)

    def space(self) -> AduSpace:
        """The native / 16-bit switch."""
        return AduSpace(self.spaceCombo.currentData())

    def _update_target_info(self, *_: object) -> None:
        scale, space = self.scale(), self.space()
        self.histogram.set_scale(scale, space)
        self.searchPlot.set_scale(scale, space)
        try:
            target = Target.parse(self.targetEdit.text(), space)
            native = target.native(scale)
        except (TargetError, ValueError) as error:
            self.targetInfo.setText(f"⚠ {error}")
            if not self._running:
                self.histogram.set_target(None, 0)
                self.searchPlot.set_target(None)
            return
        if target.is_percent:
            text = scale.describe_percent(target.value)
        else:
            adu16 = scale.to_16bit(native)
            text = (f"{native:.0f} native ({scale.bit_depth}-bit) = {adu16:.0f} 16-bit = "
                    f"{100 * adu16 / FULL_SCALE_16BIT:.1f} % of full scale")
        tolerance = native * self.toleranceSpin.value() / 100
        text += f"; ± {tolerance:.0f} native"
        if not self.facts:
            text += " (bit depth not known yet)"
        self.targetInfo.setText(text)
        if not self._running:
            self.histogram.set_target(native, tolerance)
            self.searchPlot.set_target(native)

    # ==============================================================================
    # run
    # ==============================================================================
    def form_settings(self) -> FlatSettings:
        """The form as FlatSettings; raises SettingsError saying what to change."""
        try:
            target = Target.parse(self.targetEdit.text(), self.space())
        except TargetError as error:
            raise SettingsError(str(error)) from None
        out_text = self.outputDirEdit.text().strip()
        if not out_text:
            raise SettingsError("choose an output folder")
        gain, offset = self.gainSpin.value(), self.offsetSpin.value()
        min_s = self.minExposureSpin.value()
        return FlatSettings(
            out_dir=Path(out_text).expanduser(),
            count=self.flatCountSpin.value(),
            target=target,
            tolerance_percent=self.toleranceSpin.value(),
            gain=gain if gain >= 0 else None,
            offset=offset if offset >= 0 else None,
            binning=int(self.binCombo.currentData() or 1),
            filter_name=self.filterEdit.text().strip(),
            min_exposure_s=min_s if min_s > 0 else None,
            max_exposure_s=self.maxExposureSpin.value(),
        )

    def start(self) -> bool:
        """Check the form and start a run; False (with a visible message) if refused."""
        if self._running:
            return False
        self.hide_banner()
        try:
            settings = self.form_settings()
            camera_id = self.current_camera_id()
            if camera_id is None:
                raise SettingsError("no camera chosen; press Refresh and pick one")
            if self.facts is None or self.facts.camera_id != camera_id:
                self._start_pending = True
                self.statusLabel.setText("Reading the camera…")
                return False
            plan = plan_session(self.facts, settings)  # type: ignore[arg-type]
            check_output_folder(settings.out_dir, settings.count * plan.frame_bytes)
        except (SettingsError, ValueError) as error:
            self._refuse(str(error))
            return False
        self.save_settings()
        self._begin(camera_id, settings)
        return True

    def _refuse(self, message: str) -> None:
        self.statusLabel.setText(f"Not started: {message}")
        self.show_error(f"Not started: {message}.")

    def _begin(self, camera_id: str, settings: FlatSettings) -> None:
        self._cancel = threading.Event()
        self._saved.clear()
        self._captured = 0
        self._count = settings.count
        self._out_dir = settings.out_dir
        self._solved = None
        self._started_event = None
        self._pending_frame = None
        self._last_progress = None
        self.last_finished = None
        self.searchPlot.reset()
        self.summaryLabel.hide()
        self.openFolderButton.hide()
        self.progressBar.setRange(0, settings.count)
        self.progressBar.setValue(0)
        self.statusLabel.setText("Starting…")
        self.timeLabel.setText("")
        self.log(f"— start: {settings.count} flats with {camera_id} into {settings.out_dir}")
        self._started_at = time.monotonic()
        self._set_running(True)
        worker = create_worker(run_session, camera_id, settings, self._cancel,
                               self.sim_config_path, _start_thread=False)
        worker.yielded.connect(self._on_item)
        worker.errored.connect(self._on_worker_error)
        worker.finished.connect(self._on_worker_finished)
        self._worker = worker
        self._clock_timer.start()
        worker.start()

    def cancel(self) -> None:
        """Stop the run: aborts the exposure; the session ends as 'cancelled'."""
        self._start_pending = False
        if self._running and self._cancel is not None and not self._cancel.is_set():
            self._cancel.set()
            self.cancelButton.setEnabled(False)
            self.statusLabel.setText("Cancelling…")
            self.log("cancel requested")

    def is_running(self) -> bool:
        """Whether a session is running."""
        return self._running

    def _set_running(self, running: bool) -> None:
        self._running = running
        self.autoFlatsButton.setEnabled(not running)
        self.cancelButton.setEnabled(running)
        for widget in (self.cameraCombo, self.refreshButton, self.flatCountSpin, self.gainSpin,
                       self.offsetSpin, self.binCombo, self.filterEdit, self.outputDirEdit,
                       self.browseButton, self.targetEdit, self.spaceCombo,
                       self.toleranceSpin, self.minExposureSpin, self.maxExposureSpin):
            widget.setEnabled(not running)

    # -- events --------------------------------------------------------------------
    def _on_item(self, item: object) -> None:
        if isinstance(item, DisplayFrame):
            self._on_frame(item)
        elif isinstance(item, Progress):
            self._on_progress(item)
        elif isinstance(item, SessionStarted):
            self._started_event = item
            scale = AduScale(item.camera.bit_depth)
            self.histogram.set_scale(scale, self.space())
            self.histogram.set_target(item.target_native, item.tolerance_native)
            self.searchPlot.set_scale(scale, self.space())
            self.searchPlot.set_target(item.target_native)
            self.statusLabel.setText("Finding the exposure…")
            self.log(f"{item.camera.name} ({item.camera.model}), gain {item.gain}, offset "
                     f"{item.offset}, bin {item.binning}; target {item.target_native:.0f} "
                     f"native ({item.camera.bit_depth}-bit) = {item.target_16bit:.0f} 16-bit "
                     f"± {item.tolerance_native:.0f} native")
        elif isinstance(item, ExposureSolved):
            self._solved = item
            self.searchPlot.set_solved(item.exposure_s, item.mean_native)
            self.log(f"exposure found: {item.exposure_s:.6g} s (mean {item.mean_native:.1f} "
                     f"native / {item.mean_16bit:.0f} 16-bit) after {item.test_frames} test "
                     "frame(s) + the accepted one")
            self.statusLabel.setText(f"Exposure {item.exposure_s:.4g} s: capturing flats…")
        elif isinstance(item, FlatSaved):
            self._saved.append(item)
            self.progressBar.setValue(len(self._saved))
            self.log(f"flat {item.index}/{item.count}: {item.path.name} (mean "
                     f"{item.mean_native:.1f} native)")
            if self._captured >= self._count and not self._cancel_set():
                self.statusLabel.setText(f"Writing: {len(self._saved)} of {item.count} "
                                         "written")
        elif isinstance(item, FlatRejected):
            self.log(f"dropped a flat: {item.reason}")
        elif isinstance(item, Notice):
            self.log(f"note: {item.message}")
        elif isinstance(item, SessionError):
            self.show_error(f"{_sentence(item.message)}")
            self.log(f"error: {item.message}")
        elif isinstance(item, SessionFinished):
            self._on_finished(item)

    def _on_frame(self, item: DisplayFrame) -> None:
        self.frames_received += 1
        event = item.event
        if isinstance(event, TestFrame):
            self.searchPlot.add_test(event.exposure_s, event.stats.mean_native,
                                     event.bias_native, event.rate_native_per_s)
            nxt = f"; next {event.next_exposure_s:.6g} s" if event.next_exposure_s else ""
            self.log(f"test {event.index}: {event.exposure_s:.6g} s -> mean "
                     f"{event.stats.mean_native:.1f} native / {event.stats.mean_16bit:.0f} "
                     f"16-bit{nxt} ({event.reason})")
            self.statusLabel.setText(f"Finding the exposure: test frame {event.index}, "
                                     f"{event.exposure_s:.4g} s")
        else:
            self._captured = event.index
            self.statusLabel.setText(f"Capturing: flat {event.index} of {event.count}")
            if event.index >= event.count:
                self.statusLabel.setText(f"Writing: flat {event.index} of {event.count} "
                                         "captured")
        self._pending_frame = item  # older undrawn frames are dropped here
        if not self._render_timer.isActive():
            self._render_timer.start()

    def _render_latest(self) -> None:
        item, self._pending_frame = self._pending_frame, None
        if item is None:
            return
        event = item.event
        self.imageView.show_frame(item.image, (0, 255))
        self.histogram.show_histogram(event.histogram, event.stats.clip_level_native)
        self.frames_drawn += 1

    def _on_progress(self, item: Progress) -> None:
        self._last_progress = (item, time.monotonic())
        if item.phase is Phase.CAPTURING:
            self.statusLabel.setText(f"Capturing: flat {item.done + 1} of {item.total}")
        elif item.phase is Phase.WRITING:
            self.statusLabel.setText("Writing the flats…")
        self._update_clock()

    def _update_clock(self) -> None:
        if not self._running:
            return
        now = time.monotonic()
        elapsed = now - self._started_at
        remaining: float | None = None
        phase = "finding exposure"
        if self._last_progress is not None:
            progress, at = self._last_progress
            phase = progress.phase.value
            if progress.remaining_s is not None:
                remaining = max(0.0, progress.remaining_s - (now - at))
        if self._captured >= self._count > 0:
            phase = "writing"
        self.timeLabel.setText(f"Phase: {phase} · elapsed {nice_seconds(elapsed)} · "
                               f"remaining {nice_seconds(remaining)}")

    def _on_finished(self, item: SessionFinished) -> None:
        self.last_finished = item
        self._render_latest()
        n = len(item.files)
        if item.reason is FinishReason.COMPLETED:
            self.statusLabel.setText(f"Done: {n} flats written")
        elif item.reason is FinishReason.CANCELLED:
            self.statusLabel.setText(f"Cancelled: {n} flat(s) written are kept")
        else:
            self.statusLabel.setText(f"Failed: {item.message or 'see the log'}")
        lines = [f"<b>{item.reason.value.capitalize()}</b>: {n} flat(s) written"]
        if item.exposure_s is not None:
            lines.append(f"Exposure: {item.exposure_s:.6g} s")
        if self._saved:
            native = sum(s.mean_native for s in self._saved) / len(self._saved)
            adu16 = sum(s.mean_16bit for s in self._saved) / len(self._saved)
            lines.append(f"Mean: {native:.0f} ADU native = {adu16:.0f} ADU 16-bit")
        elif self._solved is not None:
            lines.append(f"Mean: {self._solved.mean_native:.0f} ADU native = "
                         f"{self._solved.mean_16bit:.0f} ADU 16-bit")
        if self._out_dir is not None:
            lines.append(f"Folder: {self._out_dir}")
        if item.session_file is not None:
            lines.append(f"Record: {item.session_file.name}")
        self.summaryLabel.setText("<br>".join(lines))
        self.summaryLabel.show()
        self.openFolderButton.setVisible(self._out_dir is not None and self._out_dir.exists())
        elapsed = time.monotonic() - self._started_at
        self.timeLabel.setText(f"Took {nice_seconds(elapsed)}")
        self.log(f"— {item.reason.value}: {n} flat(s)"
                 + (f"; {item.message}" if item.message else ""))

    def _on_worker_error(self, error: BaseException) -> None:
        message = f"internal error: {type(error).__name__}: {error}"
        self.show_error(f"{_sentence(message)} The camera was closed; please report this.")
        self.log(f"error: {message}")
        if self.last_finished is None:
            self.statusLabel.setText("Failed: internal error")

    def _on_worker_finished(self) -> None:
        self._worker = None
        self._clock_timer.stop()
        self._set_running(False)
        self._update_target_info()
        if self._close_requested:
            self.close()

    def _cancel_set(self) -> bool:
        return self._cancel is not None and self._cancel.is_set()

    # ==============================================================================
    # odds and ends
    # ==============================================================================
    def show_error(self, message: str) -> None:
        """The error banner (and the log)."""
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
        """Append a line to the log pane."""
        self.logView.appendPlainText(f"{time.strftime('%H:%M:%S')}  {line}")

    def set_night_mode(self, night: bool) -> None:
        """Switch between the dark and the red night-vision theme."""
        theme = theme_for(night)
        app = QApplication.instance()
        if isinstance(app, QApplication):
            apply_theme(app, theme)
        self.imageView.apply_theme(theme)
        self.histogram.apply_theme(theme)
        self.searchPlot.apply_theme(theme)
        if self.nightAction.isChecked() != night:
            self.nightAction.setChecked(night)

    def open_folder(self) -> None:
        """Open the output folder in the file manager."""
        folder = self._out_dir or Path(self.outputDirEdit.text()).expanduser()
        QDesktopServices.openUrl(QUrl.fromLocalFile(str(folder)))

    def _browse(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Output folder",
                                                  self.outputDirEdit.text())
        if folder:
            self.outputDirEdit.setText(folder)

    def closeEvent(self, event: QCloseEvent) -> None:
        """Cancel a running session first; close once the camera is released."""
        if self._running:
            self._close_requested = True
            self.cancel()
            self.statusLabel.setText("Cancelling, then closing…")
            event.ignore()
            return
        self.save_settings()
        super().closeEvent(event)


def describe_camera(facts: CameraFacts) -> str:
    """The camera's facts, one per line."""
    info = facts.info
    scale = AduScale(info.bit_depth)
    colour = f"colour, Bayer {info.bayer_pattern}" if info.bayer_pattern else "mono"
    lines = [
        f"{info.model}",
        f"{info.width} × {info.height} ({info.megapixels:.1f} MP), "
        f"{info.pixel_size_um:g} µm pixels, {colour}",
        f"{info.bit_depth}-bit native (0..{scale.full_scale_native}); delivered as 16-bit "
        f"(×{scale.factor})",
    ]
    at_gain = info.e_per_adu_at(facts.gain)
    if info.e_per_adu and at_gain is not None:
        lines.append(f"{info.e_per_adu:.2f} e⁻/ADU native at gain 0, {at_gain:.2f} at gain "
                     f"{facts.gain}")
    temp = f"{facts.temperature_c:.1f} °C" if facts.temperature_c is not None else "n/a"
    if info.has_cooler:
        cooler = (f"cooler on, set {facts.set_point_c:g} °C" if facts.cooler_on
                  and facts.set_point_c is not None else "cooler on" if facts.cooler_on
                  else "cooler off")
    else:
        cooler = "no cooler"
    lines.append(f"Sensor {temp}, {cooler}")
    return "\n".join(lines)


def _titled(title: str, widget: QWidget) -> QGroupBox:
    box = QGroupBox(title)
    layout = QVBoxLayout(box)
    layout.setContentsMargins(4, 4, 4, 4)
    layout.addWidget(widget)
    return box


def _default_spin(name: str, tip: str) -> QSpinBox:
    spin = QSpinBox()
    spin.setObjectName(name)
    spin.setRange(-1, 10_000)
    spin.setSpecialValueText("camera default")
    spin.setValue(-1)
    spin.setToolTip(tip)
    return spin


def _sentence(text: str) -> str:
    text = text.strip()
    if not text:
        return text
    text = text[0].upper() + text[1:]
    return text if text.endswith((".", "!", "?")) else text + "."


def _int(value: object, default: int) -> int:
    try:
        return int(str(value)) if value not in (None, "") else default
    except ValueError:
        return default


def _float(value: object, default: float) -> float:
    try:
        number = float(str(value)) if value not in (None, "") else default
    except ValueError:
        return default
    return number if math.isfinite(number) else default


def options_from_args(args: argparse.Namespace) -> GuiOptions:
    """The ``autoflats gui`` arguments as GuiOptions."""
    return GuiOptions.from_object(args)

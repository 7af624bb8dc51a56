"""The "Auto flats" window: pick a camera, set the count, click Auto flats, watch.

The window renders the session's events and nothing more: the session runs in
:func:`app.gui.worker.run_session` on a worker thread (superqt ``create_worker``),
which opens, uses and closes the camera. Cancel sets the ``threading.Event`` the
session watches; it aborts the running exposure. When a panel, a wheel, filters, a
brightness, dark flats or the twilight sky (sky flats) are chosen, the whole job
(:class:`app.job.FlatJob`) runs instead, in :func:`app.gui.job_worker.run_job_worker`
on the rig it opens; its own items (filter rows, panel state, sky frames) and the
hand-cover question go through :class:`~app.gui.job_control.JobControl`.

The window composes its parts: :class:`~app.gui.camera_panel.CameraPanel` (the
picker), :class:`~app.gui.form.SettingsForm` (the settings, kept in QSettings),
:class:`~app.gui.run_panel.RunPanel` (buttons and read-outs) and the plots; the
presets come as :class:`~app.gui.options.GuiOptions`.
"""

from __future__ import annotations

import functools
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from PyQt6 import sip
from PyQt6.QtCore import QByteArray, QSettings, Qt, QThreadPool, QTimer, QUrl
from PyQt6.QtGui import QAction, QCloseEvent, QDesktopServices, QKeySequence
from PyQt6.QtWidgets import (
    QApplication,
    QCheckBox,
    QMainWindow,
    QScrollArea,
    QSplitter,
    QVBoxLayout,
    QWidget,
)
from superqt.utils import create_worker

from app.adu import AduScale, AduSpace, round_adu
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
from app.gui.camera_panel import ADU_TIP, CameraPanel, describe_camera
from app.gui.form import TARGET_TIP, SettingsForm
from app.gui.job_control import JobControl
from app.gui.job_worker import FilterRows, run_job_worker
from app.gui.live import LiveView
from app.gui.monitor import MonitorPane, NightBrightnessMenu
from app.gui.options import (
    APPLICATION,
    ORGANIZATION,
    SETTINGS_ENV,
    GuiOptions,
    default_out_dir,
    default_qsettings,
    options_from_args,
)
from app.gui.plots import nice_seconds
from app.gui.run_panel import RunPanel, cancelled_text, summary_html
from app.gui.theme import apply_theme, theme_for
from app.gui.worker import CameraFacts, DisplayFrame, probe_camera, run_session
from app.job import JobSettings
from app.plan import check_output_folder, plan_session
from app.settings import FlatSettings, SettingsError
from drivers.errors import CameraError
from drivers.registry import CameraListing, list_cameras

__all__ = [
    "ADU_TIP",
    "APPLICATION",
    "ORGANIZATION",
    "RENDER_INTERVAL_MS",
    "SETTINGS_ENV",
    "TARGET_TIP",
    "GuiOptions",
    "MainWindow",
    "default_out_dir",
    "default_qsettings",
    "describe_camera",
    "options_from_args",
]

#: how often the newest frame is drawn at most (ms): frames in between are dropped
RENDER_INTERVAL_MS = 40


def _while_alive(slot: Callable[..., None]) -> Callable[..., None]:
    """Drop a worker's late signal once the window is gone (closed and deleted).

    Workers outlive a closed window for a moment; their results must not reach
    widgets whose C++ side Qt has already deleted.
    """

    @functools.wraps(slot)
    def guarded(self: QMainWindow, *args: Any) -> None:
        if sip.isdeleted(self):
            return
        slot(self, *args)

    return guarded


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
        base = GuiOptions.merged(options, settings, **kwargs)
        self.options = base
        self.qsettings = qsettings if qsettings is not None else default_qsettings()
        self.sim_config_path = base.sim_config
        self.facts: CameraFacts | None = None
        self.last_finished: SessionFinished | None = None
        self._probe_worker: Any = None
        self._probe_serial = 0
        self._listing_serial = 0
        self._listing_worker: Any = None
        # Workers run on Qt's global pool, two threads on a 2-core machine: a camera
        # listing stuck in the SDK must never keep a session from starting.
        pool = QThreadPool.globalInstance()
        if pool is not None:
            pool.setMaxThreadCount(max(pool.maxThreadCount(), 8))
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
        self._job: JobSettings | None = None
        self._running_filter: str | None = None
        #: a sky wait is going on (its countdown shows in the status line)
        self._sky_waiting = False
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
        job_group = self._build_job_group()
        left_layout.addWidget(self.lightSource)
        left_layout.addWidget(job_group)
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

        self.monitor = right = MonitorPane()
        self.banner = right.banner
        self.bannerClose = right.bannerClose
        self.imageView = right.imageView
        self.histogram = right.histogram
        self.histogramPlot = self.histogram.plot
        self.searchPlot = right.searchPlot
        self.logView = right.logView
        self._splitters = dict(right.splitters)

        central = QSplitter(Qt.Orientation.Horizontal)
        central.addWidget(scroll)
        central.addWidget(right)
        central.setStretchFactor(1, 1)
        self._splitters["split/main"] = central
        self.setCentralWidget(central)

        menu_bar = self.menuBar()
        assert menu_bar is not None
        view_menu = menu_bar.addMenu("&View")
        assert view_menu is not None
        self.nightAction = QAction("&Night mode (red)", self)
        self.nightAction.setCheckable(True)
        self.nightAction.setShortcut(QKeySequence("Ctrl+R"))
        self.nightAction.toggled.connect(self.nightCheck.setChecked)
        view_menu.addAction(self.nightAction)
        self.nightBrightnessMenu = NightBrightnessMenu(self.monitor, self.qsettings, view_menu)
        view_menu.addMenu(self.nightBrightnessMenu)
        self.liveButton = self.runPanel.liveButton
        self.live = LiveView(self.runPanel, self.monitor, self.settingsForm,
                             self.current_camera_id, lambda: self.facts,
                             lambda: self.sim_config_path, self.show_error, self)
        self.resize(1360, 860)

    def _build_camera_group(self) -> CameraPanel:
        self.cameraPanel = panel = CameraPanel()
        self.cameraCombo = panel.cameraCombo
        self.refreshButton = panel.refreshButton
        self.cameraFacts = panel.cameraFacts
        self.cameraCombo.currentIndexChanged.connect(self._camera_changed)
        self.refreshButton.clicked.connect(self.refresh_cameras)
        return panel

    def _build_settings_group(self) -> SettingsForm:
        self.settingsForm = form = SettingsForm()
        self.flatCountSpin = form.flatCountSpin
        self.gainSpin = form.gainSpin
        self.offsetSpin = form.offsetSpin
        self.binCombo = form.binCombo
        self.filterEdit = form.filterEdit
        self.outputDirEdit = form.outputDirEdit
        self.browseButton = form.browseButton
        self.targetEdit = form.targetEdit
        self.spaceCombo = form.spaceCombo
        self.targetInfo = form.targetInfo
        self.toleranceSpin = form.toleranceSpin
        self.minExposureSpin = form.minExposureSpin
        self.maxExposureSpin = form.maxExposureSpin
        self.historyCheck = form.historyCheck
        self.targetEdit.textChanged.connect(self._update_target_info)
        self.spaceCombo.currentIndexChanged.connect(self._update_target_info)
        self.toleranceSpin.valueChanged.connect(self._update_target_info)
        return form

    def _build_job_group(self) -> QWidget:
        self.jobControl = control = JobControl(self)
        self.jobPanel = control.panel
        self.panelCombo = control.panel.panelCombo
        self.wheelCombo = control.panel.wheelCombo
        self.filterTable = control.panel.filterTable
        self.panelStateLabel = control.panel.panelStateLabel
        self.lightSource = control.light
        control.log.connect(self.log)
        control.cancelRequested.connect(self.cancel)
        control.question.asked.connect(
            lambda message: self.statusLabel.setText(f"Waiting for you: {message}"))
        return control.panel

    def _build_run_group(self) -> RunPanel:
        self.runPanel = panel = RunPanel()
        self.autoFlatsButton = panel.autoFlatsButton
        self.cancelButton = panel.cancelButton
        self.statusLabel = panel.statusLabel
        self.progressBar = panel.progressBar
        self.timeLabel = panel.timeLabel
        self.summaryLabel = panel.summaryLabel
        self.openFolderButton = panel.openFolderButton
        self.autoFlatsButton.clicked.connect(self.start)
        self.cancelButton.clicked.connect(self.cancel)
        self.openFolderButton.clicked.connect(self.open_folder)
        return panel

    # ==============================================================================
    # settings (QSettings)
    # ==============================================================================
    def _load_settings(self) -> None:
        qs, opts = self.qsettings, self.options
        self.settingsForm.load(qs, opts)
        self.jobControl.load(qs)
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
        self.settingsForm.save(qs)
        self.jobControl.save(qs)
        qs.setValue("night", "true" if self.nightCheck.isChecked() else "false")
        qs.setValue("geometry", self.saveGeometry())
        for key, splitter in self._splitters.items():
            qs.setValue(key, splitter.saveState())
        qs.sync()

    # ==============================================================================
    # cameras
    # ==============================================================================
    def refresh_cameras(self) -> None:
        """List cameras again (the simulator is always there) and re-read the chosen one.

        The simulators are listed at once; real cameras are asked for on a worker
        thread (the SDK can be slow, or hang on a sick USB bus) and added when found.
        """
        if self._running:
            return
        wanted = self.current_camera_id() or self._wanted_camera
        try:
            listing = list_cameras(self.sim_config_path, hardware=False)
        except (CameraError, OSError, ValueError) as error:
            self.show_error(f"The simulator settings could not be read: {error}. "
                            "Fix the file or start without --sim-config.")
            self.sim_config_path = None
            listing = list_cameras(None, hardware=False)
        self.cameraPanel.set_cameras(listing.cameras, wanted)
        self._camera_changed()
        self.jobControl.refresh(self.sim_config_path)
        self._listing_serial += 1
        serial = self._listing_serial
        worker = create_worker(list_cameras, self.sim_config_path, _start_thread=False,
                               _ignore_errors=True)
        def listed(full: CameraListing) -> None:
            self._on_listing(serial, full, wanted)

        worker.returned.connect(listed)
        worker.errored.connect(lambda error: self.log(f"note: camera listing failed: {error}"))
        self._listing_worker = worker
        worker.start()

    @_while_alive
    def _on_listing(self, serial: int, listing: CameraListing, wanted: str | None) -> None:
        """The full camera list (simulators and real cameras) has arrived."""
        if serial != self._listing_serial or self._running:
            return
        for note in listing.notes:
            self.log(f"note: {note}")
        before = self.current_camera_id()
        if [e.camera_id for e in listing.cameras] != [e.camera_id for e in
                                                      self.cameraPanel.entries]:
            found = self.cameraPanel.set_cameras(listing.cameras, wanted)
            if self.current_camera_id() != before:
                self._camera_changed()
        else:
            found = self.cameraPanel.cameraCombo.findData(wanted) >= 0 if wanted else True
        if not found and wanted and self.options.camera:
            self.show_error(f"Camera {wanted!r} was not found; choose one from the list "
                            "or check that it is connected, then press Refresh.")

    def current_camera_id(self) -> str | None:
        """The id of the camera chosen in the picker."""
        return self.cameraPanel.current_camera_id()

    def _camera_changed(self, *_: object) -> None:
        camera_id = self.current_camera_id()
        self.facts = None
        if camera_id is None:
            return
        self.cameraPanel.show_text("Reading the camera…")
        self._probe_serial += 1
        serial = self._probe_serial
        worker = create_worker(probe_camera, camera_id, self.sim_config_path,
                               _start_thread=False, _ignore_errors=True)
        def probed(facts: CameraFacts) -> None:
            self._on_facts(serial, facts)

        def failed(error: BaseException) -> None:
            self._on_probe_error(serial, camera_id, error)

        worker.returned.connect(probed)
        worker.errored.connect(failed)
        self._probe_worker = worker
        worker.start()

    @_while_alive
    def _on_facts(self, serial: int, facts: CameraFacts) -> None:
        if serial != self._probe_serial:
            return
        self.facts = facts
        self.cameraPanel.show_facts(facts)
        self.settingsForm.apply_facts(facts)
        self._update_target_info()
        if self._start_pending:
            self._start_pending = False
            self.start()

    @_while_alive
    def _on_probe_error(self, serial: int, camera_id: str, error: BaseException) -> None:
        if serial != self._probe_serial:
            return
        self._start_pending = False
        self.cameraPanel.show_text("The camera could not be read.")
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
        return self.settingsForm.space()

    def _update_target_info(self, *_: object) -> None:
        scale, space = self.scale(), self.space()
        self.histogram.set_scale(scale, space)
        self.searchPlot.set_scale(scale, space)
        shown = self.settingsForm.show_target(scale, bit_depth_known=bool(self.facts))
        if not self._running:
            native, tolerance = shown if shown is not None else (None, 0)
            self.histogram.set_target(native, tolerance)
            self.searchPlot.set_target(native)

    # ==============================================================================
    # run
    # ==============================================================================
    def form_settings(self) -> FlatSettings:
        """The form as FlatSettings; raises SettingsError saying what to change."""
        return self.settingsForm.flat_settings()

    def start(self) -> bool:
        """Check the form and start a run; False (with a visible message) if refused."""
        if self._running:
            return False
        if self.live.active():  # the camera is released first, then the run starts
            self.live.stop(then=self.start)
            self.statusLabel.setText("Stopping the live view…")
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
            job = self.jobControl.job_settings(settings)
            plan = plan_session(self.facts, settings)
            files = settings.count if job is None else (
                (settings.count + job.dark_count) * max(len(job.filters), 1))
            check_output_folder(settings.out_dir, files * plan.frame_bytes)
        except (SettingsError, ValueError) as error:
            self._refuse(str(error))
            return False
        self.save_settings()
        self._begin(camera_id, settings, job)
        return True

    def _refuse(self, message: str) -> None:
        self.statusLabel.setText(f"Not started: {message}")
        self.show_error(f"Not started: {message}.")

    def _begin(self, camera_id: str, settings: FlatSettings, job: JobSettings | None = None
               ) -> None:
        self._cancel = threading.Event()
        self._job = job
        self._saved.clear()
        self._captured = 0
        self._count = settings.count
        self._out_dir = settings.out_dir
        self._solved = None
        self._started_event = None
        self._pending_frame = None
        self._last_progress = None
        self._running_filter = None
        self._sky_waiting = False
        self.last_finished = None
        self.searchPlot.reset()
        filters = len(job.filters) if job is not None else 0
        self.runPanel.reset(settings.count * max(filters, 1))
        self.log(f"— start: {settings.count} flats with {camera_id} into {settings.out_dir}"
                 + (describe_job(job) if job is not None else ""))
        self._started_at = time.monotonic()
        self._set_running(True)
        worker: Any
        if job is None:
            worker = create_worker(run_session, camera_id, settings, self._cancel,
                                   self.sim_config_path, self.historyCheck.isChecked(),
                                   _start_thread=False, _ignore_errors=True)
        else:
            self.jobControl.start_run(job)
            request = self.jobControl.request(camera_id, job, self.sim_config_path,
                                              self.historyCheck.isChecked())
            worker = create_worker(run_job_worker, request, self._cancel,
                                   self.jobControl.question.ask, _start_thread=False,
                                   _ignore_errors=True)
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
        self.runPanel.set_running(running)
        self.cameraPanel.set_editable(not running)
        self.settingsForm.set_editable(not running)
        self.jobControl.set_editable(not running)

    # -- events --------------------------------------------------------------------
    @_while_alive
    def _on_item(self, item: object) -> None:
        if self.jobControl.render(item):
            self._on_job_item(item)
        elif isinstance(item, DisplayFrame):
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
            gain = (f"ISO {item.gain}" if item.camera.gain_kind == "iso"
                    else f"gain {item.gain}")
            offset = f", offset {item.offset}" if item.camera.has_offset else ""
            self.log(f"{item.camera.name} ({item.camera.model}), {gain}{offset}, bin "
                     f"{item.binning}; target {round_adu(item.target_native)} "
                     f"native ({item.camera.bit_depth}-bit) = {round_adu(item.target_16bit)} "
                     f"16-bit ± {round_adu(item.tolerance_native)} native")
        elif isinstance(item, ExposureSolved):
            self._solved = item
            self.searchPlot.set_solved(item.exposure_s, item.mean_native)
            self.log(f"exposure found: {item.exposure_s:.6g} s (mean {item.mean_native:.1f} "
                     f"native / {round_adu(item.mean_16bit)} 16-bit) after {item.test_frames} test "
                     "frame(s) + the accepted one")
            self.statusLabel.setText(f"Exposure {item.exposure_s:.4g} s: capturing flats…")
        elif isinstance(item, FlatSaved):
            self._saved.append(item)
            if len(self._saved) > self.progressBar.maximum():
                self.progressBar.setMaximum(len(self._saved))
            self.progressBar.setValue(len(self._saved))
            number = (f"dark flat {item.index}" if item.image_type == "DARK"
                      else f"flat {item.index}/{item.count}")
            self.log(f"{number}: {item.path.name} (mean {item.mean_native:.1f} native)")
            if self._captured >= self._count and not self._cancel_set():
                self.statusLabel.setText(f"Writing: {len(self._saved)} of {item.count} "
                                         "written")
        elif isinstance(item, FlatRejected):
            self._sky_waiting = False
            self.log(f"dropped: {item.reason}")
        elif isinstance(item, Notice):
            self.log(f"note: {item.message}")
            if self._job is not None and self._job.sky is not None and "waiting" in item.message:
                self._sky_waiting = True
                self.statusLabel.setText("Waiting for the sky…")
        elif isinstance(item, SessionError):
            self.show_error(f"{_sentence(item.message)}")
            self.log(f"error: {item.message}")
        elif isinstance(item, SessionFinished):
            self._on_finished(item)

    def _on_job_item(self, item: object) -> None:
        """A new filter started: its own search plot and counts."""
        if not isinstance(item, FilterRows):
            return
        running = next((r.name for r in item.rows if r.status == "running"), None)
        if running is not None and running != self._running_filter:
            self._running_filter = running
            self._captured = 0
            self.searchPlot.reset()
            if self._started_event is not None:
                self.searchPlot.set_target(self._started_event.target_native)
            self.statusLabel.setText(f"Filter {running}: " + (
                "sky flats…" if self._job is not None and self._job.sky is not None
                else "finding the exposure…"))

    def _on_frame(self, item: DisplayFrame) -> None:
        self.frames_received += 1
        self._sky_waiting = False
        event = item.event
        if isinstance(event, TestFrame):
            self.searchPlot.add_test(event.exposure_s, event.stats.mean_native,
                                     event.bias_native, event.rate_native_per_s)
            nxt = f"; next {event.next_exposure_s:.6g} s" if event.next_exposure_s else ""
            self.log(f"test {event.index}: {event.exposure_s:.6g} s -> mean "
                     f"{event.stats.mean_native:.1f} native / {round_adu(event.stats.mean_16bit)} "
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
        if self._sky_waiting and item.remaining_s is not None:
            self.statusLabel.setText(f"Waiting for the sky: {nice_seconds(item.remaining_s)} "
                                     f"left ({item.done} of {item.total} flats)")
        elif item.phase is Phase.CAPTURING:
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
            self.statusLabel.setText(f"Done: {item.files_text()} written")
        elif item.reason is FinishReason.CANCELLED:
            self.statusLabel.setText(f"Cancelled: {cancelled_text(item, self._out_dir)}")
        else:
            self.statusLabel.setText(f"Failed: {item.message or 'see the log'}")
        self.summaryLabel.setText(summary_html(item, self._saved, self._solved, self._out_dir))
        self.summaryLabel.show()
        self.openFolderButton.setVisible(self._out_dir is not None and self._out_dir.exists())
        elapsed = time.monotonic() - self._started_at
        self.timeLabel.setText(f"Took {nice_seconds(elapsed)}")
        self.log(f"— {item.reason.value}: {n} flat(s)"
                 + (f"; {item.message}" if item.message else "")
                 + (f"; {cancelled_text(item, self._out_dir)}"
                    if item.reason is FinishReason.CANCELLED else ""))

    @_while_alive
    def _on_worker_error(self, error: BaseException) -> None:
        message = f"internal error: {type(error).__name__}: {error}"
        self.show_error(f"{_sentence(message)} The camera was closed; please report this.")
        self.log(f"error: {message}")
        if self.last_finished is None:
            self.statusLabel.setText("Failed: internal error")

    @_while_alive
    def _on_worker_finished(self) -> None:
        self._worker = None
        self.jobControl.end_run()
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
        self.monitor.show_error(message)

    def hide_banner(self) -> None:
        """Hide the error banner."""
        self.monitor.hide_banner()

    def banner_text(self) -> str:
        """The banner's message, '' when hidden."""
        return self.monitor.banner_text()

    def log(self, line: str) -> None:
        """Append a line to the log pane."""
        self.monitor.log(line)

    def set_night_mode(self, night: bool) -> None:
        """Switch between the dark and the red night-vision theme."""
        theme = theme_for(night)
        app = QApplication.instance()
        if isinstance(app, QApplication):
            apply_theme(app, theme)
        self.monitor.apply_theme(theme)
        if self.nightAction.isChecked() != night:
            self.nightAction.setChecked(night)

    def open_folder(self) -> None:
        """Open the output folder in the file manager."""
        folder = self._out_dir or Path(self.outputDirEdit.text()).expanduser()
        QDesktopServices.openUrl(QUrl.fromLocalFile(str(folder)))

    def closeEvent(self, event: QCloseEvent | None) -> None:
        """Cancel a running session first; close once the camera is released."""
        if self._running:
            self._close_requested = True
            self.cancel()
            self.statusLabel.setText("Cancelling, then closing…")
            if event is not None:
                event.ignore()
            return
        if self.live.active():
            self.live.stop(then=self.close)
            if event is not None:
                event.ignore()
            return
        self.save_settings()
        self.jobControl.close_screen()
        super().closeEvent(event)


def describe_job(job: JobSettings) -> str:
    """The job's extras for the log's start line."""
    parts = []
    if job.sky is not None:
        site = job.site
        parts.append(f", {job.sky} sky flats" + (
            "" if site is None else f" at {site.latitude_deg:g}, {site.longitude_deg:g}"))
    if job.filters:
        parts.append(f" per filter ({', '.join(job.filters)})")
    if job.brightness is not None:
        parts.append(f", brightness {job.brightness}")
    if job.dark_count:
        parts.append(f", {job.dark_count} dark flats per exposure")
    return "".join(parts)


def _sentence(text: str) -> str:
    text = text.strip()
    if not text:
        return text
    text = text[0].upper() + text[1:]
    return text if text.endswith((".", "!", "?")) else text + "."

"""The window's side of the whole job: lists panels and wheels, reads the wheel's
filters (both on worker threads), makes the screen panel and its window, asks the
"cover the scope" question, and renders the job's own items (filter rows, panel state,
each sky frame's predicted and measured level).

:class:`JobControl` owns :class:`~app.gui.job_panel.JobPanel` and
:class:`~app.gui.sky_panel.LightSourcePanel` (panel or twilight sky), builds the job
from both (:meth:`JobControl.job_settings`, the same JobSettings as the command line's
``--sky``), and turns the panel, brightness and dark-flats controls off while the sky
is chosen. The main window runs the worker and hands it the items it does not render
itself.
"""

from __future__ import annotations

from typing import Any

from PyQt6 import sip
from PyQt6.QtCore import QObject, QSettings, Qt, pyqtSignal
from PyQt6.QtGui import QGuiApplication
from PyQt6.QtWidgets import QMessageBox, QWidget
from superqt.utils import create_worker

from app.gui.job_panel import JobPanel
from app.gui.job_worker import (
    FilterRows,
    JobRequest,
    RigListing,
    RigStatus,
    SkyFrames,
    list_rig,
    wheel_filter_names,
)
from app.gui.question import QuestionBridge
from app.gui.screen_window import ScreenWindow, screen_panel_with_window
from app.gui.sky_panel import SKY_REFUSES, LightSourcePanel
from app.gui.worker import SimPath
from app.job import JobSettings
from app.settings import FlatSettings, SettingsError
from drivers.screen_panel import SCREEN_SPEC, ScreenPanel


class JobControl(QObject):
    """See the module docstring; ``log`` and ``cancelRequested`` go to the window."""

    log = pyqtSignal(str)
    cancelRequested = pyqtSignal()

    def __init__(self, parent: QWidget) -> None:
        super().__init__(parent)
        self._parent = parent
        self.panel = JobPanel()
        self.light = LightSourcePanel()
        self.light.changed.connect(self.apply_light_source)
        self._editable = True
        self._tips: dict[QWidget, str] = {}
        self.question = QuestionBridge(self)
        self.question.asked.connect(self._ask)
        self.questionBox: QMessageBox | None = None
        self.questions_asked = 0
        self.screen_panel: ScreenPanel | None = None
        self.screenWindow: ScreenWindow | None = None
        self.sim_config_path: SimPath = None
        self._workers: list[Any] = []
        self._wheel_serial = 0
        self.panel.wheelCombo.currentIndexChanged.connect(self.read_wheel)
        for spin in self.panel.tintSpins:
            spin.valueChanged.connect(self._tint_changed)
        self.apply_light_source()

    # -- the light source ------------------------------------------------------------
    def _sky_refused(self) -> tuple[QWidget, ...]:
        """The controls sky flats refuse (as the command line refuses their options)."""
        p = self.panel
        return (p.panelCombo, p.panelPortEdit, p.brightnessCombo, p.brightnessSpin,
                p.darkFlatsSpin, p.screenCombo)

    def apply_light_source(self) -> None:
        """Turn the panel, brightness and dark-flats controls off with the sky chosen."""
        self._apply(show_state=True)

    def _apply(self, *, show_state: bool) -> None:
        sky = self.light.is_sky()
        for widget in self._sky_refused():
            if widget not in self._tips:
                self._tips[widget] = widget.toolTip()
            widget.setToolTip(SKY_REFUSES if sky else self._tips[widget])
        self.panel.set_editable(self._editable)
        if sky:
            for widget in self._sky_refused():
                widget.setEnabled(False)
        if show_state:  # not at a run's end: the label keeps what the run last said
            self.panel.panelStateLabel.setText("the twilight sky: no panel" if sky else "—")
        self.light.set_editable(self._editable)

    def set_editable(self, editable: bool) -> None:
        """Lock (a run goes on) or unlock the light source and the job's controls."""
        self._editable = editable
        self._apply(show_state=False)

    def job_settings(self, flats: FlatSettings) -> JobSettings | None:
        """The job (None: one camera's flats); raises SettingsError saying what to change.

        Sky flats: dusk or dawn, the site, the ticked filters (with a wheel), as
        ``autoflats flats --sky`` builds them; the panel, brightness and dark flats
        (their controls are off) are left out.
        """
        if not self.light.is_sky():
            return self.panel.job_settings(flats) if self.panel.wants_job() else None
        filters = tuple(self.panel.filterTable.chosen())
        if filters and not self.panel.wheel_spec():
            raise SettingsError("filters are ticked but no filter wheel is chosen; choose "
                                "the wheel (or sim)")
        return JobSettings(flats=flats, filters=filters, sky=self.light.sky(),
                           site=self.light.site())

    def load(self, qs: QSettings) -> None:
        """The job's and the light source's choices of last time."""
        self.panel.load(qs)
        self.light.load(qs)
        self.apply_light_source()

    def save(self, qs: QSettings) -> None:
        """Store them (the caller syncs)."""
        self.panel.save(qs)
        self.light.save(qs)

    # -- lists (worker threads) -----------------------------------------------------
    def refresh(self, sim_config_path: SimPath) -> None:
        """List panels and wheels again, and re-read the chosen wheel's filters."""
        self.sim_config_path = sim_config_path
        self.panel.refresh_screens()
        self._start(create_worker(list_rig, sim_config_path, _start_thread=False,
                                  _ignore_errors=True), self._on_listing,
                    "panel and wheel listing failed")
        self.read_wheel()

    def read_wheel(self, *_: object) -> None:
        """Fill the filter table from the chosen wheel (opened on a worker thread)."""
        self._wheel_serial += 1
        serial, spec = self._wheel_serial, self.panel.wheel_spec()
        table = self.panel.filterTable
        if spec is None:
            table.set_filters((), ())
            return
        wanted = table.chosen() or self.panel.wanted_filters
        table.set_filters((), ())  # no stale names if this wheel cannot be read

        def names_read(names: tuple[str, ...]) -> None:
            if serial == self._wheel_serial and not sip.isdeleted(table):
                table.set_filters(names, wanted)

        self._start(create_worker(wheel_filter_names, spec, self.sim_config_path,
                                  _start_thread=False, _ignore_errors=True), names_read,
                    f"filter wheel {spec!r} could not be read")

    def _start(self, worker: Any, on_result: Any, failure: str) -> None:
        worker.returned.connect(on_result)
        worker.errored.connect(lambda error: self._note(f"note: {failure}: {error}"))
        worker.finished.connect(lambda: self._workers.remove(worker)
                                if worker in self._workers else None)
        self._workers.append(worker)
        worker.start()

    def _on_listing(self, listing: RigListing) -> None:
        if sip.isdeleted(self.panel):
            return
        self.panel.set_listing(listing)
        # Missing panel or wheel libraries are normal on a camera-only setup: say so on
        # the devices group (hover), not in the log that greets a first start.
        self.panel.setToolTip("\n".join(listing.notes))

    def _note(self, line: str) -> None:
        if not sip.isdeleted(self):
            self.log.emit(line)

    # -- a run ---------------------------------------------------------------------------
    def request(self, camera_id: str, job: JobSettings, sim_config_path: SimPath,
                use_history: bool) -> JobRequest:
        """The worker's request; makes the screen panel (and its window) when chosen."""
        spec = None if job.sky is not None else self.panel.panel_spec()
        screen = self._make_screen() if spec == SCREEN_SPEC else None
        return JobRequest(camera_id, job, spec, self.panel.wheel_spec(), sim_config_path,
                          use_history, screen)

    def start_run(self, job: JobSettings) -> None:
        """Clear the table for the run."""
        names = list(job.filters) or [job.flats.filter_name or "(no filter)"]
        self.panel.filterTable.start_job(names, job.flats.count)
        self.panel.darkFlatsLabel.setText("")
        self.panel.panelStateLabel.setText("opening…")
        if job.sky is not None:
            self.log.emit(f"sky flats at {job.sky}: each frame's exposure predicted from the "
                          "sky model; predicted and measured levels follow per frame")

    def render(self, item: object) -> bool:
        """Draw a job item; False when the item is not one of the job's own."""
        if isinstance(item, FilterRows):
            self.panel.filterTable.show_rows(item.rows)
            if item.dark_flats or self.panel.darkFlatsSpin.value():
                self.panel.darkFlatsLabel.setText(f"{item.dark_flats} dark flat(s) written")
            return True
        if isinstance(item, RigStatus):
            self.panel.panelStateLabel.setText(item.text)
            return True
        if isinstance(item, SkyFrames):
            for line in item.lines():
                self.log.emit(line)
            return True
        return False

    def end_run(self) -> None:
        """The worker is done: no question stays open."""
        if self.questionBox is not None:
            box, self.questionBox = self.questionBox, None
            box.done(0)

    # -- the screen panel ----------------------------------------------------------------
    def _make_screen(self) -> ScreenPanel:
        screens = QGuiApplication.screens()
        index = self.panel.screen_index()
        screen = screens[index] if 0 <= index < len(screens) else None
        if self.screenWindow is not None:
            self.screenWindow.close()
        panel, window, _ = screen_panel_with_window(screen)
        window.escapePressed.connect(self.cancelRequested)
        panel.set_tint(*self.panel.tint())
        self.screen_panel, self.screenWindow = panel, window
        return panel

    def _tint_changed(self, *_: object) -> None:
        if self.screen_panel is not None:
            try:
                self.screen_panel.set_tint(*self.panel.tint())
            except ValueError as error:
                self._note(f"note: {error}")

    def close_screen(self) -> None:
        """Close the screen panel's window (the window is closing)."""
        if self.screenWindow is not None:
            self.screenWindow.close()

    # -- the question ------------------------------------------------------------------------
    def _ask(self, message: str) -> None:
        """GUI thread: a modal box; OK goes on, Cancel ends the run."""
        self.questions_asked += 1
        self._note(f"question: {message}")
        box = QMessageBox(QMessageBox.Icon.Question, "autoflats: by hand",
                          message[0].upper() + message[1:] + ".\n\nPress OK when done; "
                          "Cancel stops the run (files written are kept).",
                          QMessageBox.StandardButton.Ok | QMessageBox.StandardButton.Cancel,
                          self._parent)
        box.setObjectName("handQuestionBox")
        box.setWindowModality(Qt.WindowModality.WindowModal)
        box.finished.connect(lambda result: self._answered(box, result))
        self.questionBox = box
        box.open()

    def _answered(self, box: QMessageBox, result: int) -> None:
        go_on = result == QMessageBox.StandardButton.Ok.value
        if self.questionBox is box:
            self.questionBox = None
        self.question.answer(go_on)

    def answer(self, go_on: bool) -> None:
        """Answer the open question as if clicked (tests, a remote)."""
        box = self.questionBox
        if box is not None:
            box.done(QMessageBox.StandardButton.Ok.value if go_on
                     else QMessageBox.StandardButton.Cancel.value)


__all__ = ["JobControl"]

"""The engine: the machinery of a run, once, for every procedure.

It owns the devices (a :class:`~app.rig.Rig`), the frame pool, the background FITS
writer, the session record and the cancel flag; it executes the actions procedures
yield (:mod:`app.actions`) and passes their events on; and :func:`run_job` always
ends a run with cleanup and :class:`~app.events.SessionFinished`, whatever happened
(pymmcore-plus's runner/engine split is the model). Procedures hold the policy:
which exposures, which filters, when to stop.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable, Generator, Iterator
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Any

import numpy as np

from app import defaults
from app.actions import (
    Action,
    AskUser,
    Cancelled,
    Expose,
    FrameKind,
    MoveFilter,
    Procedure,
    SaveFrame,
    SessionFailure,
    SetBrightness,
    SetCover,
    SetLight,
    SetTint,
    Shot,
    Wait,
)
from app.adu import AduScale
from app.events import (
    Event,
    FinishReason,
    FlatSaved,
    Phase,
    Progress,
    SessionError,
    SessionFinished,
)
from app.fits_store import FlatMeta, flat_filename, flat_header, utc_now, write_raw_beside
from app.record import SessionRecord, channels_entry
from app.rig import Rig, TintablePanel
from app.settings import SettingsError
from app.stats import Frame, analyse_frame
from app.writer import FitsWriter, WriteJob
from drivers.base import Started
from drivers.errors import DeviceError, ExposureAbortedError

log = logging.getLogger(__name__)
COVER_TIMEOUT_S = defaults.COVER_TIMEOUT_S
WHEEL_TIMEOUT_S = defaults.WHEEL_TIMEOUT_S


class FramePool:
    """Frame buffers reused between exposures (no new 120 MB array per frame)."""

    def __init__(self, shape: tuple[int, int], size: int) -> None:
        self._free: queue.Queue[Frame] = queue.Queue()
        for _ in range(size):
            self._free.put(np.empty(shape, dtype=np.uint16))

    def acquire(self, cancel: threading.Event) -> Frame:
        """A free buffer, waiting for one (cancel stops the wait)."""
        while True:
            try:
                return self._free.get(timeout=0.1)
            except queue.Empty:
                if cancel.is_set():
                    raise Cancelled from None

    def release(self, frame: Frame) -> None:
        """Give a buffer back."""
        self._free.put(frame)


class Engine:
    """Executes one run's actions on its rig; see the module docstring."""

    def __init__(self, rig: Rig, out_dir: Path, *, cancel: threading.Event | None = None,
                 writer_queue: int = 2,
                 ask_user: Callable[[str, threading.Event], None] | None = None) -> None:
        self.rig = rig
        self.out_dir = out_dir
        self.cancel = cancel if cancel is not None else threading.Event()
        self.files: list[Path] = []
        #: how many of ``files`` are dark flats
        self.dark_files = 0
        self.record: SessionRecord | None = None
        self._writer_queue = writer_queue
        self._ask_user = ask_user
        self._writer: FitsWriter | None = None
        self._pool: FramePool | None = None
        self._live: Shot | None = None
        self._live_raw: tuple[bytes, str] | None = None
        #: the exposure started ahead (Expose.next_exposure_s), running now
        self._ahead: Started | None = None
        self._saved_live = False
        self._write_failed = False
        self._finished = False
        self._started = time.monotonic()
        #: frames are stamped on the camera's clock (simulated time in tests)
        self._utc0, self._clock0 = utc_now(), rig.camera.clock.monotonic()
        self._expected = 0
        #: frames handed to the writer in this run
        self.submitted = 0
        self.stamp = ""

    # -- set-up ---------------------------------------------------------------------
    def open(self, record: SessionRecord, stamp: str, expected_files: int) -> None:
        """Start the frame pool and the writer for a run recorded in ``record``."""
        self.record = record
        self.stamp = stamp
        self._expected = expected_files
        camera = self.rig.camera
        pool = self._pool = FramePool(camera.frame_shape, self._writer_queue + 2)

        def written(job: WriteJob, path: Path) -> None:
            name = str(path.relative_to(self.out_dir))
            if job.image_type == FrameKind.DARK.value:
                record.add_dark_flat(name, job.exposure_s, job.mean_native)
            else:
                record.add_flat(name, job.exposure_s, job.mean_native, job.mean_16bit,
                                section=job.section, **channels_entry(job.channels_16bit))

        self._writer = FitsWriter(self.out_dir, max_pending=self._writer_queue,
                                  on_written=written, release=pool.release)

    def elapsed_s(self) -> float:
        """Seconds since the run started."""
        return time.monotonic() - self._started

    # -- driving a procedure -----------------------------------------------------------
    def drive(self, procedure: Procedure) -> Generator[Event, None, Any]:
        """Run ``procedure``: execute its actions, pass its events on; return its value."""
        result: Any = None
        error: BaseException | None = None
        while True:
            try:
                item = procedure.throw(error) if error is not None else procedure.send(result)
            except StopIteration as stop:
                self._drop_live()
                self._stop_ahead()
                return stop.value
            error, result = None, None
            if isinstance(item, Action):
                try:
                    result = self._execute(item)
                except (DeviceError, SessionFailure) as failure:
                    error = failure  # the procedure may handle it (e.g. skip a filter)
                continue
            if isinstance(item, Progress):
                item = replace(item, elapsed_s=self.elapsed_s())
            yield item
            yield from self.drain(block=False)

    def _execute(self, action: Any) -> Any:
        self.check_cancel()
        if not isinstance(action, SaveFrame):
            self._drop_live()
        if not isinstance(action, SaveFrame | Expose):
            self._stop_ahead()  # the devices change, or time passes: not that frame
        rig = self.rig
        if isinstance(action, Expose):
            return self._expose(action)
        if isinstance(action, SaveFrame):
            return self._save(action)
        if isinstance(action, MoveFilter):
            if rig.wheel is None:
                raise SessionFailure("no filter wheel: give --wheel to take flats per filter")
            return rig.wheel.move_to_filter(action.name, WHEEL_TIMEOUT_S)
        if isinstance(action, Wait):
            clock, left = rig.camera.clock, action.seconds
            while left > 0:  # in short steps so cancel stays quick
                clock.sleep(min(left, 0.5))
                left -= 0.5
                self.check_cancel()
            return None
        if isinstance(action, AskUser):
            if self._ask_user is None:
                raise SessionFailure(f"{action.message}, then run again with --yes")
            self._ask_user(action.message, self.cancel)
            self.check_cancel()
            return None
        panel = rig.panel
        if panel is None:
            raise SessionFailure("no light panel to control: give --panel")
        if isinstance(action, SetBrightness):
            return panel.set_brightness(action.level)
        if isinstance(action, SetTint):
            if not isinstance(panel, TintablePanel):
                raise SessionFailure("this panel cannot tint its light (only the screen "
                                     "panel can); leave the tint out for this panel")
            return panel.set_tint(action.r, action.g, action.b)
        if isinstance(action, SetLight):
            if action.on:
                panel.light_on()
            else:
                panel.light_off()
            return None
        if isinstance(action, SetCover):
            if action.closed:
                panel.close_cover(COVER_TIMEOUT_S)
            else:
                panel.open_cover(COVER_TIMEOUT_S)
            return None
        raise TypeError(f"unknown action {action!r}")

    def _expose(self, action: Expose) -> Shot:
        assert self._pool is not None, "open() the engine first"
        camera = self.rig.camera
        frame = self._pool.acquire(self.cancel)
        ahead, self._ahead = self._ahead, None
        try:
            taken = camera.capture(action.exposure_s, cancel=self.cancel, out=frame,
                                   started=ahead)
            frame = taken.frame
            raw = camera.last_raw_file()  # a DSLR's own file of this frame
            if action.next_exposure_s is not None and camera.starts_ahead:
                self._begin_ahead(action.next_exposure_s)  # exposes while this frame is handled
            start_utc = self._utc0 + timedelta(seconds=taken.started_at - self._clock0)
            info = camera.info
            # Everything a frame needs, in one pass over it (app.stats.analyse_frame).
            analysis = analyse_frame(frame, AduScale(info.bit_depth), info.bayer_pattern,
                                     camera.reported_e_per_adu() if action.shot_signal
                                     else None)
        except BaseException:
            self._pool.release(frame)
            raise
        self._live = Shot(frame, analysis.stats, taken.exposure_s, start_utc,
                          analysis.shot_noise_signal_native, analysis.histogram)
        self._live_raw = raw
        self._saved_live = False
        return self._live

    def _begin_ahead(self, exposure_s: float) -> None:
        try:
            self._ahead = self.rig.camera.begin(exposure_s)
        except DeviceError as error:  # the next Expose starts it again, and reports
            log.debug("could not start the next exposure ahead: %s", error)

    def _stop_ahead(self) -> None:
        """Abort the exposure started ahead, if one runs."""
        if self._ahead is not None:
            self._ahead = None
            try:
                self.rig.camera.abort_exposure()
            except DeviceError as error:
                log.debug("could not abort the exposure started ahead: %s", error)

    def _drop_live(self) -> None:
        """Return the last shot's buffer unless it was saved (then the writer returns it)."""
        if self._live is not None and not self._saved_live and self._pool is not None:
            self._pool.release(self._live.frame)
        self._live = None

    def _save(self, action: SaveFrame) -> None:
        assert self._writer is not None, "open() the engine first"
        shot = action.shot
        if shot is not self._live or self._saved_live:
            raise RuntimeError("a shot can be saved once, before the next action")
        camera = self.rig.camera
        try:
            temperature = camera.temperature_c()
        except DeviceError:
            temperature = None
        cooler_on, set_point = camera.cooler_state()
        meta = FlatMeta(
            exposure_s=shot.exposure_s, gain=camera.gain, offset=camera.offset,
            binning=camera.binning, filter_name=action.filter_name, date_obs=shot.start_utc,
            ccd_temp_c=temperature, set_temp_c=set_point if cooler_on else None,
            mean_native=shot.stats.mean_native, e_per_adu=camera.reported_e_per_adu(),
            image_type=action.kind.value,
        )
        header = flat_header(camera.info, meta)
        name = flat_filename(self.stamp, action.index, meta)
        self._saved_live = True
        if self._live_raw is not None:  # the camera's raw file, as it wrote it, beside
            write_raw_beside(self.out_dir / action.subdir, name, *self._live_raw)
        self.submitted += 1
        self._writer.submit(WriteJob(
            action.index, name, shot.frame, header, shot.exposure_s, shot.stats.mean_native,
            shot.stats.mean_16bit, shot.stats.channel_means_16bit or None,
            subdir=action.subdir, section=action.section, image_type=action.kind.value))

    def drain(self, *, block: bool) -> Iterator[Event]:
        """FlatSaved for every file written since; an OSError for the first failed one."""
        writer = self._writer
        if writer is None:
            return
        if block:
            writer.close()
        while True:
            try:
                result = writer.results.get_nowait()
            except queue.Empty:
                return
            if result.error is not None or result.path is None:
                if self._write_failed:
                    continue  # the first failure was already reported
                self._write_failed = True
                raise OSError(
                    f"could not write {result.job.name} ({one_line(result.error)}); "
                    "check the disk and the output folder"
                )
            self.files.append(result.path)
            self.dark_files += result.job.image_type == FrameKind.DARK.value
            yield FlatSaved(result.job.index, self._expected, result.path,
                            result.job.exposure_s, result.job.mean_native,
                            result.job.mean_16bit, result.job.image_type)

    def check_cancel(self) -> None:
        """Raise :class:`Cancelled` once cancel is set."""
        if self.cancel.is_set():
            raise Cancelled

    # -- the end ------------------------------------------------------------------------
    def finish(self, reason: FinishReason, message: str | None) -> None:
        """Leave the devices idle, write what is queued, close the record (once)."""
        if self._finished:
            return
        self._finished = True
        self._drop_live()
        self._ahead = None  # aborted just below
        try:
            self.rig.camera.abort_exposure()
        except DeviceError:
            pass
        if self._writer is not None:
            self._writer.close()
        if self.record is not None:
            try:
                self.record.update(
                    status=reason.value,
                    error=None if reason is FinishReason.COMPLETED else message,
                    finished_utc=utc_now().isoformat(),
                )
            except OSError:
                pass


def run_job(engine: Engine, body: Generator[Event, None, float | None],
            expected_files: Callable[[], int]) -> Iterator[Event]:
    """Run ``body`` (set-up, then the procedures) on ``engine``; always end finished.

    ``body`` returns the exposure to report. If the consumer stops iterating early
    (closes the generator), the run is finished as cancelled: exposure aborted,
    queued files written, record closed.
    """
    try:
        yield from _run(engine, body, expected_files)
    finally:
        engine.finish(FinishReason.CANCELLED, "cancelled")  # no-op once finished


def _run(engine: Engine, body: Generator[Event, None, float | None],
         expected_files: Callable[[], int]) -> Iterator[Event]:
    reason = FinishReason.FAILED
    message: str | None = None
    exposure_s: float | None = None
    try:
        exposure_s = yield from body
        reason = FinishReason.COMPLETED
    except (Cancelled, ExposureAbortedError):
        reason, message = FinishReason.CANCELLED, "cancelled"
    except (SessionFailure, SettingsError, DeviceError, OSError) as error:
        message = one_line(error)
        yield SessionError(message)
    except Exception as error:  # last resort: report, never hang or vanish
        log.debug("internal error in the run", exc_info=True)
        message = f"internal error: {type(error).__name__}: {one_line(error)}"
        yield SessionError(message)
    if engine.record is not None:
        yield Progress(Phase.WRITING, len(engine.files), expected_files(),
                       engine.elapsed_s(), None)
    try:
        yield from engine.drain(block=True)
    except OSError as error:
        reason, message = FinishReason.FAILED, one_line(error)
        yield SessionError(message)
    if reason is FinishReason.COMPLETED and len(engine.files) < expected_files():
        reason = FinishReason.FAILED
        message = message or "some files could not be written"
    engine.finish(reason, message)
    yield SessionFinished(
        reason=reason,
        message=None if reason is FinishReason.COMPLETED else message,
        exposure_s=exposure_s,
        files=tuple(engine.files),
        session_file=engine.record.path if engine.record else None,
        dark_files=engine.dark_files,
    )


def one_line(error: BaseException | None) -> str:
    """An error as one line of text."""
    text = str(error) if error is not None else "unknown error"
    if isinstance(error, OSError) and error.strerror and not text.strip():
        text = error.strerror
    return " ".join(text.split()) or type(error).__name__

"""The flat session: a plain generator of typed events.

Set the camera up, find the exposure with the solver, capture N flats at fixed
gain, offset and binning (dropping any that drift out of tolerance and re-solving),
write them on a background thread, keep session.json true after every frame, and
always finish with :class:`SessionFinished`. Cancellation (a threading.Event) is
checked at every step and reaches the camera, aborting the exposure.
"""

from __future__ import annotations

import json
import logging
import math
import queue
import threading
import time
from collections.abc import Generator, Iterator, Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np

from app import defaults
from app.adu import AduScale
from app.atomic import link_to_free_name
from app.drift import LevelTracker
from app.events import (
    Event,
    ExposureSolved,
    FinishReason,
    FlatCaptured,
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
from app.fits_store import FlatMeta, flat_filename, flat_header, session_stamp, utc_now
from app.flicker import BANDING_LIMIT, min_flicker_safe_exposure_s, row_banding
from app.history import (
    ExposureHistory,
    HistoryEntry,
    HistoryKey,
    linearity_key,
    sensor_key,
)
from app.linearity import SAFE_SHARE
from app.plan import SessionPlan, check_output_folder, plan_session
from app.record import SESSION_FILE, SessionRecord, channels_entry
from app.resume import ResumeState
from app.settings import FlatSettings, SettingsError
from app.solver import SATURATED_FRACTION, ExposureSolver, LinearFit, SolverConfig, Step, Verdict
from app.stats import (
    Frame,
    FrameStats,
    frame_stats,
    histogram,
    preview,
    shot_noise_signal_native,
)
from app.steering import Aim, Level, Steering
from app.writer import FitsWriter, WriteJob
from drivers.base import Camera
from drivers.errors import CameraError, ExposureAbortedError

log = logging.getLogger(__name__)


class SessionFailure(Exception):
    """Ends a session with a message that says what to change."""


class _Cancelled(Exception):
    pass


@dataclass(frozen=True, slots=True)
class _Run:
    """What the phases of one run share."""

    plan: SessionPlan
    scale: AduScale
    pool: _FramePool
    record: SessionRecord
    stamp: str
    done_before: int
    steering: Steering


@dataclass(frozen=True, slots=True)
class _Shot:
    """One frame in a pooled buffer, with when and how it was taken."""

    frame: Frame
    stats: FrameStats
    exposure_s: float
    start_utc: datetime


@dataclass(frozen=True, slots=True)
class _Found:
    """The accepted test frame (flat 1) and the bias the solver measured."""

    shot: _Shot
    bias_native: float | None


class _FramePool:
    """Frame buffers reused between exposures (no new 120 MB array per frame)."""

    def __init__(self, shape: tuple[int, int], size: int) -> None:
        self._free: queue.Queue[Frame] = queue.Queue()
        for _ in range(size):
            self._free.put(np.empty(shape, dtype=np.uint16))

    def acquire(self, cancel: threading.Event) -> Frame:
        while True:
            try:
                return self._free.get(timeout=0.1)
            except queue.Empty:
                if cancel.is_set():
                    raise _Cancelled from None

    def release(self, frame: Frame) -> None:
        self._free.put(frame)


class FlatSession:
    """One run; iterate :meth:`events` (once) to drive it."""

    def __init__(
        self,
        camera: Camera,
        settings: FlatSettings,
        *,
        cancel: threading.Event | None = None,
        writer_queue: int = 2,
        resume: ResumeState | None = None,
        camera_id: str | None = None,
        history: ExposureHistory | None = None,
        record_extra: Mapping[str, Any] | None = None,
    ) -> None:
        self.camera = camera
        self.settings = settings
        self.cancel = cancel if cancel is not None else threading.Event()
        self._writer_queue = writer_queue
        self._record: SessionRecord | None = None
        self._writer: FitsWriter | None = None
        self._files: list[Path] = []
        self._exposure_s: float | None = None
        self._started = time.monotonic()
        self._write_failed = False
        self._resume = resume
        self._finished = False
        self._history = history
        self._flicker_reported = False
        self._camera_id = camera_id
        self._record_extra = dict(record_extra or {})

    def events(self) -> Iterator[Event]:
        """Run the session, yielding events; the last is always SessionFinished.

        If the consumer stops iterating early (closes the generator), the session is
        finished as cancelled: exposure aborted, queued flats written, record closed.
        """
        try:
            yield from self._events()
        finally:
            self._finish(FinishReason.CANCELLED, "cancelled")  # no-op once finished

    def _events(self) -> Iterator[Event]:
        reason = FinishReason.FAILED
        message: str | None = None
        try:
            yield from self._run()
            reason = FinishReason.COMPLETED
        except (_Cancelled, ExposureAbortedError):
            reason, message = FinishReason.CANCELLED, "cancelled"
        except (SessionFailure, SettingsError, CameraError, OSError) as error:
            message = _one_line(error)
            yield SessionError(message)
        except Exception as error:  # last resort: report, never hang or vanish
            log.debug("internal error in the flat session", exc_info=True)
            message = f"internal error: {type(error).__name__}: {_one_line(error)}"
            yield SessionError(message)
        if self._writer is not None:
            yield Progress(Phase.WRITING, len(self._files), self.settings.count,
                           self._elapsed(), None)
        try:
            yield from self._drain_writes(block=True)
        except OSError as error:
            reason, message = FinishReason.FAILED, _one_line(error)
            yield SessionError(message)
        if reason is FinishReason.COMPLETED and len(self._files) < self.settings.count:
            reason = FinishReason.FAILED
            message = message or "some flats could not be written"
        self._finish(reason, message)
        yield SessionFinished(
            reason=reason,
            message=None if reason is FinishReason.COMPLETED else message,
            exposure_s=self._exposure_s,
            files=tuple(self._files),
            session_file=self._record.path if self._record else None,
        )

    # -- the run -------------------------------------------------------------------
    def _run(self) -> Iterator[Event]:
        run = yield from self._prepare()
        if run is None:
            return
        found = yield from self._find_exposure(run)
        yield from self._capture_flats(run, found)

    def _prepare(self) -> Generator[Event, None, _Run | None]:
        """Check everything, set the camera up, open the record and the writer."""
        cam, settings = self.camera, self.settings
        info = cam.info
        scale = AduScale(info.bit_depth)
        plan = plan_session(cam, settings)
        ceiling = defaults.LINEAR_CEILING_SHARE * scale.full_scale_native
        pending: list[str] = []
        limit = (self._history.linear_limit(linearity_key(info, plan.gain, plan.offset,
                                                          plan.binning))
                 if self._history is not None else None)
        if limit is not None:
            ceiling = min(ceiling, limit)
            if plan.target_native + plan.tolerance_native > limit:
                safe = SAFE_SHARE * limit
                full = scale.full_scale_native
                if settings.lower_target_if_nonlinear:
                    plan = replace(plan, target_native=safe,
                                   tolerance_native=safe * settings.tolerance_percent / 100)
                    pending.append(
                        f"the target was lowered to {safe / full:.0%} of full scale: this "
                        f"sensor is linear only up to {limit / full:.0%} at gain {plan.gain} "
                        "(measured by 'autoflats linearity')")
                else:
                    pending.append(
                        f"the target {plan.target_native / full:.0%} of full scale lies above "
                        f"this sensor's linear limit {limit / full:.0%} at gain {plan.gain} "
                        "(measured by 'autoflats linearity'): such flats calibrate badly; use "
                        f"--target {100 * safe / full:.0f}% or --lower-target")
        done_before = list(self._resume.flats) if self._resume else []
        to_capture = settings.count - len(done_before)
        self._files = [settings.out_dir / str(f["file"]) for f in done_before]
        if self._resume is not None and to_capture <= 0:
            # Nothing to take: the finished record stays exactly as it is.
            self._exposure_s = self._resume.exposure_s
            yield Notice(f"all {len(done_before)} flats are already there; nothing to do")
            return None
        check_output_folder(settings.out_dir, max(to_capture, 0) * plan.frame_bytes)
        self._check_cancel()
        if self._resume is None:
            _archive_previous_record(settings.out_dir / SESSION_FILE)
        cam.set_gain(plan.gain)
        cam.set_offset(plan.offset)
        cam.set_binning(plan.binning)
        target = settings.target
        record = self._record = SessionRecord(
            settings.out_dir / SESSION_FILE,
            camera=info.name,
            gain=plan.gain,
            offset=plan.offset,
            bit_depth=info.bit_depth,
            target_native=plan.target_native,
            target_16bit=scale.to_16bit(plan.target_native),
            extra={
                "camera_id": self._camera_id,
                "model": info.model,
                "binning": plan.binning,
                "filter": settings.filter_name,
                "count": settings.count,
                "target": f"{target.value:g}{'%' if target.is_percent else ''}",
                "target_space": target.space.value,
                "tolerance_percent": settings.tolerance_percent,
                "tolerance_native": round(plan.tolerance_native, 3),
                "min_exposure_s": settings.min_exposure_s,
                "max_exposure_s": settings.max_exposure_s,
                "started_utc": utc_now().isoformat(),
                "resumed": self._resume is not None,
                "sensor": {"width": info.width, "height": info.height},
                "per_channel": settings.per_channel,
            } | self._record_extra,
            previous=(self._resume.record | {"flats": done_before}) if self._resume else None,
        )
        record.save()
        for message in pending:
            yield self._warn(message)
        yield SessionStarted(info, settings.out_dir, settings.count, plan.gain, plan.offset,
                             plan.binning, plan.target_native,
                             scale.to_16bit(plan.target_native), plan.tolerance_native)
        pool = _FramePool(cam.frame_shape, self._writer_queue + 2)

        def written(job: WriteJob, path: Path) -> None:
            record.add_flat(path.name, job.exposure_s, job.mean_native, job.mean_16bit,
                            **channels_entry(job.channels_16bit))

        self._writer = FitsWriter(settings.out_dir, max_pending=self._writer_queue,
                                  on_written=written, release=pool.release)
        steering = Steering(plan.target_native, plan.tolerance_native, ceiling,
                            per_channel=settings.per_channel)
        return _Run(plan, scale, pool, record, session_stamp(utc_now()), len(done_before),
                    steering)

    def _history_key(self, plan: SessionPlan) -> HistoryKey:
        return HistoryKey(self.camera.info.name, plan.gain, plan.offset, plan.binning,
                          self.settings.filter_name, plan.target_native,
                          sensor_key(self.camera.info))

    def _take(self, run: _Run, exposure_s: float) -> _Shot:
        """One exposure into a pooled buffer, with its statistics (buffer released on error)."""
        frame = run.pool.acquire(self.cancel)
        try:
            start_utc = utc_now()
            taken = self.camera.capture(exposure_s, cancel=self.cancel, out=frame)
            frame = taken.frame
            stats = frame_stats(frame, run.scale, self.camera.info.bayer_pattern)
        except BaseException:
            run.pool.release(frame)
            raise
        return _Shot(frame, stats, taken.exposure_s, start_utc)

    def _find_exposure(self, run: _Run) -> Generator[Event, None, _Found]:
        """Test frames until one lands within tolerance; that frame becomes a flat."""
        cam, settings, plan, info = self.camera, self.settings, run.plan, self.camera.info
        e_per_adu = cam.reported_e_per_adu()
        first_s, bias_hint = settings.first_exposure_s, settings.bias_hint_native
        key = self._history_key(plan)
        remembered = self._history.lookup(key) if self._history is not None else None
        if remembered is not None:
            first_s = first_s if first_s is not None else remembered.exposure_s
            bias_hint = bias_hint if bias_hint is not None else remembered.bias_native
            yield Notice(f"starting from last time's exposure, {remembered.exposure_s:.4g} s "
                         f"({remembered.when_utc[:10]})")
        steering = run.steering
        solver = self._new_solver(run, steering.aim, first_s, bias_hint, e_per_adu)
        taken: list[tuple[float, FrameStats, float | None]] = []  # (applied s, stats, shot)
        exposure_s = cam.clamp_exposure(solver.first_exposure())
        tests = 0
        while True:
            self._check_cancel()
            yield Progress(Phase.FINDING_EXPOSURE, tests, settings.max_test_frames,
                           self._elapsed(), None)
            shot = self._take(run, exposure_s)
            stats = shot.stats
            try:
                signal = (shot_noise_signal_native(shot.frame, run.scale, e_per_adu,
                                                   info.bayer_pattern)
                          if e_per_adu else None)
            except BaseException:
                run.pool.release(shot.frame)
                raise
            repeated = any(math.isclose(shot.exposure_s, t, rel_tol=1e-9) for t, _, _ in taken)
            taken.append((shot.exposure_s, stats, signal))
            bias_guess = stats.mean_native - signal if signal is not None else 0.0
            flicker = self._check_flicker(shot.frame, shot.exposure_s, bias_guess)
            if flicker is not None:
                yield flicker[0]
            safe_s = flicker[1] if flicker is not None else 0.0
            if shot.exposure_s < safe_s:
                # Banded frames mislead the search: start again above the safe time.
                step = Step(Verdict.NEXT, safe_s, "flicker: restarting above the safe exposure")
                if safe_s > plan.max_exposure_s:
                    step = Step(Verdict.GAVE_UP, shot.exposure_s,
                                f"the light flickers and needs flats of at least {safe_s:g} s, "
                                f"longer than the longest allowed {plan.max_exposure_s:g} s; "
                                "use a steady light or allow longer flats")
                solver = ExposureSolver(replace(solver.config, min_exposure_s=safe_s,
                                                first_exposure_s=safe_s))
            else:
                step = _observe(solver, steering, shot.exposure_s, stats, signal)
                fit = solver.fit()
                switch = steering.channel_over_ceiling(stats, fit.bias_native if fit else None)
                if switch is not None:
                    yield self._warn(switch)
                    solver = self._new_solver(run, steering.aim, None, bias_hint, e_per_adu)
                    for applied_s, old_stats, old_signal in taken:
                        step = _observe(solver, steering, applied_s, old_stats, old_signal)
                if step.verdict is Verdict.ACCEPT:
                    return (yield from self._accept(run, solver, shot, tests, key, bias_hint))
                if step.verdict is Verdict.NEXT and repeated:
                    step = Step(Verdict.GAVE_UP, shot.exposure_s,
                                _quantised_message(taken, steering, run.scale))
            tests += 1
            run.record.add_test_exposure(shot.exposure_s, stats.mean_native, stats.mean_16bit,
                                         **channels_entry(stats.channel_means_16bit))
            event = self._test_event(
                tests, shot, step.exposure_s if step.verdict is Verdict.NEXT else None,
                step.reason, solver.fit())
            run.pool.release(shot.frame)
            yield event
            if step.verdict is not Verdict.NEXT:
                raise SessionFailure(step.reason)
            exposure_s = cam.clamp_exposure(step.exposure_s)

    def _new_solver(self, run: _Run, aim: Aim, first_s: float | None,
                    bias_hint: float | None, e_per_adu: float | None) -> ExposureSolver:
        plan = run.plan
        return ExposureSolver(SolverConfig(
            target_native=aim.target_native,
            tolerance_native=aim.tolerance_native,
            full_scale_native=run.scale.full_scale_native,
            min_exposure_s=plan.min_exposure_s,
            max_exposure_s=plan.max_exposure_s,
            first_exposure_s=first_s,
            bias_hint_native=bias_hint,
            e_per_adu_native=e_per_adu,
            max_frames=self.settings.max_test_frames,
            linear_ceiling_native=run.steering.ceiling_native,
        ))

    def _accept(self, run: _Run, solver: ExposureSolver, shot: _Shot, tests: int,
                key: HistoryKey, bias_hint: float | None) -> Generator[Event, None, _Found]:
        """The frame on target: warnings, history, the solved event; it becomes flat 1."""
        stats, exposure_s = shot.stats, shot.exposure_s
        for warning in _channel_warnings(stats, run.scale):
            yield self._warn(warning)
        fit = solver.fit()
        self._exposure_s = exposure_s
        run.record.update(exposure_s=exposure_s, aim={
            "channel": run.steering.aim.channel,
            "target_native": round(run.steering.aim.target_native, 3)})
        bias = fit.bias_native if fit is not None else bias_hint
        if self._history is not None:
            # Only a bias measured from two frames (or known before) is kept.
            measured = bias if fit is not None and fit.fitted else bias_hint
            self._history.remember(key, HistoryEntry(
                exposure_s, measured, utc_now().isoformat(timespec="seconds")))
        yield ExposureSolved(exposure_s, stats.mean_native, stats.mean_16bit, tests, bias)
        return _Found(shot, bias)

    def _warn(self, message: str) -> Notice:
        """A warning: kept in session.json and shown to the user."""
        if self._record is not None:
            self._record.add_warning(message)
        return Notice(message, warning=True)

    def _capture_flats(self, run: _Run, found: _Found) -> Iterator[Event]:
        """N flats at the found exposure; off-target flats are dropped, a trend re-solved."""
        settings, plan, bayer = self.settings, run.plan, self.camera.info.bayer_pattern
        aim = run.steering.aim
        tracker = LevelTracker(aim.target_native, aim.tolerance_native)
        shot = found.shot
        exposure_s = shot.exposure_s
        captured = run.done_before
        rejected_in_a_row = 0
        flat_wall_s: list[float] = []
        while True:
            captured += 1
            yield FlatCaptured(captured, settings.count, exposure_s, shot.stats,
                               histogram(shot.frame, bayer), preview(shot.frame, bayer))
            self._submit(shot, captured, plan, run.stamp)
            yield from self._drain_writes(block=False)
            if captured >= settings.count:
                return
            while True:
                self._check_cancel()
                per_flat_s = (sum(flat_wall_s) / len(flat_wall_s) if flat_wall_s
                              else exposure_s + self.camera.readout_s)
                yield Progress(Phase.CAPTURING, captured, settings.count, self._elapsed(),
                               (settings.count - captured) * per_flat_s)
                began = time.monotonic()
                shot = self._take(run, exposure_s)
                flat_wall_s.append(time.monotonic() - began)
                flicker = self._check_flicker(shot.frame, exposure_s, found.bias_native or 0.0)
                if flicker is not None:
                    yield flicker[0]
                stats = shot.stats
                level = Steering.level_of(stats, aim)
                decision = tracker.add(level.mean_native,
                                       level.clipped_fraction > SATURATED_FRACTION)
                new_exposure = exposure_s
                if decision.resolve_from is not None:
                    new_exposure = _resolve(exposure_s, decision.resolve_from, level, aim,
                                            found.bias_native)
                if decision.keep:
                    rejected_in_a_row = 0
                else:
                    run.pool.release(shot.frame)
                    rejected_in_a_row += 1
                    run.record.count_rejected_flat()
                    run.record.add_test_exposure(exposure_s, stats.mean_native,
                                                 stats.mean_16bit, rejected=True,
                                                 **channels_entry(stats.channel_means_16bit))
                    change = (f"; exposure {exposure_s:.4g} s -> {new_exposure:.4g} s"
                              if new_exposure != exposure_s else "")
                    yield FlatRejected(
                        exposure_s, stats,
                        f"flat mean {level.mean_native:.1f} ADU is outside the tolerance "
                        f"(target {aim.target_native:.1f} ± {aim.tolerance_native:.1f}); "
                        f"dropped{change}")
                    if rejected_in_a_row > settings.max_rejected_flats:
                        raise SessionFailure(
                            f"{rejected_in_a_row} flats in a row left the tolerance: the "
                            "light is drifting or flickering too much; steady the light "
                            "source or widen --tolerance, and try again"
                        )
                if new_exposure != exposure_s:
                    if not plan.min_exposure_s <= new_exposure <= plan.max_exposure_s:
                        raise SessionFailure(
                            "the light changed beyond what the exposure range can follow "
                            f"({plan.min_exposure_s:g}..{plan.max_exposure_s:g} s); adjust "
                            "the panel and start again"
                        )
                    exposure_s = self.camera.clamp_exposure(new_exposure)
                    tracker.reset()
                    self._exposure_s = exposure_s
                    run.record.update(exposure_s=exposure_s)
                if decision.keep:
                    break

    # -- helpers -------------------------------------------------------------------
    def _test_event(self, index: int, shot: _Shot, next_s: float | None, reason: str,
                    fit: LinearFit | None) -> TestFrame:
        bayer = self.camera.info.bayer_pattern
        return TestFrame(index, shot.exposure_s, shot.stats, histogram(shot.frame, bayer),
                         preview(shot.frame, bayer), next_s, reason,
                         fit.bias_native if fit else None,
                         fit.rate_native_per_s if fit else None)

    def _submit(self, shot: _Shot, index: int, plan: SessionPlan, stamp: str) -> None:
        """Hand a flat to the writer thread (the buffer returns to the pool once written)."""
        assert self._writer is not None
        temperature: float | None
        try:
            temperature = self.camera.temperature_c()
        except CameraError:
            temperature = None
        cooler_on, set_point = self.camera.cooler_state()
        meta = FlatMeta(
            exposure_s=shot.exposure_s,
            gain=plan.gain,
            offset=plan.offset,
            binning=plan.binning,
            filter_name=self.settings.filter_name,
            date_obs=shot.start_utc,
            ccd_temp_c=temperature,
            set_temp_c=set_point if cooler_on else None,
            mean_native=shot.stats.mean_native,
        )
        header = flat_header(self.camera.info, meta)
        name = flat_filename(stamp, index, meta)
        self._writer.submit(WriteJob(index, name, shot.frame, header, shot.exposure_s,
                                     shot.stats.mean_native, shot.stats.mean_16bit,
                                     shot.stats.channel_means_16bit or None))

    def _drain_writes(self, *, block: bool) -> Iterator[Event]:
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
                    f"could not write {result.job.name} ({_one_line(result.error)}); "
                    "check the disk and the output folder"
                )
            self._files.append(result.path)
            yield FlatSaved(result.job.index, self.settings.count, result.path,
                            result.job.exposure_s, result.job.mean_native,
                            result.job.mean_16bit)

    def _finish(self, reason: FinishReason, message: str | None) -> None:
        """Leave the camera idle, write what is queued, close the record (once)."""
        if self._finished:
            return
        self._finished = True
        try:
            self.camera.abort_exposure()
        except CameraError:
            pass
        if self._writer is not None:
            self._writer.close()
        if self._record is not None:
            try:
                self._record.update(
                    status=reason.value,
                    error=None if reason is FinishReason.COMPLETED else message,
                    finished_utc=utc_now().isoformat(),
                )
            except OSError:
                pass

    def _check_flicker(self, frame: Frame, exposure_s: float,
                       bias_native: float) -> tuple[Notice, float] | None:
        """Report banding from a flickering light once, with a safe exposure."""
        if self._flicker_reported:
            return None
        info = self.camera.info
        banding = row_banding(frame, info.bayer_pattern, max(bias_native, 0.0),
                              info.bit_depth)
        if banding <= BANDING_LIMIT:
            return None
        self._flicker_reported = True
        safe_s = min_flicker_safe_exposure_s(exposure_s, banding)
        if self._record is not None:
            self._record.update(flicker={"banding": round(banding, 4),
                                         "at_exposure_s": exposure_s,
                                         "min_safe_exposure_s": safe_s})
        return Notice(
            f"the light flickers: rows show {banding:.1%} banding at {exposure_s:.4g} s; "
            f"flats will be at least {safe_s:g} s (dim the panel if that is too bright)"
        ), safe_s

    def _check_cancel(self) -> None:
        if self.cancel.is_set():
            raise _Cancelled

    def _elapsed(self) -> float:
        return time.monotonic() - self._started


_WEAK_ADVICE = {
    "R": "the light is poor in red (a cold/blue panel); a warmer light or a longer exposure "
         "helps",
    "G": "the light is poor in green; use a whiter light",
    "B": "the light is poor in blue (a warm panel or an incandescent source); a daylight-"
         "balanced panel or a blue-boosting filter on the panel helps",
}


def _channel_warnings(stats: FrameStats, scale: AduScale) -> list[str]:
    """Colour flats: channels so weak that their flat will be noisy."""
    warnings = []
    for channel, level in stats.channel_means_native.items():
        share = level / scale.full_scale_native
        if share < defaults.WEAK_CHANNEL_SHARE:
            warnings.append(
                f"the {channel} channel is only at {share:.0%} of full scale: its flat will "
                f"be noisy; {_WEAK_ADVICE.get(channel, 'use a whiter light')}")
    return warnings


def _observe(solver: ExposureSolver, steering: Steering, exposure_s: float,
             stats: FrameStats, shot_signal: float | None) -> Step:
    """Feed one frame to the solver as the steered level."""
    level = steering.level(stats)
    if shot_signal is not None:
        # The shot-noise estimate measures signal above one bias for every channel.
        shot_signal += level.mean_native - stats.mean_native
    return solver.observe(exposure_s, level.mean_native, level.clipped_fraction, shot_signal)


def _quantised_message(taken: list[tuple[float, FrameStats, float | None]],
                       steering: Steering, scale: AduScale) -> str:
    """Why the search stops when the camera's exposure grid skips the target."""
    aim = steering.aim
    levels = [(t, Steering.level_of(stats, aim).mean_native) for t, stats, _ in taken]
    below = [p for p in levels if p[1] < aim.target_native]
    above = [p for p in levels if p[1] > aim.target_native]
    full = scale.full_scale_native
    if below and above:
        low = max(below, key=lambda p: p[0])
        high = min(above, key=lambda p: p[0])
        return (f"the camera's exposures step from {low[0]:.6g} s ({low[1] / full:.1%} of full "
                f"scale) to {high[0]:.6g} s ({high[1] / full:.1%}), a step of "
                f"{high[0] - low[0]:.3g} s that skips the target "
                f"{aim.target_native / full:.1%} ± {aim.tolerance_native / full:.1%}; dim the "
                "panel so flats take longer, or widen --tolerance")
    return ("the camera applied the same exposure again for a different request (its "
            "exposures are quantised); dim the panel so flats take longer, or widen "
            "--tolerance")


def _archive_previous_record(path: Path) -> None:
    """Keep an earlier session's record as session-<start>.json, never overwriting."""
    if not path.exists():
        return
    try:
        started = str(json.loads(path.read_text(encoding="utf-8")).get("started_utc", ""))
    except (OSError, ValueError, AttributeError):
        started = ""
    stamp = "".join(ch for ch in started if ch.isdigit())[:14] or "previous"
    try:
        link_to_free_name(path, path.with_name(f"session-{stamp}.json"))
    except FileExistsError:
        raise SessionFailure(
            f"cannot keep the earlier {path.name}; choose a new folder") from None
    path.unlink(missing_ok=True)  # gone already after the rename fallback


def _resolve(exposure_s: float, level_native: float, level: Level, aim: Aim,
             bias: float | None) -> float:
    """One proportional step back onto the target after the light drifted."""
    base = bias if bias is not None and bias < level_native else 0.0
    signal = level_native - base
    if level.clipped_fraction > SATURATED_FRACTION or signal <= 0:
        return exposure_s / 2
    return exposure_s * (aim.target_native - base) / signal


def _one_line(error: BaseException | None) -> str:
    text = str(error) if error is not None else "unknown error"
    if isinstance(error, OSError) and error.strerror and not text.strip():
        text = error.strerror
    return " ".join(text.split()) or type(error).__name__


def run_flat_session(camera: Camera, settings: FlatSettings,
                     cancel: threading.Event | None = None) -> Iterator[Event]:
    """Convenience: the events of a new :class:`FlatSession`."""
    return FlatSession(camera, settings, cancel=cancel).events()



"""A one-filter flat session: the engine running the panel-flats procedure.

Set the camera up, find the exposure, capture N flats at fixed gain, offset and
binning, write them on a background thread, keep session.json true after every
frame, and always finish with :class:`SessionFinished`. Cancellation (a
threading.Event) is checked at every step and reaches the camera, aborting the
exposure. The machinery is :mod:`app.engine`'s; the policy is
:mod:`app.procedures.panel_flats`'s; this module only sets the run up.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Generator, Iterator, Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

from app import defaults
from app.actions import SessionFailure
from app.adu import AduScale
from app.atomic import link_to_free_name
from app.engine import Engine, run_job
from app.events import Event, Notice, SessionStarted
from app.fits_store import session_stamp, utc_now
from app.history import ExposureHistory, linearity_key
from app.linearity import SAFE_SHARE
from app.plan import SessionPlan, check_output_folder, plan_session
from app.procedures.context import FilterRun
from app.procedures.panel_flats import panel_flats
from app.record import SESSION_FILE, SessionRecord
from app.resume import ResumeState
from app.rig import Rig
from app.settings import FlatSettings
from app.steering import Steering
from drivers.base import Camera

__all__ = ["FlatSession", "SessionFailure", "run_flat_session"]


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
        self.engine = Engine(Rig(camera), settings.out_dir, cancel=cancel,
                             writer_queue=writer_queue)
        self.cancel = self.engine.cancel
        self._resume = resume
        self._history = history
        self._camera_id = camera_id
        self._record_extra = dict(record_extra or {})

    def events(self) -> Iterator[Event]:
        """Run the session, yielding events; the last is always SessionFinished.

        If the consumer stops iterating early (closes the generator), the session is
        finished as cancelled: exposure aborted, queued flats written, record closed.
        """
        return run_job(self.engine, self._body(), lambda: self.settings.count)

    def _body(self) -> Generator[Event, None, float | None]:
        run = yield from self._prepare()
        if run is None:
            return self._resume.exposure_s if self._resume else None
        exposure_s: float | None = yield from self.engine.drive(panel_flats(run))
        return exposure_s

    def _prepare(self) -> Generator[Event, None, FilterRun | None]:
        """Check everything, set the camera up, open the record and the writer."""
        cam, settings, engine = self.camera, self.settings, self.engine
        info = cam.info
        scale = AduScale(info.bit_depth)
        plan = plan_session(cam, settings)
        plan, ceiling, pending = apply_linear_limit(plan, settings, scale, self._history, cam)
        done_before = list(self._resume.flats) if self._resume else []
        to_capture = settings.count - len(done_before)
        engine.files = [settings.out_dir / str(f["file"]) for f in done_before]
        if self._resume is not None and to_capture <= 0:
            # Nothing to take: the finished record stays exactly as it is.
            yield Notice(f"all {len(done_before)} flats are already there; nothing to do")
            return None
        check_output_folder(settings.out_dir, max(to_capture, 0) * plan.frame_bytes)
        engine.check_cancel()
        if self._resume is None:
            archive_previous_record(settings.out_dir / SESSION_FILE)
        configure_camera(cam, plan)
        record = SessionRecord(
            settings.out_dir / SESSION_FILE,
            camera=info.name,
            gain=plan.gain,
            offset=plan.offset,
            bit_depth=info.bit_depth,
            target_native=plan.target_native,
            target_16bit=scale.to_16bit(plan.target_native),
            extra=record_fields(self._camera_id, cam, settings, plan, self._resume)
            | {"filter": settings.filter_name, "count": settings.count}
            | self._record_extra,
            previous=(self._resume.record | {"flats": done_before}) if self._resume else None,
        )
        record.save()
        engine.open(record, session_stamp(utc_now()), settings.count)
        run = FilterRun(
            camera=cam, settings=settings, plan=plan, scale=scale,
            steering=Steering(plan.target_native, plan.tolerance_native, ceiling,
                              per_channel=settings.per_channel),
            record=record, history=self._history, filter_name=settings.filter_name,
            done_before=len(done_before),
        )
        for message in pending:
            yield run.warn(message)
        yield SessionStarted(info, settings.out_dir, settings.count, plan.gain, plan.offset,
                             plan.binning, plan.target_native,
                             scale.to_16bit(plan.target_native), plan.tolerance_native)
        return run


def configure_camera(camera: Camera, plan: SessionPlan) -> None:
    """Gain, offset and binning for the whole run."""
    camera.set_gain(plan.gain)
    camera.set_offset(plan.offset)
    camera.set_binning(plan.binning)


def record_fields(camera_id: str | None, camera: Camera, settings: FlatSettings,
                  plan: SessionPlan, resume: ResumeState | None) -> dict[str, Any]:
    """The record's fields beyond the pinned ones, shared by every kind of run."""
    info, target = camera.info, settings.target
    return {
        "camera_id": camera_id,
        "model": info.model,
        "binning": plan.binning,
        "target": f"{target.value:g}{'%' if target.is_percent else ''}",
        "target_space": target.space.value,
        "tolerance_percent": settings.tolerance_percent,
        "tolerance_native": round(plan.tolerance_native, 3),
        "min_exposure_s": settings.min_exposure_s,
        "max_exposure_s": settings.max_exposure_s,
        "started_utc": utc_now().isoformat(),
        "resumed": resume is not None,
        "sensor": {"width": info.width, "height": info.height},
        "per_channel": settings.per_channel,
        "lower_target": settings.lower_target_if_nonlinear,
    }


def apply_linear_limit(plan: SessionPlan, settings: FlatSettings, scale: AduScale,
                       history: ExposureHistory | None, camera: Camera
                       ) -> tuple[SessionPlan, float, list[str]]:
    """(plan, linear ceiling, warnings) given the linear limit 'autoflats linearity' found."""
    ceiling = defaults.LINEAR_CEILING_SHARE * scale.full_scale_native
    limit = (history.linear_limit(linearity_key(camera.info, plan.gain, plan.offset,
                                                plan.binning))
             if history is not None else None)
    if limit is None:
        return plan, ceiling, []
    ceiling = min(ceiling, limit)
    if plan.target_native + plan.tolerance_native <= limit:
        return plan, ceiling, []
    safe = SAFE_SHARE * limit
    full = scale.full_scale_native
    if settings.lower_target_if_nonlinear:
        plan = replace(plan, target_native=safe,
                       tolerance_native=safe * settings.tolerance_percent / 100)
        return plan, ceiling, [
            f"the target was lowered to {safe / full:.0%} of full scale: this sensor is "
            f"linear only up to {limit / full:.0%} at gain {plan.gain} (measured by "
            "'autoflats linearity')"]
    return plan, ceiling, [
        f"the target {plan.target_native / full:.0%} of full scale lies above this sensor's "
        f"linear limit {limit / full:.0%} at gain {plan.gain} (measured by 'autoflats "
        f"linearity'): such flats calibrate badly; use --target {100 * safe / full:.0f}% or "
        "--lower-target"]


def archive_previous_record(path: Path) -> None:
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


def run_flat_session(camera: Camera, settings: FlatSettings,
                     cancel: threading.Event | None = None) -> Iterator[Event]:
    """Convenience: the events of a new :class:`FlatSession`."""
    return FlatSession(camera, settings, cancel=cancel).events()

"""The whole flats job: a light panel the app switches and dims, a filter wheel, every
filter, then dark flats — the engine running :func:`app.procedures.sequence.filter_sequence`.

Without filters the job is one filter's flats (session.json keeps the one-filter
layout, with ``dark_flats`` added); with filters, flats go to ``DIR/<filter>/``, dark
flats to ``DIR/darkflats/`` and session.json lists each filter in ``filters``.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Generator, Iterator, Mapping
from dataclasses import dataclass, replace
from os import PathLike
from pathlib import Path
from typing import Any

from app import defaults
from app.actions import SessionFailure
from app.adu import AduScale
from app.engine import Engine, run_job
from app.events import Event, SessionStarted
from app.fits_store import safe_name_part, session_stamp, utc_now
from app.history import ExposureHistory
from app.plan import check_output_folder, plan_session
from app.procedures.context import FilterRun
from app.procedures.search import history_key
from app.procedures.sequence import FilterOutcome, SequencePlan, filter_sequence
from app.procedures.sky_flats import SkyOutcome, SkyPlan, sky_sequence
from app.record import SESSION_FILE, SessionRecord
from app.resume import ResumeState
from app.rig import Rig, shown_tint
from app.session import (
    apply_linear_limit,
    archive_previous_record,
    configure_camera,
    record_fields,
)
from app.settings import FlatSettings, SettingsError
from app.sky_model import Site
from app.steering import Steering
from drivers.wheel_sim import SimulatedWheel

MIN_FLAT_EXPOSURE_S = defaults.MIN_FLAT_EXPOSURE_S
MAX_FLAT_EXPOSURE_S = defaults.MAX_FLAT_EXPOSURE_S
SKY_MIN_EXPOSURE_S = defaults.SKY_MIN_EXPOSURE_S


@dataclass(frozen=True, slots=True)
class JobSettings:
    """One job: the flat settings, plus filters, panel brightness and dark flats."""

    flats: FlatSettings
    filters: tuple[str, ...] = ()
    #: None = do not touch the level; an int = this level; "auto" = choose per filter
    brightness: int | str | None = None
    dark_count: int = 0
    max_flat_exposure_s: float = MAX_FLAT_EXPOSURE_S
    open_cover_at_end: bool = False
    #: sky flats: "dusk" or "dawn" (None: a panel or a steady light)
    sky: str | None = None
    site: Site | None = None
    #: relative throughput per filter name, when known (the simulated wheel's table)
    throughput: Mapping[str, float] | None = None
    #: balance a colour camera's R, G, B with a tintable panel's tint (the screen)
    tint: bool = True

    def __post_init__(self) -> None:
        """Refuse a job no rig could run."""
        if len({f.casefold() for f in self.filters}) != len(self.filters):
            raise SettingsError("--filters lists a filter twice; name each once")
        if any(not f.strip() for f in self.filters):
            raise SettingsError("--filters has an empty name; use e.g. L,R,G,B,Ha")
        if not 0 <= self.dark_count <= 1000:
            raise SettingsError(f"dark flats {self.dark_count} is out of range; use 0..1000")
        if isinstance(self.brightness, str) and self.brightness != "auto":
            raise SettingsError(f"brightness {self.brightness!r}: use auto or a level")
        if self.sky is not None:
            if self.sky not in ("dusk", "dawn"):
                raise SettingsError(f"--sky {self.sky!r}: use dusk or dawn")
            if self.dark_count:
                raise SettingsError("sky flats change exposure every frame: take a master "
                                    "bias instead of --dark-flats")
            if self.brightness is not None:
                raise SettingsError("--brightness is for a panel; sky flats use the sky")
        if not 0 < self.max_flat_exposure_s <= 3600:
            raise SettingsError("max flat exposure must be in (0, 3600] s")


def rig_record_fields(panel: str | None, wheel: str | None,
                      sim_config: str | PathLike[str] | None) -> dict[str, object]:
    """What session.json keeps of the rig, so ``--resume`` opens the same devices
    (the CLI and the window record the same)."""
    fields: dict[str, object] = {"panel": panel, "wheel": wheel}
    if sim_config is not None:
        fields["sim_config"] = str(Path(sim_config).resolve())
    return fields


def with_known_throughput(job: JobSettings, wheel: object) -> JobSettings:
    """Sky flats on the simulated wheel know its throughput per filter (a real
    wheel's is learnt from the sky)."""
    if job.sky is None or not isinstance(wheel, SimulatedWheel):
        return job
    table = wheel.config
    return replace(job, throughput=dict(zip(table.filters, table.throughput, strict=True)))


class FlatJob:
    """One job on a rig; iterate :meth:`events` (once) to drive it."""

    def __init__(self, rig: Rig, job: JobSettings, *, cancel: threading.Event | None = None,
                 history: ExposureHistory | None = None, camera_id: str | None = None,
                 record_extra: Mapping[str, Any] | None = None,
                 ask_user: Callable[[str, threading.Event], None] | None = None,
                 writer_queue: int = 2, resume: ResumeState | None = None) -> None:
        self.rig = rig
        self.job = job
        self.engine = Engine(rig, job.flats.out_dir, cancel=cancel, writer_queue=writer_queue,
                             ask_user=ask_user)
        self.cancel = self.engine.cancel
        self._history = history
        self._camera_id = camera_id
        self._record_extra = dict(record_extra or {})
        self._resume = resume

    def events(self) -> Iterator[Event]:
        """Run the job; the last event is always SessionFinished."""
        return run_job(self.engine, self._body(), lambda: self.engine.submitted)

    def check(self) -> tuple[str, ...]:
        """Refuse what this rig cannot do, before any exposure; the filters in wheel order."""
        panel, level = self.rig.panel, self.job.brightness
        if isinstance(level, int) and panel is not None:
            low, high = panel.info.brightness_min, panel.info.brightness_max
            if not low <= level <= high:
                raise SettingsError(f"--brightness {level} is outside the panel's range; "
                                    f"use {low}..{high} or auto")
            if level <= 0:
                raise SettingsError(f"--brightness {level} leaves the panel dark; use "
                                    f"{max(low, 1)}..{high} or auto")
        return self.ordered_filters()

    def ordered_filters(self) -> tuple[str, ...]:
        """The filters asked for, in wheel order (names matched case-insensitively)."""
        if not self.job.filters:
            return ()
        wheel = self.rig.wheel
        if wheel is None:
            raise SettingsError("--filters needs a filter wheel: give --wheel sim or zwo")
        slots = [name.casefold() for name in wheel.filter_names]
        unknown = [f for f in self.job.filters if f.casefold() not in slots]
        if unknown:
            raise SettingsError(
                f"the wheel has no filter {', '.join(unknown)}; it holds "
                f"{', '.join(wheel.filter_names)}")
        return tuple(sorted(self.job.filters, key=lambda f: slots.index(f.casefold())))

    def _body(self) -> Generator[Event, None, float | None]:
        job, cam, engine = self.job, self.rig.camera, self.engine
        settings = job.flats
        if job.sky is not None and settings.min_exposure_s is None:
            settings = replace(settings, min_exposure_s=SKY_MIN_EXPOSURE_S)
        filters = self.check()
        auto = job.brightness == "auto"
        window = (settings.min_exposure_s or MIN_FLAT_EXPOSURE_S, job.max_flat_exposure_s)
        if auto:
            if self.rig.panel is None or not self.rig.panel.info.has_light:
                raise SettingsError("--brightness auto needs a dimmable panel (--panel)")
            # The search may go below the window; the brightness brings it back.
            settings = replace(settings, min_exposure_s=None)
        info = cam.info
        scale = AduScale(info.bit_depth)
        plan = plan_session(cam, settings)
        plan, ceiling, pending = apply_linear_limit(plan, settings, scale, self._history, cam)
        flats_total = settings.count * max(len(filters), 1)
        check_output_folder(settings.out_dir,
                            (flats_total + job.dark_count * max(len(filters), 1))
                            * plan.frame_bytes)
        engine.check_cancel()
        resume = self._resume
        previous = resume.record if resume is not None else None
        if resume is None or previous is None:
            archive_previous_record(settings.out_dir / SESSION_FILE)
        else:
            engine.files = [settings.out_dir / str(f["file"]) for f in resume.flats]
            darks = previous.get("dark_flats") or []
            engine.files += [settings.out_dir / str(f["file"]) for f in darks]
            engine.dark_files = len(darks)
        configure_camera(cam, plan)
        extra = record_fields(self._camera_id, cam, settings, plan, self._resume) | {
            "count": settings.count, "dark_flat_count": job.dark_count,
            "brightness_mode": "auto" if auto else job.brightness,
            "max_flat_exposure_s": job.max_flat_exposure_s,
        }
        if job.sky is not None:
            site = job.site
            extra |= {"sky": job.sky, "site": None if site is None else {
                "latitude_deg": site.latitude_deg, "longitude_deg": site.longitude_deg,
                "elevation_m": site.elevation_m}}
        if not filters:
            extra["filter"] = settings.filter_name
            if job.dark_count and not (previous or {}).get("dark_flats"):
                extra["dark_flats"] = []  # (a resumed run keeps those it took)
        record = SessionRecord(
            settings.out_dir / SESSION_FILE, camera=info.name, gain=plan.gain,
            offset=plan.offset, bit_depth=info.bit_depth, target_native=plan.target_native,
            target_16bit=scale.to_16bit(plan.target_native),
            extra=extra | self._record_extra, filters=list(filters) if filters else None,
            previous=previous)
        for name in filters:
            record.update_section(name, folder=safe_name_part(name))
        record.save()
        engine.open(record, session_stamp(utc_now()), settings.count)
        for message in pending:
            record.add_warning(message)
        yield SessionStarted(info, settings.out_dir, flats_total, plan.gain, plan.offset,
                             plan.binning, plan.target_native,
                             scale.to_16bit(plan.target_native), plan.tolerance_native)

        def filter_run(name: str | None) -> FilterRun:
            flat_settings = replace(settings, filter_name=name if name is not None
                                    else settings.filter_name)
            done = record.section(name)
            return FilterRun(
                camera=cam, settings=flat_settings, plan=plan, scale=scale,
                steering=Steering(plan.target_native, plan.tolerance_native, ceiling,
                                  per_channel=settings.per_channel),
                record=record, history=self._history,
                filter_name=flat_settings.filter_name, section=name,
                subdir=safe_name_part(name) if name is not None else "",
                done_before=len(done.get("flats") or []),
                exposure_s=done.get("exposure_s"),
                first_exposure_s=done.get("exposure_s") or settings.first_exposure_s,
                brightness=done.get("brightness"))

        def remembered_level(name: str | None) -> int | None:
            level = record.section(name).get("brightness")
            if isinstance(level, int):
                return level  # a resumed job starts where it was
            if self._history is None:
                return None
            entry = self._history.lookup(history_key(filter_run(name)))
            return entry.brightness if entry is not None else None

        sequence = SequencePlan(filters=filters or (None,), brightness=job.brightness,
                                dark_count=job.dark_count, window_s=window,
                                open_cover_at_end=job.open_cover_at_end, tint=job.tint,
                                start_tint=shown_tint(self.rig.panel),
                                darks_done=tuple(float(d["exposure_s"]) for d in
                                                 (previous or {}).get("dark_flats") or []))
        panel_facts = self.rig.panel.info if self.rig.panel is not None else None
        if job.sky is not None:
            sky = SkyPlan(dusk=job.sky == "dusk", filters=filters or (None,),
                          throughput=job.throughput, site=job.site)
            procedure = sky_sequence(sky, settings.count, filter_run)
        else:
            procedure = filter_sequence(sequence, panel_facts, filter_run, remembered_level)
        outcomes: list[FilterOutcome | SkyOutcome] = yield from engine.drive(procedure)
        exposures = [o.exposure_s for o in outcomes if o.exposure_s is not None]
        if not exposures:
            raise SessionFailure("no flats were taken")
        # sky flats and several filters have no one exposure: none is reported
        return exposures[-1] if job.sky is None and len(outcomes) == 1 else None


"""``autoflats flats`` with devices: filters, a light panel, dark flats (the whole job)."""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
from collections.abc import Callable

from app.adu import AduScale
from app.history import ExposureHistory
from app.job import (
    MAX_FLAT_EXPOSURE_S,
    FlatJob,
    JobSettings,
    rig_record_fields,
    with_known_throughput,
)
from app.resume import ResumeState, check_same_camera
from app.rig import Rig
from app.settings import FlatSettings, SettingsError
from app.sky_model import Site, SiteError
from drivers.devices import open_devices
from drivers.screen_panel import SCREEN_SPEC


def _brightness(text: str | None) -> int | str | None:
    if text is None:
        return None
    if text.strip().lower() == "auto":
        return "auto"
    try:
        return int(text)
    except ValueError:
        raise SettingsError(f"--brightness must be auto or a whole number, got {text!r}") from None


def _filters(text: str | None) -> tuple[str, ...]:
    if not text:
        return ()
    return tuple(part.strip() for part in text.split(","))


def ask_on_terminal(assume_yes: bool) -> Callable[[str, threading.Event], None]:
    """The question before dark flats without a panel: Enter on a terminal, or --yes."""
    def ask(message: str, cancel: threading.Event) -> None:
        if assume_yes:
            print(f"note: {message} (--yes: not asking)", file=sys.stderr)
            return
        if not sys.stdin or not sys.stdin.isatty():
            raise SettingsError(f"{message}; no terminal to ask on: run again with --yes")
        print(f"{message}, then press Enter (Ctrl-C cancels) ", end="", file=sys.stderr,
              flush=True)
        sys.stdin.readline()
    return ask


SITE_ENV = "AUTOFLATS_SITE"


def _site(args: argparse.Namespace) -> Site | None:
    """--site, else $AUTOFLATS_SITE, else None (the sky's trend alone)."""
    text = args.site if args.site is not None else os.environ.get(SITE_ENV)
    if args.site is not None and args.sky is None:
        raise SettingsError("--site is for sky flats: add --sky dusk or --sky dawn")
    if not text or args.sky is None:
        return None
    try:
        return Site.parse(text)
    except SiteError as error:
        source = "--site" if args.site is not None else f"${SITE_ENV}"
        raise SettingsError(f"{source}: {error}") from None


def is_job_record(record: dict[str, object]) -> bool:
    """Whether a session.json was written by a job (devices, filters or dark flats)."""
    return any(key in record for key in ("filters", "dark_flat_count", "panel", "wheel",
                                         "sky"))


def resume_job_args(args: argparse.Namespace, record: dict[str, object]) -> None:
    """Fill the job's options from its record (what the user gives again wins)."""
    filters = record.get("filters")
    if args.filters is None and isinstance(filters, list):
        args.filters = ",".join(str(f.get("filter")) for f in filters if isinstance(f, dict))
    for option, key in (("panel", "panel"), ("wheel", "wheel")):
        if getattr(args, option) is None and isinstance(record.get(key), str):
            setattr(args, option, record[key])
    if args.panel == SCREEN_SPEC:
        raise SettingsError("this job was lit by the desktop app's screen panel, which the "
                            "command line cannot show: give --panel with another panel, "
                            "or start the job again in the app")
    mode = record.get("brightness_mode")
    if args.brightness is None and mode is not None:
        args.brightness = str(mode)
    darks = record.get("dark_flat_count")
    if not args.dark_flats and isinstance(darks, int):
        args.dark_flats = darks
    longest = record.get("max_flat_exposure_s")
    if args.max_flat_exposure is None and isinstance(longest, int | float):
        args.max_flat_exposure = float(longest)
    sky, site = record.get("sky"), record.get("site")
    if args.sky is None and sky in ("dusk", "dawn"):
        args.sky = sky  # sky flats go on as sky flats
    if args.sky is not None and args.site is None and isinstance(site, dict):
        args.site = ",".join(str(site[k]) for k in ("latitude_deg", "longitude_deg",
                                                    "elevation_m") if site.get(k) is not None)


def run_job_cli(args: argparse.Namespace, settings: FlatSettings, camera_id: str,
                resume: ResumeState | None = None) -> int:
    """Run the job (or continue it); exit codes as ``autoflats flats``."""
    from app.cli.main import follow, outcome  # the one place events are printed

    filters = _filters(args.filters)
    if filters and not args.wheel:
        raise SettingsError("--filters needs --wheel (sim, or zwo for a ZWO EFW)")
    if args.sky and args.panel:
        raise SettingsError("--sky takes flats of the sky: leave out --panel")
    job = JobSettings(
        flats=settings, filters=filters, brightness=_brightness(args.brightness),
        dark_count=args.dark_flats,
        max_flat_exposure_s=args.max_flat_exposure or MAX_FLAT_EXPOSURE_S,
        open_cover_at_end=args.open_cover, sky=args.sky, site=_site(args))
    devices = open_devices(camera_id, panel=args.panel, wheel=args.wheel,
                           sim_config_path=args.sim_config)
    cancel = threading.Event()
    previous = signal.signal(signal.SIGINT, lambda *_: cancel.set())
    previous_term = signal.signal(signal.SIGTERM, lambda *_: cancel.set())
    try:
        with devices:
            history = None if args.no_history else ExposureHistory.default()
            extra = rig_record_fields(args.panel, args.wheel, args.sim_config)
            if resume is not None:
                check_same_camera(resume.record, devices.camera.info)
            rig = Rig(devices.camera, devices.panel, devices.wheel)
            job = with_known_throughput(job, devices.wheel)
            runner = FlatJob(rig, job, cancel=cancel, history=history, camera_id=camera_id,
                             record_extra=extra, ask_user=ask_on_terminal(args.yes),
                             resume=resume)
            runner.check()  # unknown filters, a level off the panel: exit 2, no exposure
            finished = follow(runner.events(), args,
                              AduScale(devices.camera.info.bit_depth))
    finally:
        signal.signal(signal.SIGINT, previous)
        signal.signal(signal.SIGTERM, previous_term)
    return outcome(finished, args, settings.out_dir)

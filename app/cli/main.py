"""The command line: ``autoflats flats``, ``autoflats cameras``.

Progress goes to stderr for people; ``--json`` puts the session summary on stdout.
Errors are one line that says what to change. Exit codes: 0 done, 1 the run
failed, 2 bad input, 130 cancelled.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import os
import shlex
import signal
import sys
import threading
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import NoReturn, TextIO

from app import defaults
from app.adu import AduScale, AduSpace, Target, TargetError, round_adu
from app.events import (
    Event,
    ExposureSolved,
    FinishReason,
    FlatRejected,
    FlatSaved,
    Notice,
    SessionError,
    SessionFinished,
    SessionStarted,
    TestFrame,
)
from app.history import ExposureHistory
from app.plan import check_output_folder, plan_session
from app.resume import (
    check_resume_count,
    check_same_camera,
    load_resume,
    settings_from_record,
)
from app.session import FlatSession
from app.settings import FlatSettings, SettingsError
from drivers.errors import DeviceError
from drivers.registry import list_cameras, open_camera

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_CANCELLED = 0, 1, 2, 130


class UsageError(Exception):
    """Bad command-line input (exit code 2)."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{message} (see '{self.prog} --help')")


def _whole_number(name: str):  # type: ignore[no-untyped-def]
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"{name} must be a whole number, got {text!r}") from None
        return value
    return parse


def _float(name: str):  # type: ignore[no-untyped-def]
    def parse(text: str) -> float:
        try:
            value = float(text.rstrip("%s").strip()) if text.strip() else math.nan
        except ValueError:
            raise argparse.ArgumentTypeError(f"{name} must be a number, got {text!r}") from None
        if not math.isfinite(value):
            raise argparse.ArgumentTypeError(f"{name} must be a finite number, got {text!r}")
        return value
    return parse


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("autoflats")
    except PackageNotFoundError:  # run from a source tree that was never installed
        return "(not installed)"


def build_parser() -> argparse.ArgumentParser:
    """All subcommands and options."""
    parser = _Parser(prog="autoflats", description="Flat frames exposed right, "
                     "on ZWO ASI cameras or the built-in simulator.")
    parser.add_argument("--version", action="version", version=f"autoflats {_version()}")
    sub = parser.add_subparsers(dest="command", parser_class=_Parser)

    flats = sub.add_parser("flats", help="find the flat exposure and capture N flats")
    flats.add_argument("--camera", default=None,
                       help="camera id from 'autoflats cameras' (sim = simulator); "
                       "default: the only connected camera")
    flats.add_argument("--count", type=_whole_number("count"), default=None,
                       help="number of flats to capture (required)")
    flats.add_argument("--out", type=Path, default=None, help="output folder (required)")
    flats.add_argument("--resume", type=Path, default=None, metavar="DIR",
                       help="continue an interrupted session in DIR to its N flats, with "
                       "the same gain, offset and exposure (the level is re-verified first)")
    flats.add_argument("--sim-config", type=Path, default=None,
                       help="simulator parameters (TOML)")
    flats.add_argument("--target", default=f"{defaults.TARGET_PERCENT:g}%",
                       help=f"target mean: {defaults.TARGET_PERCENT:g}%% of full scale "
                       "(default) or an ADU value")
    flats.add_argument("--space", choices=[s.value for s in AduSpace],
                       default=AduSpace.BIT16.value,
                       help="the space a bare-number --target is read in (default 16bit)")
    flats.add_argument("--tolerance", type=_float("tolerance"),
                       default=defaults.TOLERANCE_PERCENT,
                       help="allowed deviation, %% of the target (default "
                       f"{defaults.TOLERANCE_PERCENT:g})")
    flats.add_argument("--gain", type=_whole_number("gain"), default=None,
                       help="camera gain, the same as your lights (default: the camera's)")
    flats.add_argument("--offset", type=_whole_number("offset"), default=None,
                       help="camera offset (black level), the same as your lights "
                       "(default: the camera's)")
    flats.add_argument("--bin", type=_whole_number("bin"), default=1, dest="binning",
                       help="binning, the same as your lights (default 1)")
    flats.add_argument("--per-channel", action="store_true",
                       help="colour sensors: aim the brightest colour channel at the target "
                       "instead of the whole-frame mean")
    flats.add_argument("--lower-target", action="store_true",
                       help="lower the target to the sensor's linear limit when 'autoflats "
                       "linearity' measured one below it")
    flats.add_argument("--filter", default="", dest="filter_name",
                       help="filter name for headers and file names")
    flats.add_argument("--first-exposure", type=_float("first exposure"), default=None,
                       help="first test exposure in seconds (default: automatic)")
    flats.add_argument("--min-exposure", type=_float("min exposure"), default=None,
                       help="shortest flat exposure in s (e.g. 1 for flickering panels)")
    flats.add_argument("--max-exposure", type=_float("max exposure"),
                       default=defaults.MAX_EXPOSURE_S,
                       help="longest flat exposure in s (default 120)")
    flats.add_argument("--no-history", action="store_true",
                       help="ignore the exposure that worked last time (same camera, gain, "
                       "offset, bin, filter and target) and search from scratch")
    flats.add_argument("--filters", default=None, metavar="L,R,G,B,Ha",
                       help="take every listed filter, in wheel order (needs --wheel); "
                       "flats go to DIR/<filter>/")
    flats.add_argument("--wheel", default=None, metavar="sim|zwo[:N]",
                       help="the filter wheel (required with --filters)")
    flats.add_argument("--panel", default=None, metavar="sim|alnitak[:PORT]|pegasus[:PORT]",
                       help="a light panel the app switches, dims and (Flip-Flat) closes")
    flats.add_argument("--brightness", default=None, metavar="auto|LEVEL",
                       help="panel brightness: a level, or auto (per filter, so flats take "
                       "--min-exposure (default 1 s) to --max-flat-exposure)")
    flats.add_argument("--max-flat-exposure", type=_float("max flat exposure"),
                       default=None, help="longest flat wanted in brightness mode "
                       "(default 10 s; narrowband at full brightness may need more)")
    flats.add_argument("--dark-flats", type=_whole_number("dark flats"), default=0,
                       metavar="M", help="M dark flats at each distinct flat exposure, "
                       "the light off (DIR/darkflats/)")
    flats.add_argument("--sky", choices=("dusk", "dawn"), default=None,
                       help="sky flats of the twilight: each frame's exposure predicted "
                       "from a model of the sky (flats of 1 s or more unless --min-exposure)")
    flats.add_argument("--site", default=None, metavar="LAT,LON[,ELEV_M]",
                       help="where the scope is, for --sky (default: $AUTOFLATS_SITE; "
                       "without it the sky's measured trend alone is used)")
    flats.add_argument("--open-cover", action="store_true",
                       help="open the panel's cover again when the job is done")
    flats.add_argument("--yes", action="store_true",
                       help="do not ask to cover the scope by hand before dark flats")
    flats.add_argument("--json", action="store_true",
                       help="also print the session summary (session.json) on stdout")
    flats.add_argument("--quiet", action="store_true", help="no progress on stderr")

    lin = sub.add_parser("linearity", help="measure where the sensor's response stops "
                         "being linear (an exposure ramp on the flat panel) and a safe target")
    lin.add_argument("--camera", default=None, help="camera id (sim = simulator)")
    lin.add_argument("--sim-config", type=Path, default=None, help="simulator parameters (TOML)")
    lin.add_argument("--gain", type=_whole_number("gain"), default=None,
                     help="camera gain, the same as your flats (default: the camera's)")
    lin.add_argument("--offset", type=_whole_number("offset"), default=None,
                     help="camera offset, the same as your flats (default: the camera's)")
    lin.add_argument("--bin", type=_whole_number("bin"), default=1, dest="binning",
                     help="binning (default 1)")
    lin.add_argument("--no-history", action="store_true",
                     help="do not remember the limit for later 'autoflats flats' runs")
    lin.add_argument("--json", action="store_true", help="print the result as JSON on stdout")

    gui = sub.add_parser("gui", help="open the desktop app (the default)")
    gui.add_argument("--camera", default=None, help="preselect this camera id")
    gui.add_argument("--sim-config", type=Path, default=None)
    gui.add_argument("--out", type=Path, default=None, help="output folder")
    gui.add_argument("--count", type=_whole_number("count"), default=None)
    gui.add_argument("--gain", type=_whole_number("gain"), default=None)
    gui.add_argument("--offset", type=_whole_number("offset"), default=None)
    gui.add_argument("--target", default=None, help="50%% or an ADU value")

    doctor = sub.add_parser("doctor", help="check a real-camera setup: SDK, USB, disk")
    doctor.add_argument("--out", type=Path, default=Path("."),
                        help="output folder to check (default: here)")
    doctor.add_argument("--count", type=_whole_number("count"), default=30,
                        help="planned number of flats, for the free-space check")
    doctor.add_argument("--json", action="store_true", help="machine-readable report")

    from app.cli import install_desktop, live

    live.add_parser(sub, _whole_number, _float)
    install_desktop.add_parser(sub)

    cams = sub.add_parser("cameras", help="list cameras with their key properties")
    cams.add_argument("--sim-config", type=Path, default=None)
    cams.add_argument("--json", action="store_true", help="machine-readable listing")
    return parser


def main(argv: Sequence[str] | None = None, *,
         open_gui: Callable[[argparse.Namespace], int] | None = None) -> int:
    """The command line; ``open_gui`` opens the desktop app (given by app.launcher)."""
    args_list = list(sys.argv[1:] if argv is None else argv)
    if not logging.getLogger().handlers:
        quiet = "--quiet" in args_list
        logging.basicConfig(level=logging.ERROR if quiet else logging.WARNING,
                            format="autoflats: %(levelname)s: %(message)s")
    try:
        if not args_list:
            args_list = _default_command()
        args = build_parser().parse_args(args_list)
        if args.command == "cameras":
            return _cameras(args)
        if args.command == "flats":
            return _flats(args)
        if args.command == "linearity":
            from app.cli.linearity import run_linearity

            return run_linearity(args, _choose_camera(args))
        if args.command == "gui":
            if _no_display():
                _err("autoflats: error: no display to open the window on (over SSH? use "
                     "'ssh -X', VNC, or 'autoflats flats' in the terminal)")
                return EXIT_FAILED
            if open_gui is None:
                _err("autoflats: error: the desktop app is started by the 'autoflats' "
                     "command (app.launcher), not by the command line alone")
                return EXIT_FAILED
            return int(open_gui(args))
        if args.command == "live":
            from app.cli.live import run_live_cli

            return run_live_cli(args, _choose_camera(args))
        if args.command == "install-desktop":
            from app.cli.install_desktop import run_install_desktop

            return run_install_desktop(args)
        if args.command == "doctor":
            from app.cli.doctor import run_doctor

            return int(run_doctor(args))
        build_parser().print_help(sys.stderr)
        return EXIT_USAGE
    except UsageError as error:
        _err(f"autoflats: error: {error}")
        return EXIT_USAGE
    except (SettingsError, TargetError, DeviceError) as error:
        # a device that cannot be opened or set up: refused before any exposure
        _err(f"autoflats: error: {error}")
        return EXIT_USAGE
    except KeyboardInterrupt:
        _err("autoflats: cancelled")
        return EXIT_CANCELLED


def _no_display() -> bool:
    """On Linux, Qt aborts the process without a display: say so in one line instead."""
    if not sys.platform.startswith("linux"):
        return False
    return not any(os.environ.get(name) for name in
                   ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM"))


def _default_command() -> list[str]:
    """What plain ``autoflats`` runs: the desktop app when it is installed."""
    import importlib.util

    return ["gui"] if importlib.util.find_spec("app.gui.app") else ["--help"]


def _err(text: str, stream: TextIO | None = None) -> None:
    print(text, file=stream or sys.stderr, flush=True)


def _cameras(args: argparse.Namespace) -> int:
    listing = list_cameras(args.sim_config)
    if args.json:
        print(json.dumps({
            "cameras": [{"id": entry.camera_id, "name": entry.name, "driver": entry.driver,
                         "summary": entry.summary} for entry in listing.cameras],
            "notes": list(listing.notes),
        }, indent=2))
        return EXIT_OK
    width = max(len(entry.camera_id) for entry in listing.cameras)
    for entry in listing.cameras:
        print(f"{entry.camera_id:<{width}}  {entry.name}  ({entry.summary})")
    for note in listing.notes:
        print(f"note: {note}")
    return EXIT_OK


def _settings_from_args(args: argparse.Namespace) -> FlatSettings:
    try:
        target = Target.parse(args.target, AduSpace(args.space))
    except TargetError as error:
        raise SettingsError(str(error)) from None
    return FlatSettings(
        out_dir=args.out,
        count=args.count,
        target=target,
        tolerance_percent=args.tolerance,
        gain=args.gain,
        offset=args.offset,
        binning=args.binning,
        filter_name=args.filter_name,
        first_exposure_s=args.first_exposure,
        min_exposure_s=args.min_exposure,
        max_exposure_s=args.max_exposure,
        per_channel=args.per_channel,
        lower_target_if_nonlinear=args.lower_target,
    )


def _choose_camera(args: argparse.Namespace) -> str:
    if args.camera:
        return str(args.camera)
    real = [c for c in list_cameras(args.sim_config).cameras if c.driver != "sim"]
    if len(real) == 1:
        return real[0].camera_id
    if not real:
        raise UsageError("no camera connected; use --camera sim to run the simulator")
    raise UsageError("several cameras connected; choose one with --camera "
                     f"({', '.join(c.camera_id for c in real)})")


def _flats(args: argparse.Namespace) -> int:
    resume = None
    if args.resume is not None:
        resume = load_resume(args.resume)
        check_resume_count(resume, args.count)
        settings = settings_from_record(resume, args.resume, args.count)
        recorded_id = resume.record.get("camera_id")
        if args.camera is None and isinstance(recorded_id, str):
            args.camera = recorded_id
        recorded_sim = resume.record.get("sim_config")
        if args.sim_config is None and isinstance(recorded_sim, str):
            if not Path(recorded_sim).is_file():
                raise UsageError(f"the session used --sim-config {recorded_sim}, which is "
                                 "gone; give --sim-config again")
            args.sim_config = Path(recorded_sim)
        from app.cli.job import is_job_record, resume_job_args, run_job_cli

        if is_job_record(resume.record):
            resume_job_args(args, resume.record)
            return run_job_cli(args, settings, _choose_camera(args), resume)
    else:
        for option in ("count", "out"):
            if getattr(args, option) is None:
                raise UsageError(f"the following arguments are required: --{option}")
        settings = _settings_from_args(args)
        if _is_job(args):
            from app.cli.job import run_job_cli

            return run_job_cli(args, settings, _choose_camera(args))
    camera_id = _choose_camera(args)
    camera = open_camera(camera_id, sim_config_path=args.sim_config)
    cancel = threading.Event()
    # Ctrl-C and SIGTERM cancel cleanly: the exposure is aborted, written flats kept.
    previous = signal.signal(signal.SIGINT, lambda *_: cancel.set())
    previous_term = signal.signal(signal.SIGTERM, lambda *_: cancel.set())
    try:
        with camera:
            # Bad input is refused before the first exposure, with exit code 2.
            if resume is not None:
                check_same_camera(resume.record, camera.info)
            plan = plan_session(camera, settings)
            done = len(resume.flats) if resume else 0
            check_output_folder(settings.out_dir,
                                max(settings.count - done, 0) * plan.frame_bytes)
            history = None if args.no_history else ExposureHistory.default()
            extra = ({"sim_config": str(args.sim_config.resolve())}
                     if args.sim_config is not None else {})
            session = FlatSession(camera, settings, cancel=cancel, resume=resume,
                                  camera_id=camera_id, history=history, record_extra=extra)
            finished = follow(session.events(), args, AduScale(camera.info.bit_depth))
    finally:
        signal.signal(signal.SIGINT, previous)
        signal.signal(signal.SIGTERM, previous_term)
    return outcome(finished, args, settings.out_dir)


def follow(events: Iterable[Event], args: argparse.Namespace,
           scale: AduScale) -> SessionFinished:
    """Print a run's events for people (unless --quiet); the finish event."""
    finished: SessionFinished | None = None
    for event in events:
        if not args.quiet:
            _print_event(event, scale)
        if isinstance(event, SessionFinished):
            finished = event
    assert finished is not None, "a run always ends with SessionFinished"
    return finished


def outcome(finished: SessionFinished, args: argparse.Namespace, out_dir: Path) -> int:
    """--json's record on stdout, the last word on stderr, and the exit code."""
    if args.json and finished.session_file is not None and finished.session_file.exists():
        sys.stdout.write(finished.session_file.read_text(encoding="utf-8"))
        sys.stdout.flush()
    if finished.reason is FinishReason.COMPLETED:
        return EXIT_OK
    if finished.reason is FinishReason.CANCELLED:
        _err(f"autoflats: cancelled; {finished.kept_text()}; continue with: "
             f"autoflats flats --resume {shlex.quote(str(out_dir))}")
        return EXIT_CANCELLED
    _err(f"autoflats: error: {finished.message}")
    return EXIT_FAILED


def _is_job(args: argparse.Namespace) -> bool:
    """Whether the run needs the job engine (devices, filters or dark flats)."""
    return bool(args.filters or args.wheel or args.panel or args.dark_flats
                or args.brightness is not None or args.sky or args.site)


def _print_event(event: Event, scale: AduScale) -> None:
    if isinstance(event, SessionStarted):
        _err(f"{event.camera.name} ({event.camera.model}), gain {event.gain}, offset "
             f"{event.offset}, bin {event.binning}; target {round_adu(event.target_native)} "
             f"native ({event.camera.bit_depth}-bit) = {round_adu(event.target_16bit)} 16-bit "
             f"± {round_adu(event.tolerance_native)} native; {event.count} flats -> "
             f"{event.out_dir}")
    elif isinstance(event, TestFrame):
        nxt = f"; next {event.next_exposure_s:.6g} s" if event.next_exposure_s else ""
        clipped = (f", {event.stats.clipped_fraction:.1%} clipped"
                   if event.stats.clipped_fraction > 0.001 else "")
        _err(f"test {event.index}: {event.exposure_s:.6g} s -> mean "
             f"{event.stats.mean_native:.1f} native / {round_adu(event.stats.mean_16bit)} 16-bit"
             f"{clipped}{nxt}")
    elif isinstance(event, ExposureSolved):
        after = (f"after {event.test_frames} test frame{'s' if event.test_frames != 1 else ''}"
                 " + the accepted one" if event.test_frames else "on the first frame")
        _err(f"exposure found: {event.exposure_s:.6g} s (mean {event.mean_native:.1f} native"
             f" / {round_adu(event.mean_16bit)} 16-bit) {after}")
    elif isinstance(event, FlatSaved):
        kind = "dark flat" if event.image_type == "DARK" else "flat"
        total = f"/{event.count}" if event.image_type != "DARK" else ""
        _err(f"{kind} {event.index}{total}: {event.path.name} (mean "
             f"{event.mean_native:.1f} native)")
    elif isinstance(event, FlatRejected):
        _err(f"dropped: {event.reason}")
    elif isinstance(event, Notice):
        _err(f"note: {event.message}")
    elif isinstance(event, SessionError):
        pass  # reported once at the end
    elif isinstance(event, SessionFinished) and event.reason is FinishReason.COMPLETED:
        darks = event.dark_files
        at = f" at {event.exposure_s:.6g} s" if event.exposure_s is not None and not darks else ""
        where = f"; record in {event.session_file}" if event.session_file else ""
        _err(f"done: {event.files_text()}{at}{where}")
        if event.exposure_s is not None and not darks:
            _err(f"next: dark flats of {event.exposure_s:.6g} s at the same gain and offset "
                 "(or a bias), at the sensor temperature of the flats")

"""``autoflats live``: loop exposures without saving, one line per frame on stdout.

At a fixed ``--exposure`` or, without it, steering toward ``--target`` the way the
flat search does; ``--frames N`` stops after N frames, else Ctrl-C (or SIGTERM)
aborts the exposure and ends the loop.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from pathlib import Path
from typing import Any

from app.adu import AduScale, AduSpace, Target, TargetError, round_adu
from app.live import LiveSettings, run_live
from app.settings import SettingsError
from drivers.registry import open_camera


def add_parser(sub: Any, whole_number: Any, number: Any) -> None:
    """The ``live`` subcommand (``sub`` is build_parser's subparsers)."""
    live = sub.add_parser("live", help="loop exposures without saving: exposure, mean "
                          "(native and 16-bit) and clipping of every frame")
    live.add_argument("--camera", default=None, help="camera id (sim = simulator)")
    live.add_argument("--sim-config", type=Path, default=None, help="simulator parameters")
    live.add_argument("--exposure", type=number("exposure"), default=None, metavar="S",
                      help="fixed exposure in s (default: steer toward --target)")
    live.add_argument("--frames", type=whole_number("frames"), default=None, metavar="N",
                      help="stop after N frames (default: until Ctrl-C)")
    live.add_argument("--target", default="50%",
                      help="what the exposure steers toward: 50%% (default) or an ADU value")
    live.add_argument("--space", choices=[s.value for s in AduSpace],
                      default=AduSpace.BIT16.value, help="the space of a bare-number --target")
    live.add_argument("--tolerance", type=number("tolerance"), default=5.0,
                      help="%% of the target counted as on target (default 5)")
    live.add_argument("--gain", type=whole_number("gain"), default=None)
    live.add_argument("--offset", type=whole_number("offset"), default=None)
    live.add_argument("--bin", type=whole_number("bin"), default=1, dest="binning")
    live.add_argument("--max-exposure", type=number("max exposure"), default=120.0,
                      help="longest exposure the steering may use (default 120 s)")


def run_live_cli(args: argparse.Namespace, camera_id: str) -> int:
    """Print one line per frame on stdout; 0 when done, 130 when stopped by Ctrl-C."""
    if args.exposure is not None and args.exposure <= 0:
        raise SettingsError(f"exposure must be above 0 s, got {args.exposure:g}")
    if args.frames is not None and args.frames < 1:
        raise SettingsError(f"frames must be at least 1, got {args.frames}")
    try:
        target = Target.parse(args.target, AduSpace(args.space))
    except TargetError as error:
        raise SettingsError(str(error)) from None
    with open_camera(camera_id, sim_config_path=args.sim_config) as camera:
        scale = AduScale(camera.info.bit_depth)
        name = camera.info.name
    target_native = target.native(scale)
    settings = LiveSettings(
        exposure_s=args.exposure, target_native=target_native,
        tolerance_native=target_native * args.tolerance / 100, gain=args.gain,
        offset=args.offset, binning=args.binning, max_exposure_s=args.max_exposure,
        frames=args.frames)
    how = (f"at {args.exposure:g} s" if args.exposure is not None else
           f"steering toward {round_adu(target_native)} native = "
           f"{round_adu(scale.to_16bit(target_native))} 16-bit")
    print(f"live view on {name}, {how}; nothing is saved (Ctrl-C stops)",
          file=sys.stderr, flush=True)
    cancel = threading.Event()
    previous = signal.signal(signal.SIGINT, lambda *_: cancel.set())
    previous_term = signal.signal(signal.SIGTERM, lambda *_: cancel.set())
    count = 0
    try:
        for frame in run_live(camera_id, settings, cancel, args.sim_config):
            count += 1
            print(frame.describe(), flush=True)
    finally:
        signal.signal(signal.SIGINT, previous)
        signal.signal(signal.SIGTERM, previous_term)
    if cancel.is_set():
        print(f"autoflats: live view stopped after {count} frame(s)", file=sys.stderr,
              flush=True)
        return 130
    return 0

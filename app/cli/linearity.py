"""``autoflats linearity``: the exposure ramp from the command line."""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading

from app.adu import AduScale
from app.history import ExposureHistory, linearity_key
from app.linearity import LinearityError, RampPoint, measure_linearity
from drivers.errors import CameraError
from drivers.registry import open_camera


def run_linearity(args: argparse.Namespace, camera_id: str) -> int:
    """Run the ramp; 0 done, 1 the ramp failed (bad input raises for exit code 2)."""
    camera = open_camera(camera_id, sim_config_path=args.sim_config)
    cancel = threading.Event()
    previous = signal.signal(signal.SIGINT, lambda *_: cancel.set())
    try:
        with camera:
            if args.gain is not None:
                camera.set_gain(args.gain)
            if args.offset is not None:
                camera.set_offset(args.offset)
            camera.set_binning(args.binning)
            scale = AduScale(camera.info.bit_depth)
            full16 = scale.to_16bit(scale.full_scale_native)

            def show(point: RampPoint) -> None:
                print(f"  {point.exposure_s:10.6g} s  mean {point.mean_16bit:8.0f} 16-bit "
                      f"({100 * point.mean_16bit / full16:5.1f} %)", file=sys.stderr)

            print(f"{camera.info.name}: exposure ramp at gain {camera.gain}, offset "
                  f"{camera.offset}, bin {camera.binning}", file=sys.stderr)
            try:
                result = measure_linearity(camera, cancel=cancel, on_point=show)
            except (LinearityError, CameraError) as error:
                print(f"autoflats: error: {error}", file=sys.stderr)
                return 1
            if not args.no_history:
                ExposureHistory.default().remember_linear_limit(
                    linearity_key(camera.info, camera.gain, camera.offset, camera.binning),
                    result.linear_limit_native)
    finally:
        signal.signal(signal.SIGINT, previous)
    limit16 = scale.to_16bit(result.linear_limit_native)
    print(f"linear within 1 % up to {result.linear_limit_percent:.1f} % of full scale "
          f"({limit16:.0f} 16-bit); safe flat target: --target "
          f"{result.safe_target_percent:.0f}%", file=sys.stderr)
    if args.json:
        print(json.dumps({
            "linear_limit_percent": round(result.linear_limit_percent, 2),
            "linear_limit_16bit": round(limit16, 1),
            "safe_target_percent": round(result.safe_target_percent, 1),
            "bias_16bit": round(scale.to_16bit(result.bias_native), 1),
            "points": [{"exposure_s": p.exposure_s, "mean_16bit": round(p.mean_16bit, 3)}
                       for p in result.points],
        }, indent=2))
    return 0

"""``python -m bench.capture``: wall-time overhead and peak memory of a real-time flat run.

A FlatSession (the product's own path: search, then flats written to FITS by the
writer thread) runs on a simulated 61 MP camera (ASI6200-like, 16-bit mono,
``--size`` for a quicker run) with ``time_scale=1.0``: exposures and readout take
real time. The light is set so the right exposure is ``--exposure`` (1 s).

* ``overhead_ratio`` = wall time of a ``--flats`` (30) flat session ÷ Σ (exposure +
  simulated readout) over every frame it took (test frames, flats and rejected
  flats), less the time reads waited for a simulator render still running after the
  simulated readout (the simulator renders during the exposure on the host CPU; a
  late render is the simulator being slower than a camera, reported apart as
  ``late_render_s`` with the ``raw_ratio``). 1.0 = no time lost beyond what the
  camera needs. The simulated camera's clock follows the wall clock (as a real
  camera exposes while the host works), so the program's own work counts exactly
  as far as it does not overlap an exposure: the flats' statistics, preview, events
  and FITS write overlap the next flat's exposure, the search's analysis does not.
* ``peak_rss_frames`` = (peak RSS during a ``--memory-flats`` (50) flat session − RSS
  just before it) ÷ bytes of one frame. Peak RSS is VmHWM from /proc/self/status,
  reset before the run by writing 5 to /proc/self/clear_refs (Linux); where that is
  impossible, ru_maxrss from resource.getrusage (a lifetime peak, so an upper bound).
  The simulator's fixed pattern (float32, 2 frames) is built before the baseline;
  its per-frame render temporaries count.

Flats are deleted as soon as they are saved (disk space); writing them still counts.
"""

from __future__ import annotations

import argparse
import resource
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from app.events import FlatCaptured, FlatRejected, FlatSaved, SessionFinished, TestFrame
from app.session import FlatSession
from app.settings import FlatSettings
from app.stats import warm_up
from bench.common import FULL_SIZE, emit, load_average, parse_size, say
from bench.grid import Scenario, make_camera
from drivers.simulator import SimulatedCamera


@dataclass(frozen=True, slots=True)
class RunFigures:
    """One session's figures."""

    flats: int
    frames: int
    wall_s: float
    camera_s: float
    render_wait_s: float
    finished: str
    peak_rss_bytes: int
    rss_before_bytes: int
    hwm_source: str


def _status_kib(field: str) -> int | None:
    try:
        for line in Path("/proc/self/status").read_text(encoding="ascii").splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


def _reset_peak() -> bool:
    try:
        Path("/proc/self/clear_refs").write_text("5", encoding="ascii")
    except OSError:
        return False
    return True


def make_realtime_camera(width: int, height: int, exposure_s: float) -> SimulatedCamera:
    """An open ASI6200-like mono camera in real time whose right exposure is ``exposure_s``."""
    instant = make_camera(Scenario(exposure_s, 16, False, 0.01), width, height)
    config = replace(instant.config, time_scale=1.0)
    gain = instant.gain
    instant.close()
    camera = SimulatedCamera(config)
    camera.open()
    camera.set_gain(gain)
    camera.true_mean_native(exposure_s)  # builds the simulator's fixed-pattern cache
    return camera


def run_session(camera: SimulatedCamera, flats: int) -> RunFigures:
    """A ``flats``-flat session; its wall time, camera time and peak memory."""
    rss_before = (_status_kib("VmRSS") or 0) * 1024
    reset = _reset_peak()
    frames = 0
    camera_s = 0.0
    captured = 0
    finished = "?"
    waited_before = camera.render_wait_s
    with tempfile.TemporaryDirectory(prefix="autoflats-bench-capture-") as tmp:
        settings = FlatSettings(out_dir=Path(tmp), count=flats)
        started = time.perf_counter()
        for event in FlatSession(camera, settings).events():
            if isinstance(event, TestFrame | FlatCaptured | FlatRejected):
                frames += 1
                camera_s += event.exposure_s + camera.readout_s
                captured += isinstance(event, FlatCaptured)
            elif isinstance(event, FlatSaved):
                event.path.unlink(missing_ok=True)
            elif isinstance(event, SessionFinished):
                finished = event.reason.value
        wall_s = time.perf_counter() - started
    hwm = _status_kib("VmHWM") if reset else None
    if hwm is not None:
        peak, source = hwm * 1024, "VmHWM"
    else:
        peak, source = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024, "ru_maxrss"
    return RunFigures(captured, frames, wall_s, camera_s,
                      camera.render_wait_s - waited_before, finished, peak, rss_before, source)


def main(argv: Sequence[str] | None = None) -> int:
    """Both sessions; table on stderr, pinned JSON on stdout."""
    parser = argparse.ArgumentParser(prog="python -m bench.capture", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--json", action="store_true", help="print the pinned JSON")
    parser.add_argument("--size", default="x".join(map(str, FULL_SIZE)),
                        help="frame WxH (default the 61 MP 9576x6388)")
    parser.add_argument("--flats", type=int, default=30, help="flats of the timed session")
    parser.add_argument("--memory-flats", type=int, default=50,
                        help="flats of the memory session (0: measure the timed one)")
    parser.add_argument("--exposure", type=float, default=1.0, help="the right exposure, s")
    args = parser.parse_args(argv)
    width, height = parse_size(args.size)
    warm_up(wait=True)  # compiled kernels, as on any machine after the first session
    camera = make_realtime_camera(width, height, args.exposure)
    frame_bytes = 2 * width * height
    try:
        timed = run_session(camera, max(1, args.flats))
        memory = run_session(camera, args.memory_flats) if args.memory_flats > 0 else timed
    finally:
        camera.close()
    # The simulator renders on this machine's CPU; a render still running when the
    # simulated readout ends is the simulator being slower than a camera, not the
    # program's overhead (a real camera's frame is there): it is counted apart.
    program_s = timed.wall_s - timed.render_wait_s
    overhead = program_s / timed.camera_s if timed.camera_s else float("nan")
    raw = timed.wall_s / timed.camera_s if timed.camera_s else float("nan")
    peak_frames = (memory.peak_rss_bytes - memory.rss_before_bytes) / frame_bytes
    say(f"real-time flat sessions on a simulated {width}x{height} 16-bit mono camera "
        f"(right exposure {args.exposure:g} s, readout {camera.readout_s:.2f} s); "
        f"{load_average()}")
    say(f"{'session':<10}{'flats':>6}{'frames':>7}{'wall s':>9}{'camera s':>10}"
        f"{'peak-before MB':>16}  finished")
    for name, run in (("timed", timed), ("memory", memory)):
        say(f"{name:<10}{run.flats:>6}{run.frames:>7}{run.wall_s:>9.1f}{run.camera_s:>10.1f}"
            f"{(run.peak_rss_bytes - run.rss_before_bytes) / 1e6:>16.0f}  {run.finished}")
    say(f"overhead ratio ((wall - late simulator renders) / (exposure + readout)) "
        f"{overhead:.3f}; raw wall / (exposure + readout) {raw:.2f}, of which the simulator's "
        f"late renders {timed.render_wait_s:.1f} s; peak RSS above the start "
        f"{peak_frames:.1f} frames of {frame_bytes / 1e6:.0f} MB ({memory.hwm_source})")
    emit({"overhead_ratio": round(overhead, 3), "peak_rss_frames": round(peak_frames, 2),
          "raw_ratio": round(raw, 3), "late_render_s": round(timed.render_wait_s, 2)},
         args.json)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

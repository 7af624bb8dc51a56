"""Live view without Qt: expose again and again, save nothing, report every frame.

:func:`live_frames` loops exposures on an open camera, at a fixed exposure or
steering itself toward the target with the flat search's solver, and yields one
:class:`LiveFrame` (statistics, display histogram, a small preview) per frame.
:func:`run_live` opens the camera, runs the loop and closes the camera, so one
thread owns the camera from start to end; the window runs it through superqt's
``create_worker``, the terminal (``autoflats live``) iterates it directly.
Setting ``cancel`` aborts the running exposure and ends the loop.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from dataclasses import dataclass, replace

from app.adu import AduScale, round_adu
from app.solver import ExposureSolver, SolverConfig, Verdict
from app.stats import (
    Frame,
    FrameStats,
    Histogram,
    frame_stats,
    histogram,
    preview,
    shot_noise_signal_native,
)
from drivers.base import Camera
from drivers.errors import ExposureAbortedError
from drivers.registry import open_camera

SimPath = str | os.PathLike[str] | None


@dataclass(frozen=True, slots=True)
class LiveSettings:
    """What the live loop does.

    ``exposure_s`` fixes the exposure; None steers toward ``target_native`` (within
    ``tolerance_native``). ``frames`` stops after that many frames (None: until
    cancelled). None for gain, offset keeps the camera's.
    """

    exposure_s: float | None = None
    target_native: float | None = None
    tolerance_native: float | None = None
    gain: int | None = None
    offset: int | None = None
    binning: int = 1
    min_exposure_s: float | None = None
    max_exposure_s: float = 120.0
    frames: int | None = None

    def __post_init__(self) -> None:
        """Refuse a loop that cannot run."""
        if self.exposure_s is not None and not self.exposure_s > 0:
            raise ValueError(f"exposure must be above 0 s, got {self.exposure_s:g}")
        if self.frames is not None and self.frames < 1:
            raise ValueError(f"frames must be at least 1, got {self.frames}")


@dataclass(frozen=True, slots=True)
class LiveFrame:
    """One live frame: what it was exposed at and what it shows (nothing is saved)."""

    index: int
    exposure_s: float
    stats: FrameStats
    histogram: Histogram
    preview: Frame
    bit_depth: int
    #: the exposure the next frame is taken at
    next_exposure_s: float
    #: why the exposure changes, or why it cannot reach the target ('' when steady)
    note: str = ""

    def describe(self) -> str:
        """One line: exposure, mean native/16-bit, clipped share, per channel for colour."""
        s = self.stats
        line = (f"frame {self.index}: {self.exposure_s:.6g} s  mean "
                f"{round_adu(s.mean_native)} native / {round_adu(s.mean_16bit)} 16-bit  "
                f"clipped {s.clipped_fraction:.2%}")
        if s.channel_means_native:
            scale = AduScale(self.bit_depth)
            parts = [f"{ch} {round_adu(m)}/{round_adu(scale.to_16bit(m))}"
                     f" ({s.channel_clipped_fraction.get(ch, 0.0):.1%} clipped)"
                     for ch, m in s.channel_means_native.items()]
            line += "  [" + ", ".join(parts) + "]"
        if abs(self.next_exposure_s - self.exposure_s) > 1e-12 * self.exposure_s:
            line += f"  next {self.next_exposure_s:.6g} s"
        if self.note:
            line += f"  ({self.note})"
        return line


class _Steering:
    """The next exposure toward the target: keep it while in tolerance, else search."""

    def __init__(self, camera: Camera, settings: LiveSettings, scale: AduScale) -> None:
        assert settings.target_native is not None
        limits = camera.controls.exposure_s
        low = max(limits.minimum, settings.min_exposure_s or 0.0)
        tolerance = settings.tolerance_native or 0.05 * settings.target_native
        self._base = SolverConfig(
            target_native=settings.target_native, tolerance_native=tolerance,
            full_scale_native=scale.full_scale_native, min_exposure_s=low,
            max_exposure_s=max(low, min(limits.maximum, settings.max_exposure_s)),
            e_per_adu_native=camera.reported_e_per_adu(), max_frames=12)
        self._solver: ExposureSolver | None = None

    def first(self) -> float:
        return ExposureSolver(self._base).first_exposure()

    def next(self, exposure_s: float, stats: FrameStats, shot: float | None) -> tuple[float, str]:
        if self._solver is None:
            self._solver = ExposureSolver(replace(self._base, first_exposure_s=exposure_s))
        step = self._solver.observe(exposure_s, stats.mean_native, stats.clipped_fraction, shot)
        if step.verdict is Verdict.NEXT:
            return step.exposure_s, ""
        self._solver = None  # on target, or out of reach: start afresh next time
        if step.verdict is Verdict.ACCEPT:
            return exposure_s, ""
        return exposure_s, step.reason


def live_frames(camera: Camera, settings: LiveSettings,
                cancel: threading.Event | None = None) -> Iterator[LiveFrame]:
    """Loop exposures on the open ``camera``; one LiveFrame per frame, until cancelled.

    The camera's gain, offset and binning are set first. A fixed exposure stays
    fixed; otherwise each frame steers the next toward the target.
    """
    cancel = cancel or threading.Event()
    if settings.gain is not None:
        camera.set_gain(settings.gain)
    if settings.offset is not None:
        camera.set_offset(settings.offset)
    camera.set_binning(settings.binning)
    info = camera.info
    scale = AduScale(info.bit_depth)
    steering = None
    if settings.exposure_s is None:
        if settings.target_native is None:
            raise ValueError("give an exposure or a target to steer toward")
        steering = _Steering(camera, settings, scale)
        exposure = steering.first()
    else:
        exposure = camera.clamp_exposure(settings.exposure_s)
    e_per_adu = camera.reported_e_per_adu()
    index = 0
    while not cancel.is_set() and (settings.frames is None or index < settings.frames):
        try:
            capture = camera.capture(exposure, cancel=cancel)
        except ExposureAbortedError:
            return
        index += 1
        frame = capture.frame
        stats = frame_stats(frame, scale, info.bayer_pattern)
        next_s, note = capture.exposure_s, ""
        if steering is not None:
            shot = (shot_noise_signal_native(frame, scale, e_per_adu, info.bayer_pattern)
                    if e_per_adu else None)
            next_s, note = steering.next(capture.exposure_s, stats, shot)
        yield LiveFrame(index, capture.exposure_s, stats,
                        histogram(frame, info.bayer_pattern),
                        preview(frame, info.bayer_pattern), info.bit_depth, next_s, note)
        exposure = next_s


def run_live(camera_id: str, settings: LiveSettings, cancel: threading.Event | None = None,
             sim_config_path: SimPath = None) -> Iterator[LiveFrame]:
    """Open ``camera_id``, loop :func:`live_frames`, close the camera (aborting any exposure).

    The camera is opened when iteration starts, on the iterating thread.
    """
    camera = open_camera(camera_id, sim_config_path=sim_config_path)
    camera.open()
    try:
        yield from live_frames(camera, settings, cancel)
    finally:
        camera.close()

"""What runs off the GUI thread: camera probing and the flat session.

Both are plain functions/generators (no Qt here) that superqt's ``create_worker``
runs on a pool thread. One thread owns a camera: each job opens the camera, uses it
and closes it before it ends. The session generator also reduces what the window
draws (display levels for the preview), so the GUI thread only copies pixels.
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from app.events import Event, FinishReason, FlatCaptured, SessionError, SessionFinished, TestFrame
from app.history import ExposureHistory
from app.session import FlatSession
from app.settings import FlatSettings
from app.stats import Frame
from drivers.base import CameraControls, CameraInfo
from drivers.errors import CameraError
from drivers.registry import open_camera

SimPath = str | os.PathLike[str] | None


@dataclass(frozen=True, slots=True)
class CameraFacts:
    """What the window shows about a camera, read once on a worker thread.

    It carries ``info``, ``controls``, ``gain`` and ``offset`` like a camera does, so
    :func:`app.plan.plan_session` can check settings against it before a run.
    """

    camera_id: str
    info: CameraInfo
    controls: CameraControls
    gain: int
    offset: int
    temperature_c: float | None
    cooler_on: bool
    set_point_c: float | None
    #: the gains the camera accepts when it lists them (a DSLR's ISOs), else None
    gain_choices: tuple[int, ...] | None = None


@dataclass(frozen=True, slots=True)
class DisplayFrame:
    """A session event that carries a frame, with display levels worked out here."""

    event: TestFrame | FlatCaptured
    levels: tuple[float, float]
    image: npt.NDArray[np.uint8]


def probe_camera(camera_id: str, sim_config_path: SimPath = None) -> CameraFacts:
    """Open ``camera_id``, read its facts and close it again."""
    camera = open_camera(camera_id, sim_config_path=sim_config_path)
    with camera:
        try:
            temperature = camera.temperature_c()
        except CameraError:
            temperature = None
        cooler_on, set_point = camera.cooler_state()
        choices = getattr(camera, "iso_choices", None)  # DSLRs: the ISOs the body lists
        return CameraFacts(camera_id, camera.info, camera.controls, camera.gain,
                           camera.offset, temperature, cooler_on, set_point,
                           tuple(int(c) for c in choices) if choices else None)


def display_levels(preview: Frame) -> tuple[float, float]:
    """Black and white points that stretch a flat for the eye (0.5 / 99.5 percentiles)."""
    sample = preview[::2, ::2] if preview.size > 250_000 else preview
    low, high = np.percentile(sample, [0.5, 99.5])
    if high <= low:
        high = low + 1.0
    return float(low), float(high)


def stretch(preview: Frame, levels: tuple[float, float]) -> npt.NDArray[np.uint8]:
    """The preview as 8-bit grey between ``levels``: the GUI thread draws it as is."""
    low, high = levels
    scaled = (preview.astype(np.float32) - np.float32(low)) * np.float32(255.0 / (high - low))
    np.clip(scaled, 0, 255, out=scaled)
    return scaled.astype(np.uint8)


def display_frame(event: TestFrame | FlatCaptured) -> DisplayFrame:
    """The event with its preview stretched for display."""
    levels = display_levels(event.preview)
    return DisplayFrame(event, levels, stretch(event.preview, levels))


def lower_thread_priority(niceness: int = 10) -> None:
    """Make the calling thread yield the CPU to the GUI thread (Linux; elsewhere no-op).

    On Linux setpriority() on a thread id changes that thread only. The session's
    number crunching (statistics, previews, the simulator) then never starves the
    event loop on a busy 2-core machine.
    """
    if not sys.platform.startswith("linux"):
        return
    with contextlib.suppress(OSError, AttributeError):
        tid = threading.get_native_id()
        os.setpriority(os.PRIO_PROCESS, tid, max(os.getpriority(os.PRIO_PROCESS, tid),
                                                 niceness))


def run_session(
    camera_id: str,
    settings: FlatSettings,
    cancel: threading.Event,
    sim_config_path: SimPath = None,
    use_history: bool = True,
) -> Iterator[Event | DisplayFrame]:
    """Open the camera, run the session, close the camera; yield what the window shows.

    Frame events come wrapped in :class:`DisplayFrame`. The last item is always a
    :class:`SessionFinished`, also when the camera cannot be opened.
    """
    lower_thread_priority()  # the window's thread comes first on a 2-core mini-PC
    try:
        camera = open_camera(camera_id, sim_config_path=sim_config_path)
        camera.open()
    except (CameraError, OSError, ValueError) as error:
        message = f"could not open camera {camera_id!r}: {error}; check the cable and power"
        yield SessionError(message)
        yield SessionFinished(FinishReason.FAILED, message, None, (), None)
        return
    try:
        history = ExposureHistory.default() if use_history else None
        session = FlatSession(camera, settings, cancel=cancel, camera_id=camera_id,
                              history=history)
        for event in session.events():
            if isinstance(event, TestFrame | FlatCaptured):
                yield display_frame(event)
            else:
                yield event
    finally:
        camera.close()  # aborts any exposure: the camera is left idle


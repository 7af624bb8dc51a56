"""The whole flats job off the GUI thread: open the rig, run :class:`app.job.FlatJob`,
close the rig, and yield what the window shows (no Qt here).

Besides the job's events (frames wrapped in :class:`~app.gui.worker.DisplayFrame`)
the generator yields :class:`FilterRows` (each filter's line of the table, read from
the session record) and :class:`RigStatus` (the panel's light and cover), both only
when they changed, and in sky flats :class:`SkyFrames` (each new frame's predicted and
measured level, from the record's ``sky_frames``). The "cover the scope by hand"
question arrives through ``ask_user``, called on this thread; the window answers it
(see app.gui.question).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from app.engine import one_line
from app.events import (
    Event,
    ExposureSolved,
    FinishReason,
    FlatCaptured,
    FlatRejected,
    FlatSaved,
    Notice,
    SessionError,
    SessionFinished,
    SessionStarted,
    TestFrame,
)
from app.gui.worker import DisplayFrame, SimPath, display_frame, lower_thread_priority
from app.history import ExposureHistory
from app.job import FlatJob, JobSettings, rig_record_fields, with_known_throughput
from app.record import SessionRecord
from app.rig import Rig
from app.settings import SettingsError
from drivers.devices import Devices, open_devices
from drivers.efw import ID_PREFIX
from drivers.errors import DeviceError
from drivers.panel import CoverState, LightPanel
from drivers.panel_registry import list_panels
from drivers.screen_panel import SCREEN_SPEC, ScreenPanel
from drivers.sim_rig import ScreenLight, load_rig_tables
from drivers.simulator import SimulatedCamera
from drivers.wheel_registry import list_wheels, open_wheel
from drivers.wheel_sim import SimulatedWheel

#: how often the panel's state is read between events at most, s
RIG_READ_INTERVAL_S = 0.5
#: how bright the simulator sees a screen at full level, e-/s/pixel (a sim camera only)
SCREEN_SIM_FLUX_E_S = 20000.0
#: the screen's gamma as the simulator sees it
SCREEN_SIM_GAMMA = 2.2

AskUser = Callable[[str, threading.Event], None]


@dataclass(frozen=True, slots=True)
class JobRequest:
    """What the window asks the worker to run."""

    camera_id: str
    job: JobSettings
    panel: str | None = None
    wheel: str | None = None
    sim_config_path: SimPath = None
    use_history: bool = True
    #: the screen panel object (made on the GUI thread) when ``panel`` is "screen"
    screen: ScreenPanel | None = None


@dataclass(frozen=True, slots=True)
class FilterRow:
    """One filter's line of the table."""

    name: str
    status: str
    exposure_s: float | None
    brightness: int | None
    flats: int


@dataclass(frozen=True, slots=True)
class FilterRows:
    """Every filter's line, plus the dark flats written."""

    rows: tuple[FilterRow, ...]
    dark_flats: int


@dataclass(frozen=True, slots=True)
class SkyFrame:
    """One frame of the sky: its exposure, the level the model predicted and measured."""

    filter: str | None
    exposure_s: float
    predicted_native: float | None
    measured_native: float
    kept: bool
    probe: bool = False
    clipped: bool = False

    def line(self) -> str:
        """The log's line for it."""
        name = f"sky {self.filter}" if self.filter else "sky"
        predicted = ("—" if self.predicted_native is None
                     else f"{self.predicted_native:.1f}")
        verdict = ("kept" if self.kept else "probe" if self.probe
                   else "clipped" if self.clipped else "dropped")
        return (f"{name}: {self.exposure_s:.4g} s, predicted {predicted}, measured "
                f"{self.measured_native:.1f} native ({verdict})")


@dataclass(frozen=True, slots=True)
class SkyFrames:
    """The sky frames recorded since the last such item."""

    frames: tuple[SkyFrame, ...]

    def lines(self) -> list[str]:
        """One log line per frame."""
        return [frame.line() for frame in self.frames]


def new_sky_frames(record: SessionRecord, seen: dict[str | None, int]) -> SkyFrames | None:
    """The sky frames the record holds beyond ``seen`` (per filter; updated), or None."""
    data = record.snapshot()
    sections: list[tuple[str | None, dict[str, Any]]] = (
        [(str(s.get("filter")), s) for s in data["filters"]] if data.get("filters")
        else [(None, data)])
    frames: list[SkyFrame] = []
    for name, section in sections:
        recorded = section.get("sky_frames") or []
        for frame in recorded[seen.get(name, 0):]:
            frames.append(SkyFrame(name, float(frame["exposure_s"]),
                                   frame.get("predicted_native"),
                                   float(frame["measured_native"]), bool(frame.get("kept")),
                                   bool(frame.get("probe")), bool(frame.get("clipped"))))
        seen[name] = len(recorded)
    return SkyFrames(tuple(frames)) if frames else None


@dataclass(frozen=True, slots=True)
class RigStatus:
    """The panel's state as one short text ("light on, level 120 · cover closed")."""

    text: str


def filter_rows(record: SessionRecord, one_filter_name: str) -> FilterRows:
    """The table's lines from the record (a one-filter job is one line)."""
    data = record.snapshot()
    sections: list[dict[str, Any]] = data.get("filters") or [
        dict(data, filter=one_filter_name or "(no filter)")]
    rows = tuple(FilterRow(str(s.get("filter")), str(s.get("status")), s.get("exposure_s"),
                           s.get("brightness"), len(s.get("flats") or ()))
                 for s in sections)
    return FilterRows(rows, len(data.get("dark_flats") or ()))


#: the lighting procedure's notices just before it moves the cover (it then waits)
COVER_MOVE_NOTICES = ("closing the panel", "opening the cover")


def describe_panel(panel: LightPanel | None, *, cover_moving: bool = False) -> str:
    """The panel's light and cover in a few words (reads the cover on this thread)."""
    if panel is None:
        return "no panel: cover the scope by hand for dark flats"
    parts = []
    if panel.info.has_light:
        parts.append(f"light on, level {panel.brightness}" if panel.light_is_on
                     else "light off")
    if panel.info.has_cover and cover_moving:
        parts.append("cover moving")
    elif panel.info.has_cover:
        try:
            state = panel.cover_state()
        except DeviceError as error:
            parts.append(f"cover unknown ({error})")
        else:
            parts.append(f"cover {state.value}" if state is not CoverState.NONE else "")
    return f"{panel.info.name}: " + " · ".join(p for p in parts if p)


@dataclass(frozen=True, slots=True)
class RigListing:
    """Panels and wheels found, as (spec, label), plus one-line notes."""

    panels: tuple[tuple[str, str], ...]
    wheels: tuple[tuple[str, str], ...]
    notes: tuple[str, ...]


def list_rig(sim_config_path: SimPath = None) -> RigListing:
    """Panels on USB serial ports and filter wheels (the SDK may be slow: a worker)."""
    notes: list[str] = []
    try:
        panels = tuple(list_panels())
    except (OSError, ValueError) as error:
        panels = ()
        notes.append(f"could not list serial ports: {error}")
    _, wheel_config = load_rig_tables(sim_config_path)
    listing = list_wheels(sim_config=wheel_config)
    wheels = tuple((entry.wheel_id.replace(ID_PREFIX, "zwo:"), entry.name)
                   for entry in listing.wheels if entry.driver != "sim")
    return RigListing(panels, wheels, tuple(notes) + listing.notes)


def wheel_filter_names(spec: str, sim_config_path: SimPath = None) -> tuple[str, ...]:
    """Open the wheel ``spec``, read its filter names, close it."""
    _, wheel_config = load_rig_tables(sim_config_path)
    with open_wheel(spec, sim_config=wheel_config) as wheel:
        return tuple(wheel.filter_names)


def open_rig(request: JobRequest) -> Devices:
    """The rig's devices, not yet opened (the screen stands in for a panel spec)."""
    screen = request.panel == SCREEN_SPEC
    if screen and request.screen is None:
        raise SettingsError("the screen panel has no window; choose the screen again")
    devices = open_devices(request.camera_id, panel=None if screen else request.panel,
                           wheel=request.wheel, sim_config_path=request.sim_config_path)
    if screen and request.screen is not None:
        devices.panel = request.screen
        if isinstance(devices.camera, SimulatedCamera):
            wheel = devices.wheel if isinstance(devices.wheel, SimulatedWheel) else None
            # Per colour (the tint) and behind the wheel, as drivers.sim_rig models it.
            devices.camera.set_light(ScreenLight(request.screen, wheel,
                                                 flux_e_s_at_max=SCREEN_SIM_FLUX_E_S,
                                                 gamma=SCREEN_SIM_GAMMA))
    return devices


def run_job_worker(request: JobRequest, cancel: threading.Event,
                   ask_user: AskUser | None) -> Iterator[Event | DisplayFrame | FilterRows
                                                       | RigStatus | SkyFrames]:
    """Open the rig, run the job, close the rig; the last item is SessionFinished."""
    lower_thread_priority()
    try:
        devices = open_rig(request)
        devices.__enter__()
    except Exception as error:  # any failure to open ends the run with a finish, not a hang
        message = f"could not open the rig: {one_line(error)}"
        yield SessionError(message)
        yield SessionFinished(FinishReason.FAILED, message, None, (), None)
        return
    try:
        yield from _run(request, devices, cancel, ask_user)
    finally:
        devices.__exit__(None, None, None)  # aborts any exposure; panel and wheel closed


def _run(request: JobRequest, devices: Devices, cancel: threading.Event,
         ask_user: AskUser | None
         ) -> Iterator[Event | DisplayFrame | FilterRows | RigStatus | SkyFrames]:
    history = ExposureHistory.default() if request.use_history else None
    extra = rig_record_fields(request.panel, request.wheel, request.sim_config_path)
    job = with_known_throughput(request.job, devices.wheel)
    runner = FlatJob(Rig(devices.camera, devices.panel, devices.wheel), job,
                     cancel=cancel, history=history, camera_id=request.camera_id,
                     record_extra=extra, ask_user=ask_user)
    name = request.job.flats.filter_name
    last_rows: FilterRows | None = None
    last_rig = ""
    last_read = 0.0
    sky_seen: dict[str | None, int] = {}
    for event in runner.events():
        yield display_frame(event) if isinstance(event, TestFrame | FlatCaptured) else event
        record = runner.engine.record
        if (job.sky is not None and record is not None
                and isinstance(event, FlatCaptured | FlatRejected | SessionFinished)):
            sky = new_sky_frames(record, sky_seen)
            if sky is not None:
                yield sky
        if record is not None and isinstance(event, SessionStarted | Notice | ExposureSolved
                                             | FlatSaved | SessionError | SessionFinished):
            rows = filter_rows(record, name)
            if rows != last_rows:
                last_rows = rows
                yield rows
        now = time.monotonic()
        if now - last_read >= RIG_READ_INTERVAL_S or isinstance(event, Notice
                                                                 | SessionFinished):
            last_read = now
            moving = isinstance(event, Notice) and event.message.startswith(COVER_MOVE_NOTICES)
            text = (describe_panel(devices.panel, cover_moving=moving) if job.sky is None
                    else f"the twilight sky ({job.sky}): no panel")
            if text != last_rig:
                last_rig = text
                yield RigStatus(text)

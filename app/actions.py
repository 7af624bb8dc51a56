"""What a procedure asks the engine to do, and what it gets back.

Procedures are generators (bluesky's plans are the model): they yield an action and
receive the result the devices actually gave, or yield an event for the user. They
never touch a device, a file or a thread themselves, so a procedure can be driven by
a test with made-up results, and the engine stays the one place for faults, cancel
and cleanup.

Frame lifetime: a :class:`Shot`'s frame is a pooled buffer, valid until the
procedure's next action, unless that action is :class:`SaveFrame` for it.
"""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import dataclass
from datetime import datetime
from enum import Enum
from typing import Any

from app.events import Event
from app.stats import Frame, FrameStats, Histogram, histogram


class SessionFailure(Exception):
    """Ends a run (or, in a filter sequence, one filter) with what to change."""


class Cancelled(Exception):
    """The run was cancelled (not a fault)."""


class FrameKind(Enum):
    """What a saved frame is; also its IMAGETYP."""

    FLAT = "FLAT"
    DARK = "DARK"


@dataclass(frozen=True, slots=True)
class Expose:
    """Take one exposure; the result is a :class:`Shot`."""

    exposure_s: float
    #: also estimate the signal from the frame's shot noise (a search frame)
    shot_signal: bool = False
    #: start this exposure as soon as the frame is read, so it runs while this frame
    #: is analysed and saved; the next Expose of the same time takes it (any other
    #: action first aborts it). None: leave the camera idle.
    next_exposure_s: float | None = None


@dataclass(frozen=True, slots=True)
class Shot:
    """One frame, with what the camera applied and when."""

    frame: Frame
    stats: FrameStats
    exposure_s: float
    start_utc: datetime
    shot_signal_native: float | None = None
    #: the display histogram, from the same pass as the statistics
    histogram: Histogram | None = None

    def display_histogram(self, bayer: str | None) -> Histogram:
        """The display histogram (computed now if the engine did not)."""
        return self.histogram if self.histogram is not None else histogram(self.frame, bayer)


@dataclass(frozen=True, slots=True)
class SaveFrame:
    """Write ``shot`` as a FITS file (in the background); the result is None.

    ``section`` is the record section (a filter's name, or None for a one-filter
    run); ``subdir`` the folder below the output folder ("" = the folder itself).
    """

    shot: Shot
    kind: FrameKind
    index: int
    filter_name: str
    section: str | None
    subdir: str = ""


@dataclass(frozen=True, slots=True)
class SetBrightness:
    """Set the light panel's brightness; the result is the level applied."""

    level: int


@dataclass(frozen=True, slots=True)
class SetTint:
    """Set a tintable panel's colour balance; the result is the tint applied.

    ``r``, ``g``, ``b``: multipliers of the white level, each in (0, 1], the largest 1
    (the brightness sets the level, the tint the colour). The engine refuses it on a
    panel that cannot tint (:class:`app.rig.TintablePanel`).
    """

    r: float
    g: float
    b: float

    def __post_init__(self) -> None:
        """Refuse a tint that is not (0, 1] per channel with the largest 1."""
        tint = (self.r, self.g, self.b)
        if not all(0 < t <= 1 for t in tint) or max(tint) != 1:
            raise ValueError(f"tint {tint}: use multipliers in (0, 1], the largest 1")


@dataclass(frozen=True, slots=True)
class SetLight:
    """Switch the panel's light; the result is None."""

    on: bool


@dataclass(frozen=True, slots=True)
class SetCover:
    """Close (over the scope) or open the panel's cover and wait; the result is None."""

    closed: bool


@dataclass(frozen=True, slots=True)
class MoveFilter:
    """Move the filter wheel to a filter and wait; the result is the slot reached."""

    name: str


@dataclass(frozen=True, slots=True)
class AskUser:
    """Ask the user to do something by hand (cover the scope) and wait; result None."""

    message: str


@dataclass(frozen=True, slots=True)
class Wait:
    """Let ``seconds`` pass on the camera's clock (cancel ends it); the result is None."""

    seconds: float
    reason: str = ""


Action = (Expose | SaveFrame | SetBrightness | SetTint | SetLight | SetCover | MoveFilter
          | AskUser | Wait)

#: a procedure: yields actions (getting their results) and events; returns a value
Procedure = Generator[Action | Event, Any, Any]

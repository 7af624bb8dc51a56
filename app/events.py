"""The typed events a flat session yields. The CLI prints them; the GUI renders them."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from pathlib import Path

from app.stats import Frame, FrameStats, Histogram
from drivers.base import CameraInfo


class Phase(Enum):
    """What the session is doing."""

    FINDING_EXPOSURE = "finding exposure"
    CAPTURING = "capturing"
    WRITING = "writing"


class FinishReason(Enum):
    """How a session ended; also the ``status`` of session.json."""

    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"


@dataclass(frozen=True, slots=True)
class SessionStarted:
    """The session is set up: camera configured, output folder ready."""

    camera: CameraInfo
    out_dir: Path
    count: int
    gain: int
    offset: int
    binning: int
    target_native: float
    target_16bit: float
    tolerance_native: float


@dataclass(frozen=True, slots=True)
class TestFrame:
    """A frame taken to find (or re-find) the exposure; not saved as a flat."""

    __test__ = False  # not a pytest test class despite the name

    index: int
    exposure_s: float
    stats: FrameStats
    histogram: Histogram
    preview: Frame
    next_exposure_s: float | None
    reason: str
    bias_native: float | None
    rate_native_per_s: float | None


@dataclass(frozen=True, slots=True)
class ExposureSolved:
    """The exposure that puts the mean on target."""

    exposure_s: float
    mean_native: float
    mean_16bit: float
    test_frames: int
    bias_native: float | None


@dataclass(frozen=True, slots=True)
class FlatSaved:
    """A flat is complete on disk (renamed into place)."""

    index: int
    count: int
    path: Path
    exposure_s: float
    mean_native: float
    mean_16bit: float
    #: 'FLAT', or 'DARK' for a dark flat
    image_type: str = "FLAT"


@dataclass(frozen=True, slots=True)
class FlatCaptured:
    """A flat frame was read and accepted; it is being written."""

    index: int
    count: int
    exposure_s: float
    stats: FrameStats
    histogram: Histogram
    preview: Frame


@dataclass(frozen=True, slots=True)
class FlatRejected:
    """A flat's mean left the tolerance (drifting light); it was dropped."""

    exposure_s: float
    stats: FrameStats
    reason: str


@dataclass(frozen=True, slots=True)
class Progress:
    """Where the session is, with time estimates."""

    phase: Phase
    done: int
    total: int
    elapsed_s: float
    remaining_s: float | None


@dataclass(frozen=True, slots=True)
class Notice:
    """Something the user should know that does not stop the session.

    ``warning``: the flats may be worse for it (a clipping or weak channel, a
    non-linear response, flicker, a quantised exposure); warnings are kept in
    session.json's ``warnings``.
    """

    message: str
    warning: bool = False


@dataclass(frozen=True, slots=True)
class SessionError:
    """The error that ends the session, in words that say what to change."""

    message: str


@dataclass(frozen=True, slots=True)
class SessionFinished:
    """Always the last event."""

    reason: FinishReason
    message: str | None
    exposure_s: float | None
    files: tuple[Path, ...]
    session_file: Path | None
    #: how many of ``files`` are dark flats
    dark_files: int = 0

    def files_text(self) -> str:
        """The files by kind: '3 flats', '3 flats and 2 dark flats'."""
        flats = len(self.files) - self.dark_files
        text = f"{flats} flat{'s' if flats != 1 else ''}"
        if self.dark_files:
            text += f" and {self.dark_files} dark flat{'s' if self.dark_files != 1 else ''}"
        return text

    def kept_text(self) -> str:
        """What a stopped run leaves: '3 flats kept', '3 flats and 2 dark flats kept'."""
        return self.files_text() + " kept"


Event = (
    SessionStarted
    | TestFrame
    | ExposureSolved
    | FlatCaptured
    | FlatSaved
    | FlatRejected
    | Progress
    | Notice
    | SessionError
    | SessionFinished
)

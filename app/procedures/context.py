"""What a procedure knows of its run: settings resolved against the camera, and where
things are recorded. No device is ever driven through it."""

from __future__ import annotations

from dataclasses import dataclass, field

from app.adu import AduScale
from app.events import Notice
from app.history import ExposureHistory
from app.plan import SessionPlan
from app.record import SessionRecord
from app.settings import FlatSettings
from app.steering import Steering
from drivers.base import Camera


@dataclass(slots=True)
class FilterRun:
    """One filter's part of a run (the whole run for a one-filter session).

    ``camera`` is read only for its facts (info, controls, readout time, reported
    e-/ADU); procedures never drive it.
    """

    camera: Camera
    settings: FlatSettings
    plan: SessionPlan
    scale: AduScale
    steering: Steering
    record: SessionRecord
    history: ExposureHistory | None
    filter_name: str
    #: the record section: the filter's name in a sequence, None in a one-filter run
    section: str | None = None
    #: folder of this filter's flats below the output folder
    subdir: str = ""
    #: flats already on disk (a resumed run)
    done_before: int = 0
    #: test exposures start here (last time's exposure, a brightness change...)
    first_exposure_s: float | None = None
    bias_hint_native: float | None = None
    #: the panel's level while this filter's frames are taken (None: not controlled)
    brightness: int | None = None
    flicker_reported: bool = False
    #: what the search measured: bias (native ADU) and the exposure found
    bias_native: float | None = None
    exposure_s: float | None = None
    notes: list[str] = field(default_factory=list)
    #: the bias known before the search (last night's, or a hint), native ADU
    known_bias: float | None = None
    #: (exposure applied, steered level) of the last search's unclipped frames
    search_points: list[tuple[float, float]] = field(default_factory=list)

    def warn(self, message: str) -> Notice:
        """A warning: kept in session.json and shown to the user."""
        self.record.add_warning(message)
        return Notice(message, warning=True)

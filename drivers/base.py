"""The camera interface every driver implements, and the records it speaks in.

The public methods validate and convert units, then call the driver's ``_do_...``
hooks (python-microscope's template-method pattern). The exposure loop with its
timeout, retries and cancellation lives here once, so every driver gets the same
behaviour.
"""

from __future__ import annotations

import logging
import math
import threading
from abc import abstractmethod
from dataclasses import dataclass
from enum import Enum

import numpy as np
import numpy.typing as npt

from drivers.clock import Clock, SystemClock
from drivers.device import Device
from drivers.errors import (
    CameraDisconnectedError,
    CameraError,
    ExposureAbortedError,
    ExposureFailedError,
    ExposureTimeoutError,
    FrameError,
    InvalidValueError,
    UnsupportedError,
)

log = logging.getLogger(__name__)

Frame = npt.NDArray[np.uint16]
BAYER_PATTERNS = ("RGGB", "BGGR", "GRBG", "GBRG")


@dataclass(frozen=True, slots=True)
class ControlRange:
    """Limits of one camera control, in the unit its name says."""

    minimum: float
    maximum: float
    default: float

    def __post_init__(self) -> None:
        """Refuse a range that cannot hold its own default."""
        values = (self.minimum, self.maximum, self.default)
        if not all(math.isfinite(v) for v in values):
            raise ValueError(f"control range must be finite, got {values}")
        if not self.minimum <= self.default <= self.maximum:
            raise ValueError(
                f"control default {self.default} outside [{self.minimum}, "
                f"{self.maximum}]"
            )

    def contains(self, value: float) -> bool:
        """Whether ``value`` lies within the range."""
        return self.minimum <= value <= self.maximum

    def clamp(self, value: float) -> float:
        """``value`` moved into the range."""
        return min(max(value, self.minimum), self.maximum)


@dataclass(frozen=True, slots=True)
class CameraInfo:
    """What a camera is: fixed properties read once on open."""

    name: str
    model: str
    driver: str
    width: int
    height: int
    bit_depth: int
    bayer_pattern: str | None
    pixel_size_um: float
    e_per_adu: float | None
    supported_bins: tuple[int, ...]
    has_cooler: bool
    #: what the gain number is: "gain" (the camera's own scale) or "iso" (a DSLR)
    gain_kind: str = "gain"
    #: False for cameras without an offset (black level) setting, e.g. DSLRs
    has_offset: bool = True
    #: raw black and white levels (native ADU) when the camera defines them (LibRaw):
    #: then "full scale" runs from black to white, not from 0 to 2^bits - 1
    black_level: float | None = None
    white_level: float | None = None

    def __post_init__(self) -> None:
        """Check the record is self-consistent."""
        if self.width <= 0 or self.height <= 0:
            raise ValueError(f"sensor size must be positive: {self.width}x{self.height}")
        if not 8 <= self.bit_depth <= 16:
            raise ValueError(f"bit depth must be 8..16, got {self.bit_depth}")
        if self.bayer_pattern is not None and self.bayer_pattern not in BAYER_PATTERNS:
            raise ValueError(f"unknown Bayer pattern {self.bayer_pattern!r}")
        if not self.supported_bins or 1 not in self.supported_bins:
            raise ValueError("supported_bins must include 1")
        if self.gain_kind not in ("gain", "iso"):
            raise ValueError(f"gain_kind must be 'gain' or 'iso', got {self.gain_kind!r}")
        top = (1 << self.bit_depth) - 1
        black = self.black_level if self.black_level is not None else 0.0
        if self.white_level is not None and not 0 <= black < self.white_level <= top:
            raise ValueError(f"raw levels black {black:g} / white {self.white_level:g} must "
                             f"satisfy 0 <= black < white <= {top}")

    def level_at_share(self, share: float) -> float:
        """Native ADU at ``share`` of full scale: black + share x (white - black) when
        the camera defines raw levels, else share x (2^bits - 1)."""
        if self.white_level is None:
            return share * ((1 << self.bit_depth) - 1)
        black = self.black_level or 0.0
        return black + share * (self.white_level - black)

    @property
    def is_color(self) -> bool:
        """True for a one-shot-colour (Bayer) sensor."""
        return self.bayer_pattern is not None

    @property
    def megapixels(self) -> float:
        """Sensor size in millions of pixels."""
        return self.width * self.height / 1e6

    def e_per_adu_at(self, gain: int) -> float | None:
        """Native e-/ADU at ``gain``, from the gain-0 value (see :func:`e_per_adu_at_gain`)."""
        return None if self.e_per_adu is None else e_per_adu_at_gain(self.e_per_adu, gain)


def e_per_adu_at_gain(e_per_adu_gain0: float, gain: int) -> float:
    """ZWO gain is in 0.1 dB: e-/ADU(gain) = e-/ADU(0) / 10^(gain/200)."""
    return e_per_adu_gain0 / 10 ** (gain / 200)


@dataclass(frozen=True, slots=True)
class CameraEntry:
    """One camera that can be opened, as a camera listing shows it."""

    camera_id: str
    name: str
    driver: str
    summary: str


@dataclass(frozen=True, slots=True)
class CameraControls:
    """Ranges of the controls a flat session touches."""

    exposure_s: ControlRange
    gain: ControlRange
    offset: ControlRange


@dataclass(frozen=True, slots=True)
class Capture:
    """A finished exposure: the frame and the exposure the camera says it applied.

    ``exposure_s`` is what the camera reports (after clamping to its range and
    rounding to its exposure grid), not what was asked for: it goes into the
    record and the FITS headers.
    """

    frame: Frame
    exposure_s: float
    #: the camera clock's time the exposure started
    started_at: float


@dataclass(frozen=True, slots=True)
class Started:
    """An exposure started ahead with :meth:`Camera.begin`, to be read by :meth:`Camera.capture`.

    ``requested_s`` is what was asked for (a later capture of the same request takes
    it); ``exposure_s`` what the camera applied; ``started_at`` the camera clock's
    time of the start.
    """

    requested_s: float
    exposure_s: float
    started_at: float


class ExposureStatus(Enum):
    """Where an exposure is (the ZWO SDK's four states)."""

    IDLE = 0
    WORKING = 1
    SUCCESS = 2
    FAILED = 3


class Camera(Device):
    """One camera, owned by one thread at a time; public calls are serialised.

    Use as a context manager: ``with open_camera(...) as cam: ...``.
    """

    #: how many times a failed, hung or corrupt exposure is retried
    max_retries: int = 2
    #: how often an exposure's status is polled, in the camera clock's seconds
    poll_interval_s: float = 0.05
    #: whether an exposure may be started ahead (:meth:`begin`) while the host handles
    #: the last frame: the camera stops an exposure no longer wanted at once. A DSLR's
    #: cannot (its shutter runs its course, and each start is an actuation).
    starts_ahead: bool = True

    def __init__(self, clock: Clock | None = None) -> None:
        self.clock: Clock = clock if clock is not None else SystemClock()
        self._lock = threading.RLock()
        self._open = False
        self._gain = 0
        self._offset = 0
        self._binning = 1

    # -- lifecycle ---------------------------------------------------------------
    def open(self) -> None:
        """Connect to the camera (idempotent)."""
        with self._lock:
            if not self._open:
                self._do_open()
                self._open = True
                controls = self.controls
                self._gain = int(controls.gain.default)
                self._offset = int(controls.offset.default)

    def close(self) -> None:
        """Abort any exposure and release the camera (idempotent)."""
        with self._lock:
            if self._open:
                try:
                    self._do_abort_exposure()
                except CameraError:
                    log.debug("abort on close failed", exc_info=True)
                finally:
                    self._open = False
                    self._do_close()

    @property
    def is_open(self) -> bool:
        """Whether :meth:`open` has connected the camera."""
        return self._open

    def _require_open(self) -> None:
        if not self._open:
            raise CameraError(f"{self.info.name} is not open; open the camera first")

    # -- description -------------------------------------------------------------
    @property
    @abstractmethod
    def info(self) -> CameraInfo:
        """Fixed properties of this camera."""

    @property
    @abstractmethod
    def controls(self) -> CameraControls:
        """Ranges of exposure, gain and offset."""

    @property
    def readout_s(self) -> float:
        """Expected time to read a frame out at the current binning."""
        return 0.5

    # -- settings ----------------------------------------------------------------
    @property
    def gain(self) -> int:
        """Current gain (ZWO units: 0.1 dB)."""
        return self._gain

    @property
    def offset(self) -> int:
        """Current offset (black level) setting."""
        return self._offset

    @property
    def binning(self) -> int:
        """Current binning factor (same in x and y)."""
        return self._binning

    def exposure_choices_s(self) -> tuple[float, ...] | None:
        """The exposures the camera can take, ascending, when it has a discrete list
        (a DSLR's shutter speeds); None for a continuous range."""
        return None

    def last_raw_file(self) -> tuple[bytes, str] | None:
        """The camera's own file of the last frame read, (content, extension such as
        '.cr2'), for cameras that write one (DSLRs); None otherwise."""
        return None

    def reported_e_per_adu(self) -> float | None:
        """Native e-/ADU at the current gain as the camera reports it.

        The default uses the gain-0 value and the 0.1 dB law; a driver whose camera
        reports the value per gain overrides this.
        """
        return self.info.e_per_adu_at(self.gain)

    @property
    def frame_shape(self) -> tuple[int, int]:
        """(height, width) of a frame at the current binning."""
        return binned_shape(self.info, self._binning)

    def set_gain(self, gain: int) -> None:
        """Set the gain; it must lie within ``controls.gain``."""
        self._check_int_control("gain", gain, self.controls.gain)
        with self._lock:
            self._require_open()
            self._do_set_gain(int(gain))
            self._gain = int(gain)

    def set_offset(self, offset: int) -> None:
        """Set the offset; it must lie within ``controls.offset``."""
        self._check_int_control("offset", offset, self.controls.offset)
        with self._lock:
            self._require_open()
            self._do_set_offset(int(offset))
            self._offset = int(offset)

    def set_binning(self, binning: int) -> None:
        """Set the binning; it must be one of ``info.supported_bins``."""
        if binning not in self.info.supported_bins:
            raise UnsupportedError(
                f"binning {binning} is not supported by {self.info.name}; "
                f"use one of {', '.join(map(str, self.info.supported_bins))}"
            )
        with self._lock:
            self._require_open()
            self._do_set_binning(int(binning))
            self._binning = int(binning)

    @staticmethod
    def _check_int_control(name: str, value: int, limits: ControlRange) -> None:
        if isinstance(value, bool) or not isinstance(value, int | np.integer):
            raise InvalidValueError(f"{name} must be a whole number, got {value!r}")
        if not limits.contains(value):
            raise InvalidValueError(
                f"{name} {value} is out of range; use {int(limits.minimum)}.."
                f"{int(limits.maximum)}"
            )

    def clamp_exposure(self, exposure_s: float) -> float:
        """The exposure the camera would actually take for ``exposure_s`` (on a
        discrete list: the nearest choice, in ratio)."""
        if not (math.isfinite(exposure_s) and exposure_s > 0):
            raise InvalidValueError(f"exposure must be a positive time, got {exposure_s}")
        clamped = self.controls.exposure_s.clamp(exposure_s)
        choices = self.exposure_choices_s()
        return nearest_choice(choices, clamped) if choices else clamped

    # -- exposures ---------------------------------------------------------------
    def start_exposure(self, exposure_s: float) -> float:
        """Start an exposure; returns the exposure the camera applies.

        Out-of-range requests are clamped with a warning; a driver whose camera
        rounds exposures to a grid returns the rounded value from its hook.
        """
        actual_s = self.clamp_exposure(exposure_s)
        outside = not self.controls.exposure_s.contains(exposure_s)
        if self.exposure_choices_s() and not outside:
            if not math.isclose(actual_s, exposure_s, rel_tol=1e-9):
                log.debug("%s: %.6g s taken as the nearest speed %.6g s", self.info.name,
                          exposure_s, actual_s)
        elif not math.isclose(actual_s, exposure_s, rel_tol=1e-9):
            log.warning(
                "exposure %.6g s is outside %s's range; using %.6g s",
                exposure_s,
                self.info.name,
                actual_s,
            )
        with self._lock:
            self._require_open()
            applied_s = self._do_start_exposure(actual_s)
        return actual_s if applied_s is None else applied_s

    def exposure_status(self) -> ExposureStatus:
        """Poll the running exposure."""
        with self._lock:
            self._require_open()
            return self._do_exposure_status()

    def read_frame(self, out: Frame | None = None) -> Frame:
        """Read the finished frame as uint16, MSB-aligned RAW16 (height, width).

        ``out``, if given, must have :attr:`frame_shape` and is filled in place.
        """
        shape = self.frame_shape
        if out is not None and (out.shape != shape or out.dtype != np.uint16):
            raise ValueError(f"out must be uint16 {shape}, got {out.dtype} {out.shape}")
        with self._lock:
            self._require_open()
            return self._do_read_frame(out)

    def abort_exposure(self) -> None:
        """Stop a running exposure; harmless when idle."""
        with self._lock:
            if self._open:
                self._do_abort_exposure()

    def temperature_c(self) -> float | None:
        """Sensor temperature in °C, or None when the camera has no sensor for it."""
        with self._lock:
            self._require_open()
            return self._do_temperature_c()

    def begin(self, exposure_s: float) -> Started:
        """Start an exposure now, to be read later by ``capture(started=...)``.

        A camera exposes while the host works: starting the next frame as soon as one
        is read lets its statistics and FITS write overlap the next exposure.
        """
        applied_s = self.start_exposure(exposure_s)
        return Started(exposure_s, applied_s, self.clock.monotonic())

    def capture(
        self,
        exposure_s: float,
        *,
        cancel: threading.Event | None = None,
        out: Frame | None = None,
        timeout_margin_s: float | None = None,
        started: Started | None = None,
    ) -> Capture:
        """Take one exposure: start, poll, read, with retries; the frame and applied time.

        ``started``: an exposure :meth:`begin` already started for this request; the
        first attempt reads it instead of starting another.
        A failed, hung or short exposure is retried up to :attr:`max_retries` times
        (stop, restart), as INDI's ASI driver does; then the typed error is raised.
        Setting ``cancel`` aborts the exposure and raises ExposureAbortedError.
        A disconnected camera is never retried.
        """
        margin_s = (
            timeout_margin_s
            if timeout_margin_s is not None
            else max(2.0, 3.0 * self.readout_s)
        )
        last_error: CameraError | None = None
        for attempt in range(self.max_retries + 1):
            if attempt:
                log.warning("retrying exposure (%d of %d): %s", attempt,
                            self.max_retries, last_error)
            try:
                return self._capture_once(exposure_s, cancel, out, margin_s,
                                          started if not attempt else None)
            except (ExposureFailedError, ExposureTimeoutError, FrameError) as error:
                last_error = error
                self.abort_exposure()
        assert last_error is not None
        raise last_error

    def _capture_once(
        self,
        exposure_s: float,
        cancel: threading.Event | None,
        out: Frame | None,
        margin_s: float,
        begun: Started | None,
    ) -> Capture:
        if begun is not None and begun.requested_s != exposure_s:
            self.abort_exposure()  # started for another request
            begun = None
        if begun is None:
            begun = self.begin(exposure_s)
        actual_s, started = begun.exposure_s, begun.started_at
        deadline = started + actual_s + margin_s
        while True:
            if cancel is not None and cancel.is_set():
                self.abort_exposure()
                raise ExposureAbortedError("exposure aborted")
            # The time is read before the status: a host stall between the two must
            # not turn a finished exposure into a timeout.
            now = self.clock.monotonic()
            status = self.exposure_status()
            if status is ExposureStatus.SUCCESS:
                return Capture(self.read_frame(out), actual_s, started)
            if status is ExposureStatus.FAILED:
                raise ExposureFailedError(f"{self.info.name} reported a failed exposure")
            if status is ExposureStatus.IDLE:
                raise ExposureFailedError(f"{self.info.name} went idle mid-exposure")
            if now >= deadline:
                raise ExposureTimeoutError(
                    f"{self.info.name} did not finish a {actual_s:.6g} s exposure "
                    f"within {actual_s + margin_s:.3g} s"
                )
            # Sleep towards the end of the exposure in short steps so cancel stays
            # quick; during the readout, poll at the driver's rate.
            expected_end = started + actual_s
            step = self.poll_interval_s
            if now < expected_end:
                step = min(max(expected_end - now, 0.0), 0.1) or step
            self.clock.sleep(min(step, deadline - now))

    # -- driver hooks ------------------------------------------------------------
    @abstractmethod
    def _do_open(self) -> None: ...

    @abstractmethod
    def _do_close(self) -> None: ...

    @abstractmethod
    def _do_set_gain(self, gain: int) -> None: ...

    @abstractmethod
    def _do_set_offset(self, offset: int) -> None: ...

    @abstractmethod
    def _do_set_binning(self, binning: int) -> None: ...

    @abstractmethod
    def _do_start_exposure(self, exposure_s: float) -> float | None:
        """Start the exposure; return the exposure applied if the camera changed it."""

    @abstractmethod
    def _do_exposure_status(self) -> ExposureStatus: ...

    @abstractmethod
    def _do_read_frame(self, out: Frame | None) -> Frame: ...

    @abstractmethod
    def _do_abort_exposure(self) -> None: ...

    def _do_temperature_c(self) -> float | None:
        return None

    def set_cooler(self, enabled: bool, set_point_c: float | None = None) -> None:
        """Switch the cooler and set its target; cameras without one refuse."""
        raise UnsupportedError(f"{self.info.name} has no cooler")

    def cooler_state(self) -> tuple[bool, float | None]:
        """(cooler on, set-point °C); (False, None) without a cooler."""
        return (False, None)


def nearest_choice(choices: tuple[float, ...], exposure_s: float) -> float:
    """The choice nearest ``exposure_s`` in ratio (1/3-stop lists are geometric)."""
    return min(choices, key=lambda c: abs(math.log(c / exposure_s)))


def binned_shape(info: CameraInfo, binning: int) -> tuple[int, int]:
    """(height, width) at ``binning``; ZWO rounds width to 8 and height to 2."""
    width = (info.width // binning) // 8 * 8
    height = (info.height // binning) // 2 * 2
    return (height, width)


__all__ = [
    "BAYER_PATTERNS",
    "Camera",
    "CameraControls",
    "CameraDisconnectedError",
    "CameraEntry",
    "CameraInfo",
    "Capture",
    "ControlRange",
    "ExposureStatus",
    "Frame",
    "nearest_choice",
]

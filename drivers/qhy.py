"""QHY cameras through libqhyccd (:mod:`drivers.qhy_sdk`), behind the Camera interface.

Single-frame mode, 16-bit transfer, the sensor's effective area only (QHY frames
carry optical-black strips and overscan outside it, which would pull the mean
down), bin, gain, offset, exposure in µs, temperature and cooler through the
SDK's generic parameter calls.

- Gain is QHY's own scale (a camera-specific number, not ZWO's 0.1 dB): the SDK
  reports no e-/ADU, so :meth:`QhyCamera.reported_e_per_adu` gives None unless a
  table (gain, e-/ADU) is passed for the model.
- Bit depth: the SDK's OutputDataActualBits when the camera reports it, else the
  transfer depth (16). Frames are checked once: set padding bits below an
  MSB-aligned depth are warned about, as for ZWO.
- Exposures run on a worker thread (ExpQHYCCDSingleFrame, then the blocking
  GetQHYCCDSingleFrame); an abort calls CancelQHYCCDExposingAndReadout.
- libqhyccd reports failures as one generic error; a failed call is checked against
  a fresh scan to tell a removed camera (CameraDisconnectedError) from a failure.
"""

from __future__ import annotations

import logging
import math
import threading
from dataclasses import dataclass

import numpy as np

from drivers import qhy_sdk
from drivers.base import (
    Camera,
    CameraControls,
    CameraEntry,
    CameraInfo,
    ControlRange,
    ExposureStatus,
    Frame,
    binned_shape,
)
from drivers.clock import Clock
from drivers.errors import (
    CameraDisconnectedError,
    CameraError,
    ExposureFailedError,
    FrameError,
    InvalidValueError,
    LibraryLoadError,
    UnsupportedError,
)
from drivers.qhy_sdk import Area, QhyError, QhySdk

log = logging.getLogger(__name__)

ID_PREFIX = "qhy:"
PADDING_STRIDE = 8


@dataclass(slots=True)
class _Exposure:
    exposure_s: float
    started_s: float
    thread: threading.Thread
    done: bool = False
    shape: tuple[int, int] | None = None
    error: BaseException | None = None
    aborted: bool = False
    waits: int = 0


class QhyCamera(Camera):
    """One QHY camera, found by its index in the SDK's scan and driven by its id."""

    poll_interval_s = 0.01

    def __init__(self, index: int, *, name: str | None = None, sdk: QhySdk | None = None,
                 clock: Clock | None = None,
                 e_per_adu_table: tuple[tuple[float, float], ...] | None = None) -> None:
        super().__init__(clock)
        self._sdk = sdk if sdk is not None else qhy_sdk.get_sdk()
        self.index = index
        ids = self._sdk.scan()
        if not 0 <= index < len(ids):
            raise CameraDisconnectedError(f"no QHY camera at index {index}; check the USB "
                                          "cable and power")
        #: the SDK's camera id (model and serial, e.g. 'QHY268M-1a2b3c')
        self.camera_id = ids[index]
        self._name = name or self.camera_id
        self._model = self.camera_id.rsplit("-", 1)[0]
        self._table = tuple(sorted(e_per_adu_table)) if e_per_adu_table else None
        self._handle: int | None = None
        self._info = CameraInfo(self._name, self._model, "qhy", 16, 16, 16, None, 0.0, None,
                                (1,), False)
        self._controls: CameraControls | None = None
        self._area = Area(0, 0, 16, 16)
        self._buffer: np.ndarray | None = None
        self._exposure: _Exposure | None = None
        self._cooler_on = False
        self._set_point_c: float | None = None
        self._padding_warned = False

    # -- description -------------------------------------------------------------
    @property
    def info(self) -> CameraInfo:
        """Fixed properties: the effective area's size, bit depth, CFA, pixel size."""
        return self._info

    @property
    def controls(self) -> CameraControls:
        """Exposure, gain and offset ranges from GetQHYCCDParamMinMaxStep."""
        if self._controls is None:
            raise CameraError(f"{self._name} is not open; open it to read its controls")
        return self._controls

    @property
    def effective_area(self) -> Area:
        """The lit area of the sensor the frames are cut to (unbinned pixels)."""
        return self._area

    @property
    def readout_s(self) -> float:
        """Expected readout of a 16-bit frame over USB 3."""
        height, width = self.frame_shape
        return 0.3 + 2 * height * width / 100e6

    def reported_e_per_adu(self) -> float | None:
        """e-/ADU at the current gain from the model's table, else None (QHY's gain scale
        is its own; the SDK does not report e-/ADU)."""
        if self._table is None:
            return None
        gains = [g for g, _ in self._table]
        values = [v for _, v in self._table]
        return float(np.interp(self.gain, gains, values))

    # -- calls -------------------------------------------------------------------
    def _h(self) -> int:
        if self._handle is None:
            raise CameraError(f"{self._name} is not open; open the camera first")
        return self._handle

    def _fail(self, error: QhyError, action: str,
              default: type[CameraError] = CameraError) -> CameraError:
        """The typed error: disconnected when the camera left the SDK's scan."""
        try:
            present = self.camera_id in self._sdk.scan()
        except QhyError:
            present = False
        if not present:
            return CameraDisconnectedError(
                f"{self._name} was disconnected ({error}); check the USB cable and power, "
                "then reopen the camera")
        return default(f"{self._name}: {action} failed ({error})")

    def _call(self, action: str, func: object, *args: object,
              default: type[CameraError] = CameraError) -> object:
        try:
            return func(*args)  # type: ignore[operator]
        except QhyError as error:
            raise self._fail(error, action, default) from None

    # -- hooks -------------------------------------------------------------------
    def _do_open(self) -> None:
        sdk = self._sdk
        handle = int(self._call("opening", sdk.open, self.camera_id))  # type: ignore[call-overload]
        self._handle = handle
        try:
            self._configure(handle)
        except BaseException:
            self._handle = None
            try:
                sdk.close(handle)
            except QhyError:
                log.debug("close after a failed open failed", exc_info=True)
            raise

    def _configure(self, handle: int) -> None:
        sdk = self._sdk
        if sdk.is_control_available(handle, qhy_sdk.CAM_SINGLEFRAMEMODE) is None:
            raise UnsupportedError(f"{self._name} has no single-frame mode")
        self._call("setting single-frame mode", sdk.set_stream_mode, handle, 0)
        self._call("initialising", sdk.init, handle)
        if sdk.is_control_available(handle, qhy_sdk.CONTROL_TRANSFERBIT) is not None:
            self._call("setting 16-bit transfer", sdk.set_param, handle,
                       qhy_sdk.CONTROL_TRANSFERBIT, 16)
        chip: qhy_sdk.ChipInfo = self._call("reading chip info", sdk.chip_info, handle)  # type: ignore[assignment]
        try:
            area = sdk.effective_area(handle)
        except QhyError:
            area = Area(0, 0, chip.image_w, chip.image_h)
        if area.width <= 0 or area.height <= 0:
            area = Area(0, 0, chip.image_w, chip.image_h)
        self._area = area
        bits = 16
        if sdk.is_control_available(handle, qhy_sdk.OUTPUT_DATA_ACTUAL_BITS) is not None:
            bits = int(self._call("reading the ADC bits", sdk.get_param, handle,  # type: ignore[call-overload]
                                  qhy_sdk.OUTPUT_DATA_ACTUAL_BITS))
        if not 8 <= bits <= 16:
            log.warning("%s reports %s ADC bits; assuming 16", self._name, bits)
            bits = 16
        bayer_id = sdk.is_control_available(handle, qhy_sdk.CAM_COLOR)
        bayer = qhy_sdk.BAYER_IDS.get(bayer_id) if bayer_id else None
        if bayer is not None and (area.x % 2 or area.y % 2):
            raise UnsupportedError(f"{self._name}: the effective area starts at an odd pixel "
                                   f"({area.x}, {area.y}); its Bayer pattern is unknown")
        bins = tuple(b for b, control in qhy_sdk.BIN_CONTROLS.items()
                     if b == 1 or sdk.is_control_available(handle, control) is not None)
        has_cooler = sdk.is_control_available(handle, qhy_sdk.CONTROL_COOLER) is not None
        self._info = CameraInfo(
            name=self._name, model=self._model, driver="qhy", width=area.width,
            height=area.height, bit_depth=bits, bayer_pattern=bayer,
            pixel_size_um=float(chip.pixel_w_um), e_per_adu=None, supported_bins=bins,
            has_cooler=has_cooler)
        self._controls = CameraControls(
            exposure_s=self._range(handle, qhy_sdk.CONTROL_EXPOSURE, 1e-6, default=0.1),
            gain=self._range(handle, qhy_sdk.CONTROL_GAIN, 1.0),
            offset=self._range(handle, qhy_sdk.CONTROL_OFFSET, 1.0),
        )
        self._apply_bin(handle, 1)
        self._call("setting the gain", sdk.set_param, handle, qhy_sdk.CONTROL_GAIN,
                   self._controls.gain.default, default=InvalidValueError)
        self._call("setting the offset", sdk.set_param, handle, qhy_sdk.CONTROL_OFFSET,
                   self._controls.offset.default, default=InvalidValueError)
        self._binning = 1

    def _range(self, handle: int, control: int, scale: float,
               default: float | None = None) -> ControlRange:
        try:
            raw_low, raw_high, _ = self._sdk.param_range(handle, control)
        except QhyError as error:
            raise self._fail(error, "reading a control's range") from None
        low, high = float(raw_low) * scale, float(raw_high) * scale
        if default is None:
            try:
                current = self._sdk.get_param(handle, control) * scale
            except QhyError:
                current = low
        else:
            current = default
        return ControlRange(low, high, min(max(current, low), high))

    def _apply_bin(self, handle: int, binning: int) -> None:
        area = self._area
        self._call(f"setting bin {binning}", self._sdk.set_bin_mode, handle, binning, binning,
                   default=UnsupportedError)
        height, width = binned_shape(self._info, binning)
        self._call("setting the effective area", self._sdk.set_resolution, handle,
                   Area(area.x // binning, area.y // binning, width, height),
                   default=UnsupportedError)
        self._buffer = None

    def _do_close(self) -> None:
        self._finish(cancel=True)
        handle, self._handle = self._handle, None
        self._buffer = None
        if handle is not None:
            try:
                self._sdk.close(handle)
            except QhyError as error:
                log.warning("%s: close reported %s", self._name, error)

    def _set_checked(self, what: str, control: int, value: float) -> None:
        handle = self._h()
        self._call(f"setting the {what}", self._sdk.set_param, handle, control, value,
                   default=InvalidValueError)
        kept = float(self._call(f"reading the {what}", self._sdk.get_param, handle, control))  # type: ignore[arg-type]
        if not math.isclose(kept, value, abs_tol=1e-6):
            raise InvalidValueError(f"{self._name} kept {what} {kept:g} instead of {value:g}")

    def _do_set_gain(self, gain: int) -> None:
        self._set_checked("gain", qhy_sdk.CONTROL_GAIN, gain)

    def _do_set_offset(self, offset: int) -> None:
        self._set_checked("offset", qhy_sdk.CONTROL_OFFSET, offset)

    def _do_set_binning(self, binning: int) -> None:
        self._apply_bin(self._h(), binning)

    def _do_start_exposure(self, exposure_s: float) -> float:
        handle = self._h()
        self._finish(cancel=True)
        wanted_us = round(exposure_s * 1e6)
        self._call("setting the exposure", self._sdk.set_param, handle,
                   qhy_sdk.CONTROL_EXPOSURE, wanted_us, default=ExposureFailedError)
        kept_us = float(self._call("reading the exposure", self._sdk.get_param, handle,  # type: ignore[arg-type]
                                   qhy_sdk.CONTROL_EXPOSURE))
        if not math.isclose(kept_us, wanted_us, rel_tol=1e-6, abs_tol=0.5):
            log.warning("%s applied %g us for the %d us asked", self._name, kept_us, wanted_us)
        applied = kept_us / 1e6
        height, width = self.frame_shape
        if self._buffer is None:
            length = max(int(self._sdk.mem_length(handle)), 2 * height * width)
            self._buffer = np.empty(length, dtype=np.uint8)
        thread = threading.Thread(target=self._run, args=(handle,), daemon=True,
                                  name=f"qhy-exposure-{self.index}")
        self._exposure = _Exposure(applied, self.clock.monotonic(), thread)
        thread.start()
        return applied

    def _run(self, handle: int) -> None:
        job, buffer = self._exposure, self._buffer
        if job is None or buffer is None:
            return
        try:
            self._sdk.exp_single_frame(handle)
            width, height, bpp, channels = self._sdk.get_single_frame(handle, buffer)
            if bpp != 16 or channels != 1:
                raise FrameError(f"{self._name} delivered {bpp}-bit {channels}-channel data, "
                                 "not 16-bit raw")
            job.shape = (height, width)
        except BaseException as error:  # handed to the polling thread
            job.error = error
        finally:
            job.done = True

    def _do_exposure_status(self) -> ExposureStatus:
        job = self._exposure
        if job is None or job.aborted:
            return ExposureStatus.IDLE
        if not job.done and self.clock.monotonic() >= job.started_s + job.exposure_s:
            # Past the end: give the worker a moment (longer the first time).
            job.thread.join(timeout=0.02 if job.waits == 0 else 0.002)
            job.waits += 1  # reading out: let the worker finish
        if not job.done:
            return ExposureStatus.WORKING
        if isinstance(job.error, QhyError):
            mapped = self._fail(job.error, "exposing", ExposureFailedError)
            if isinstance(mapped, CameraDisconnectedError):
                raise mapped
            return ExposureStatus.FAILED
        if job.error is not None and not isinstance(job.error, FrameError):
            return ExposureStatus.FAILED
        return ExposureStatus.SUCCESS

    def _do_read_frame(self, out: Frame | None) -> Frame:
        job, buffer = self._exposure, self._buffer
        if job is None or not job.done or buffer is None:
            raise CameraError("no finished exposure to read; start an exposure first")
        self._exposure = None
        if isinstance(job.error, FrameError):
            raise job.error
        height, width = self.frame_shape
        if job.shape is None or job.shape[0] < height or job.shape[1] < width:
            raise FrameError(f"{self._name} returned a {job.shape} frame, expected "
                             f"{(height, width)}; frame rejected")
        rows, cols = job.shape
        data = buffer[:2 * rows * cols].view("<u2").reshape(rows, cols)
        target = out if out is not None else np.empty((height, width), dtype=np.uint16)
        np.copyto(target, data[:height, :width])
        if not self._padding_warned and self._binning == 1:
            self._check_padding(target)
        return target

    def _check_padding(self, frame: Frame) -> None:
        shift = 16 - self._info.bit_depth
        if shift <= 0:
            return
        if np.any(frame[::PADDING_STRIDE, ::PADDING_STRIDE] & np.uint16((1 << shift) - 1)):
            self._padding_warned = True
            log.warning("%s: pixel values have their low %d bits set, so they are not "
                        "%d-bit values MSB-aligned as the SDK reports; treat it as 16-bit",
                        self._name, shift, self._info.bit_depth)

    def _do_abort_exposure(self) -> None:
        job = self._exposure
        if job is None:
            return
        job.aborted = True
        self._finish(cancel=True)

    def _finish(self, *, cancel: bool) -> None:
        """Stop a running exposure (cancel in the SDK) and wait for its worker."""
        job = self._exposure
        if job is None:
            return
        if not job.done and cancel and self._handle is not None:
            try:
                self._sdk.cancel(self._handle)
            except QhyError:
                log.debug("cancel failed", exc_info=True)
        job.thread.join(timeout=job.exposure_s + 30)
        if job.aborted or cancel:
            self._exposure = None

    def _do_temperature_c(self) -> float | None:
        handle = self._h()
        if self._call("reading the temperature", self._sdk.is_control_available, handle,
                      qhy_sdk.CONTROL_CURTEMP) is None:
            return None
        return float(self._call("reading the temperature", self._sdk.get_param, handle,  # type: ignore[arg-type]
                                qhy_sdk.CONTROL_CURTEMP))

    def set_cooler(self, enabled: bool, set_point_c: float | None = None) -> None:
        """Regulate to ``set_point_c`` (CONTROL_COOLER) or switch off (PWM 0)."""
        if not self._info.has_cooler:
            super().set_cooler(enabled, set_point_c)
        if set_point_c is not None and not math.isfinite(set_point_c):
            raise InvalidValueError(f"set-point must be a temperature, got {set_point_c}")
        with self._lock:
            handle = self._h()
            if enabled:
                target = set_point_c if set_point_c is not None else (self._set_point_c or 0.0)
                self._call("setting the set-point", self._sdk.set_param, handle,
                           qhy_sdk.CONTROL_COOLER, target, default=InvalidValueError)
                self._set_point_c = float(target)
            else:
                self._call("switching the cooler off", self._sdk.set_param, handle,
                           qhy_sdk.CONTROL_MANULPWM, 0)
            self._cooler_on = enabled

    def cooler_state(self) -> tuple[bool, float | None]:
        """(cooler on, set-point °C) as last set."""
        return (self._cooler_on, self._set_point_c if self._cooler_on else None)


def list_qhy_cameras(sdk: QhySdk | None = None) -> tuple[list[CameraEntry], str | None]:
    """Connected QHY cameras as 'qhy:<index>'; nothing when the SDK is not installed."""
    if sdk is None:
        try:
            sdk = qhy_sdk.get_sdk()
        except LibraryLoadError:
            return [], None  # the optional extra is not installed: say nothing
    try:
        ids = sdk.scan()
    except QhyError as error:
        return [], f"QHY SDK: listing cameras failed ({error})"
    return [CameraEntry(f"{ID_PREFIX}{i}", camera_id, "qhy",
                        f"{camera_id.rsplit('-', 1)[0]}: QHY camera (open it for its sensor)")
            for i, camera_id in enumerate(ids)], None


def open_qhy_camera(camera_id: str, *, sdk: QhySdk | None = None,
                    clock: Clock | None = None) -> QhyCamera | None:
    """A (not yet opened) camera for 'qhy:<index>'; None for other ids."""
    if not camera_id.startswith(ID_PREFIX):
        return None
    text = camera_id[len(ID_PREFIX):]
    if not text.isdigit():
        raise InvalidValueError(f"bad camera id {camera_id!r}; use qhy:0, qhy:1...")
    return QhyCamera(int(text), sdk=sdk, clock=clock)


__all__ = ["QhyCamera", "list_qhy_cameras", "open_qhy_camera"]

"""ZWO ASI cameras through the ZWO SDK (``zwoasi``), behind the common Camera interface.

Snap mode only: RAW16 always (MSB-aligned as the SDK delivers it), the full sensor at
the chosen binning, bandwidth at the SDK's recommended default. A camera is found by
its index in the SDK's list and then driven by its CameraID, which stays put when
other cameras come and go. On open the camera is put in normal (untriggered) mode and
the controls that change frames are set to known values, as NINA does (flip none;
high-speed, hardware bin, mono bin, overclock and pattern adjust off; gamma and white
balance at their defaults; auto exposure, gain and white balance off).

The exposure loop (timeout, bounded retries, cancel) is the base class's; this module
supplies the SDK calls, polls every 5 ms near the end, retries a failed status read,
maps the SDK's error codes to typed errors, reads every frame into a preallocated
buffer, returns the exposure the camera applied (read back, as it clamps and rounds
silently), re-reads ElecPerADU after each gain change and warns once per camera when
the padding bits of RAW16 data are set.

The SDK is not thread-safe per camera: every call goes through the base class's
lock. Close with ``close()`` or a ``with`` block; nothing happens in ``__del__``.
"""
from __future__ import annotations

import logging
import math
import sys
from typing import Any

import numpy as np

from drivers import zwo_sdk
from drivers.base import (
    BAYER_PATTERNS,
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
    ExposureTimeoutError,
    FrameError,
    InvalidValueError,
    LibraryLoadError,
    UnsupportedError,
)
from drivers.zwo_sdk import SdkError, ZwoSdk

log = logging.getLogger(__name__)

ID_PREFIX = "zwo:"
#: how many times ASIStartExposure is tried before giving up (INDI's ASI driver: 3)
START_ATTEMPTS = 3
START_RETRY_DELAY_S = 0.1
#: how many times a failed ASIGetExpStatus is tried (INDI's ASI driver: up to 10)
STATUS_ATTEMPTS = 3
STATUS_RETRY_DELAY_S = 0.01
#: every PADDING_STRIDE-th row and column is checked for set padding bits
PADDING_STRIDE = 8

#: controls set to known values on open when the camera has them, as NINA does
#: (ASICamera.cs Initialize); None means the camera's own default. Auto stays off.
KNOWN_CONTROLS: tuple[tuple[str, int, int | None], ...] = (
    ("flip none", zwo_sdk.ASI_FLIP, zwo_sdk.ASI_FLIP_NONE),
    ("high-speed mode off", zwo_sdk.ASI_HIGH_SPEED_MODE, 0),
    ("hardware bin off", zwo_sdk.ASI_HARDWARE_BIN, 0),
    ("mono bin off", zwo_sdk.ASI_MONO_BIN, 0),
    ("overclock off", zwo_sdk.ASI_OVERCLOCK, 0),
    ("pattern adjust off", zwo_sdk.ASI_PATTERN_ADJUST, 0),
    ("gamma to its default", zwo_sdk.ASI_GAMMA, None),
    ("red white balance to its default", zwo_sdk.ASI_WB_R, None),
    ("blue white balance to its default", zwo_sdk.ASI_WB_B, None),
)

_STATUS = {
    zwo_sdk.ASI_EXP_IDLE: ExposureStatus.IDLE,
    zwo_sdk.ASI_EXP_WORKING: ExposureStatus.WORKING,
    zwo_sdk.ASI_EXP_SUCCESS: ExposureStatus.SUCCESS,
    zwo_sdk.ASI_EXP_FAILED: ExposureStatus.FAILED,
}
_DISCONNECTED = {zwo_sdk.ASI_ERROR_CAMERA_REMOVED, zwo_sdk.ASI_ERROR_INVALID_ID}


def map_sdk_error(
    error: SdkError, name: str, action: str, default: type[CameraError] = CameraError
) -> CameraError:
    """The typed error for an SDK error code, with a one-line message saying what to do."""
    code = error.code
    where = f"{name}: {action} failed ({error})"
    if code in _DISCONNECTED:
        return CameraDisconnectedError(
            f"{name} was disconnected ({error}); check the USB cable and power, then "
            "reopen the camera")
    if code == zwo_sdk.ASI_ERROR_TIMEOUT:
        return ExposureTimeoutError(f"{where}; check the USB connection")
    if code == zwo_sdk.ASI_ERROR_BUFFER_TOO_SMALL:
        return FrameError(f"{where}; the frame did not fit its buffer")
    if code in (zwo_sdk.ASI_ERROR_INVALID_CONTROL_TYPE, zwo_sdk.ASI_ERROR_INVALID_SIZE,
                zwo_sdk.ASI_ERROR_OUTOF_BOUNDARY, zwo_sdk.ASI_ERROR_INVALID_INDEX):
        return InvalidValueError(where)
    if code in (zwo_sdk.ASI_ERROR_INVALID_IMGTYPE, zwo_sdk.ASI_ERROR_INVALID_MODE):
        return UnsupportedError(where)
    if code == zwo_sdk.ASI_ERROR_CAMERA_CLOSED:
        return CameraError(f"{where}; the camera is not open, open it first")
    if code == zwo_sdk.ASI_ERROR_EXPOSURE_IN_PROGRESS:
        return ExposureFailedError(f"{where}; an exposure was still running")
    return default(where)


class ZwoCamera(Camera):
    """One ZWO ASI camera, found by SDK index and driven by its CameraID."""

    #: near the end of an exposure, poll every 5 ms (INDI polls every 1 ms in the last
    #: 0.2 s, NINA every 10 ms); the base class sleeps in steps until the expected end
    poll_interval_s = 0.005

    def __init__(
        self,
        index: int,
        *,
        name: str | None = None,
        sdk: ZwoSdk | None = None,
        clock: Clock | None = None,
        bandwidth_percent: int | None = None,
    ) -> None:
        super().__init__(clock)
        self._sdk = sdk if sdk is not None else zwo_sdk.get_sdk()
        #: position in the SDK's camera list when this camera was found
        self.index = index
        self._bandwidth_request = bandwidth_percent
        try:
            props = self._sdk.camera_property(index)
        except SdkError as error:
            raise map_sdk_error(error, f"ZWO camera {index}", "reading its properties") from None
        self.properties: dict[str, Any] = props
        #: the SDK's CameraID: every call after discovery uses it, never the index
        self.camera_id = int(props.get("CameraID", index))
        self._info = info_from_properties(props, name)
        self._usb3 = bool(props.get("IsUSB3Camera")) and bool(props.get("IsUSB3Host"))
        self._caps: dict[str, dict[str, Any]] = {}
        self._controls: CameraControls | None = None
        self._exposure_us_range: tuple[int, int] = (1, 1)
        self._buffer: Frame | None = None
        self._bandwidth: int | None = None
        self._cooler_on = False
        self._set_point_c: float | None = None
        self._exposure_s = 0.0
        self._e_per_adu: float | None = None
        self._padding_warned = False

    # -- description -------------------------------------------------------------
    @property
    def info(self) -> CameraInfo:
        """Fixed properties, from ASI_CAMERA_INFO."""
        return self._info

    @property
    def controls(self) -> CameraControls:
        """Exposure, gain and offset ranges from the control caps (read on open)."""
        if self._controls is None:
            raise CameraError(f"{self._info.name} is not open; open it to read its controls")
        return self._controls

    @property
    def control_caps(self) -> dict[str, dict[str, Any]]:
        """Every control's caps as the SDK reports them (min, max, default...)."""
        return dict(self._caps)

    def control_range(self, control: str | int) -> ControlRange | None:
        """Range of a control by SDK name ('BandWidth') or ASI_CONTROL_TYPE, if present."""
        cap = self._cap(control)
        if cap is None:
            return None
        low, high = float(cap["MinValue"]), float(cap["MaxValue"])
        default = min(max(float(cap["DefaultValue"]), low), high)
        return ControlRange(low, high, default)

    def _cap(self, control: str | int) -> dict[str, Any] | None:
        if isinstance(control, str):
            return self._caps.get(control)
        for cap in self._caps.values():
            if int(cap.get("ControlType", -1)) == control:
                return cap
        return None

    def has_control(self, control: str | int) -> bool:
        """Whether the camera has this control (by name or ASI_CONTROL_TYPE)."""
        return self._cap(control) is not None

    @property
    def bandwidth(self) -> int | None:
        """The USB bandwidth setting in use (percent), once open."""
        return self._bandwidth

    @property
    def readout_s(self) -> float:
        """Expected readout: frame bytes over the USB link, plus a fixed overhead."""
        height, width = self.frame_shape
        rate = (120e6 if self._usb3 else 25e6) * (self._bandwidth or 80) / 100
        return 0.2 + 2 * height * width / rate

    # -- hooks -------------------------------------------------------------------
    def _sdk_call(self, action: str, func: Any, *args: Any,
                  default: type[CameraError] = CameraError) -> Any:
        try:
            return func(*args)
        except SdkError as error:
            raise map_sdk_error(error, self._info.name, action, default) from None

    def _do_open(self) -> None:
        self._sdk_call("opening", self._sdk.open_camera, self.camera_id)
        try:
            self._configure()
        except BaseException:
            try:
                self._sdk.close_camera(self.camera_id)
            except SdkError:
                log.debug("close after a failed open failed", exc_info=True)
            self._controls = None
            raise

    def _configure(self) -> None:
        self._caps = self._sdk_call("reading controls", self._sdk.control_caps, self.camera_id)
        exposure = self._cap(zwo_sdk.ASI_EXPOSURE)
        gain = self.control_range(zwo_sdk.ASI_GAIN)
        if exposure is None or gain is None:
            raise UnsupportedError(f"{self._info.name} has no exposure or gain control")
        low_us, high_us = int(exposure["MinValue"]), int(exposure["MaxValue"])
        self._exposure_us_range = (max(low_us, 1), max(high_us, low_us, 1))
        offset = self.control_range(zwo_sdk.ASI_OFFSET) or ControlRange(0, 0, 0)
        min_s, max_s = self._exposure_us_range[0] / 1e6, self._exposure_us_range[1] / 1e6
        self._controls = CameraControls(
            exposure_s=ControlRange(min_s, max_s, min(max(0.1, min_s), max_s)),
            gain=gain,
            offset=offset,
        )
        self._set_normal_mode()
        for what, control, value in KNOWN_CONTROLS:
            self._set_known(what, control, value)
        bandwidth = self.control_range(zwo_sdk.ASI_BANDWIDTHOVERLOAD)
        if bandwidth is not None:
            wanted = (self._bandwidth_request if self._bandwidth_request is not None
                      else bandwidth.default)
            self._bandwidth = int(bandwidth.clamp(wanted))
            if self._bandwidth != wanted:
                log.warning("%s: bandwidth %s%% is outside %d..%d; using %d%%",
                            self._info.name, wanted, bandwidth.minimum, bandwidth.maximum,
                            self._bandwidth)
            self._set_control("setting the bandwidth", zwo_sdk.ASI_BANDWIDTHOVERLOAD,
                              self._bandwidth)
        self._apply_roi(1)
        self._set_control("setting the exposure", zwo_sdk.ASI_EXPOSURE,
                          self.exposure_us(self._controls.exposure_s.default))
        self._set_control("setting the gain", zwo_sdk.ASI_GAIN, int(gain.default))
        self._reread_e_per_adu()
        if self.has_control(zwo_sdk.ASI_OFFSET):
            self._set_control("setting the offset", zwo_sdk.ASI_OFFSET, int(offset.default))
        if self._info.has_cooler and self.has_control(zwo_sdk.ASI_COOLER_ON):
            on, _ = self._sdk_call("reading the cooler", self._sdk.get_control_value,
                                   self.camera_id, zwo_sdk.ASI_COOLER_ON)
            self._cooler_on = bool(on)
            if self.has_control(zwo_sdk.ASI_TARGET_TEMP):
                target, _ = self._sdk_call("reading the set-point",
                                           self._sdk.get_control_value, self.camera_id,
                                           zwo_sdk.ASI_TARGET_TEMP)
                self._set_point_c = float(target)
        self._binning = 1

    def _set_normal_mode(self) -> None:
        """Normal (not triggered) mode on cameras that have trigger modes."""
        if not self.properties.get("IsTriggerCam"):
            return
        try:
            modes = self._sdk.supported_camera_modes(self.camera_id)
            if zwo_sdk.ASI_MODE_NORMAL in modes:
                self._sdk.set_camera_mode(self.camera_id, zwo_sdk.ASI_MODE_NORMAL)
                return
            log.warning("%s lists no normal mode (modes %s); exposures may wait for a "
                        "trigger", self._info.name, modes)
        except SdkError as error:
            if error.code in _DISCONNECTED:
                raise map_sdk_error(error, self._info.name, "setting normal mode") from None
            log.warning("%s: cannot set normal (untriggered) mode (%s); exposures may wait "
                        "for a trigger", self._info.name, error)

    def _set_known(self, what: str, control: int, value: int | None) -> None:
        """Set a control the camera has to a known value (None: its default), auto off.

        A control that refuses is logged and left: these only make frames predictable.
        """
        limits = self.control_range(control)
        cap = self._cap(control)
        if limits is None or cap is None or not cap.get("IsWritable", True):
            return
        wanted = int(limits.default if value is None else limits.clamp(value))
        try:
            self._set_control(f"setting {what}", control, wanted)
        except CameraDisconnectedError:
            raise
        except CameraError as error:
            log.warning("%s; left as it was", error)

    def _reread_e_per_adu(self) -> None:
        """Keep the ElecPerADU the camera reports now (it changes with the gain)."""
        try:
            props = self._sdk.camera_property_by_id(self.camera_id)
        except SdkError as error:
            if error.code in _DISCONNECTED:
                raise map_sdk_error(error, self._info.name, "reading e-/ADU") from None
            log.debug("%s: cannot re-read e-/ADU (%s); using the gain law",
                      self._info.name, error)
            self._e_per_adu = None
            return
        self._e_per_adu = _e_per_adu(props)

    def _set_control(self, action: str, control: int, value: int) -> int:
        """Set a control (auto off) and return what the camera kept (it clamps silently)."""
        self._sdk_call(action, self._sdk.set_control_value, self.camera_id, control, int(value),
                       False, default=InvalidValueError)
        kept, _ = self._sdk_call(action, self._sdk.get_control_value, self.camera_id, control)
        return int(kept)

    def _apply_roi(self, binning: int) -> None:
        height, width = binned_shape(self._info, binning)
        self._sdk_call(f"setting bin {binning}", self._sdk.set_roi_format, self.camera_id, width,
                       height, binning, zwo_sdk.ASI_IMG_RAW16, default=UnsupportedError)
        self._sdk_call("setting the ROI start", self._sdk.set_start_position, self.camera_id, 0, 0)
        got = self._sdk_call("reading the ROI", self._sdk.get_roi_format, self.camera_id)
        if tuple(got) != (width, height, binning, zwo_sdk.ASI_IMG_RAW16):
            raise UnsupportedError(
                f"{self._info.name} took ROI {got[0]}x{got[1]} bin {got[2]} type {got[3]} "
                f"instead of {width}x{height} bin {binning} RAW16; bin {binning} is not usable")

    def _do_close(self) -> None:
        self._buffer = None
        try:
            self._sdk.close_camera(self.camera_id)
        except SdkError as error:
            # A removed camera cannot be closed; there is nothing left to release.
            log.warning("%s: close reported %s", self._info.name, error)

    def _do_set_gain(self, gain: int) -> None:
        kept = self._set_control("setting the gain", zwo_sdk.ASI_GAIN, gain)
        self._reread_e_per_adu()
        if kept != gain:
            raise InvalidValueError(f"{self._info.name} kept gain {kept} instead of {gain}")

    def reported_e_per_adu(self) -> float | None:
        """Native e-/ADU at the current gain, as ElecPerADU re-read after the last gain change.

        The SDK reports ElecPerADU per native ADU of the sensor's bit depth, not per
        16-bit-scaled RAW16 step (divide by 2^(16 - bit_depth) for the latter). That is
        the best public knowledge, not a ZWO statement: NINA writes the value unchanged
        as EGAIN while it reports ZWO frames as 16-bit, and re-reads the camera's
        properties after each gain change (NINA.Equipment ASICamera.cs); INDI's
        indi_asi only logs it; panoptes/POCS#899 found RAW16 values 16x or 64x the
        native ones and EGAIN from the SDK not scaled by that. Without a reported value
        this falls back to the gain-0 value and the 0.1 dB law.
        """
        if self._e_per_adu is not None:
            return self._e_per_adu
        return super().reported_e_per_adu()

    def _do_set_offset(self, offset: int) -> None:
        kept = self._set_control("setting the offset", zwo_sdk.ASI_OFFSET, offset)
        if kept != offset:
            raise InvalidValueError(
                f"{self._info.name} kept offset {kept} instead of {offset}")

    def _do_set_binning(self, binning: int) -> None:
        self._apply_roi(binning)

    def exposure_us(self, exposure_s: float) -> int:
        """Seconds to the SDK's whole microseconds, within the exposure control's range."""
        low, high = self._exposure_us_range
        return int(min(max(round(exposure_s * 1e6), low), high))

    def _do_start_exposure(self, exposure_s: float) -> float:
        wanted_us = self.exposure_us(exposure_s)
        kept_us = self._set_control("setting the exposure", zwo_sdk.ASI_EXPOSURE, wanted_us)
        if kept_us != wanted_us:
            log.warning("%s applied %d us for the %d us asked (clamped or rounded by the "
                        "camera)", self._info.name, kept_us, wanted_us)
        self._exposure_s = kept_us / 1e6
        for attempt in range(1, START_ATTEMPTS + 1):
            try:
                self._sdk.start_exposure(self.camera_id, False)
                return self._exposure_s
            except SdkError as error:
                mapped = map_sdk_error(error, self._info.name, "starting an exposure",
                                       ExposureFailedError)
                if isinstance(mapped, CameraDisconnectedError) or attempt == START_ATTEMPTS:
                    raise mapped from None
                log.warning("%s; trying again (%d of %d)", mapped, attempt + 1,
                            START_ATTEMPTS)
                if error.code == zwo_sdk.ASI_ERROR_EXPOSURE_IN_PROGRESS:
                    self._stop_quietly()
                self.clock.sleep(START_RETRY_DELAY_S)
        raise ExposureFailedError(f"{self._info.name} could not start an exposure")

    def _stop_quietly(self) -> None:
        try:
            self._sdk.stop_exposure(self.camera_id)
        except SdkError:
            log.debug("stop before restart failed", exc_info=True)

    def _do_exposure_status(self) -> ExposureStatus:
        for attempt in range(1, STATUS_ATTEMPTS + 1):
            try:
                code = self._sdk.exposure_status(self.camera_id)
                break
            except SdkError as error:
                mapped = map_sdk_error(error, self._info.name, "polling the exposure",
                                       ExposureFailedError)
                if isinstance(mapped, CameraDisconnectedError) or attempt == STATUS_ATTEMPTS:
                    raise mapped from None
                log.debug("%s; polling again (%d of %d)", mapped, attempt + 1,
                          STATUS_ATTEMPTS)
                self.clock.sleep(STATUS_RETRY_DELAY_S)
        status = _STATUS.get(int(code))
        if status is None:
            raise ExposureFailedError(f"{self._info.name} reported unknown status {code}")
        return status

    def _do_read_frame(self, out: Frame | None) -> Frame:
        shape = self.frame_shape
        if out is None:
            if self._buffer is None or self._buffer.shape != shape:
                self._buffer = None  # let the old one go before allocating the new one
                self._buffer = np.empty(shape, dtype=np.uint16)
            target = self._buffer
        else:
            target = out
        expected = 2 * shape[0] * shape[1]
        delivered = self._sdk_call("reading the frame", self._sdk.get_data_after_exposure,
                                   self.camera_id, target, default=ExposureFailedError)
        if delivered != expected:
            raise FrameError(f"{self._info.name} returned {delivered} of {expected} bytes; "
                             "frame rejected")
        if sys.byteorder == "big":  # RAW16 arrives little-endian
            target.byteswap(inplace=True)
        if not self._padding_warned and self._binning == 1:
            self._check_padding(target)
        return target

    def _check_padding(self, frame: Frame) -> None:
        """Warn once when the low 16 - bit_depth bits, zero in MSB-aligned RAW16, are set.

        Checked on a subsample and at bin 1 only (binned data may be averaged, which
        can fill the low bits).
        """
        shift = 16 - self._info.bit_depth
        if shift <= 0:
            return
        sample = frame[::PADDING_STRIDE, ::PADDING_STRIDE]
        if np.any(sample & np.uint16((1 << shift) - 1)):
            self._padding_warned = True
            log.warning(
                "%s: pixel values have their low %d bits set, so they are not %d-bit "
                "values shifted to 16 bits as the camera reports; native-ADU figures "
                "(bit depth, e-/ADU) may be wrong for this camera, treat it as 16-bit",
                self._info.name, shift, self._info.bit_depth)

    def _do_abort_exposure(self) -> None:
        self._sdk_call("stopping the exposure", self._sdk.stop_exposure, self.camera_id)

    def _do_temperature_c(self) -> float | None:
        if not self.has_control(zwo_sdk.ASI_TEMPERATURE):
            return None
        value, _ = self._sdk_call("reading the temperature", self._sdk.get_control_value,
                                  self.camera_id, zwo_sdk.ASI_TEMPERATURE)
        return float(value) / 10.0

    # -- cooling -----------------------------------------------------------------
    def set_cooler(self, enabled: bool, set_point_c: float | None = None) -> None:
        """Switch the cooler; the set-point is whole °C within the camera's range."""
        if not self._info.has_cooler:
            super().set_cooler(enabled, set_point_c)
        if set_point_c is not None and not math.isfinite(set_point_c):
            raise InvalidValueError(f"set-point must be a temperature, got {set_point_c}")
        with self._lock:
            self._require_open()
            if set_point_c is not None:
                target = round(set_point_c)
                limits = self.control_range(zwo_sdk.ASI_TARGET_TEMP)
                if limits is not None and not limits.contains(target):
                    clamped = round(limits.clamp(target))
                    log.warning("%s: set-point %g °C is outside %g..%g °C; using %d °C",
                                self._info.name, set_point_c, limits.minimum, limits.maximum,
                                clamped)
                    target = clamped
                kept = self._set_control("setting the set-point", zwo_sdk.ASI_TARGET_TEMP,
                                         target)
                self._set_point_c = float(kept)
            self._set_control("switching the cooler", zwo_sdk.ASI_COOLER_ON, int(enabled))
            self._cooler_on = bool(enabled)

    def cooler_state(self) -> tuple[bool, float | None]:
        """(cooler on, set-point °C) as last set or read on open."""
        return (self._cooler_on, self._set_point_c if self._cooler_on else None)

    def cooler_power_percent(self) -> float | None:
        """Cooler power, when the camera reports it."""
        if not self.has_control(zwo_sdk.ASI_COOLER_POWER_PERC):
            return None
        with self._lock:
            self._require_open()
            value, _ = self._sdk_call("reading cooler power", self._sdk.get_control_value,
                                      self.camera_id, zwo_sdk.ASI_COOLER_POWER_PERC)
        return float(value)


def info_from_properties(props: dict[str, Any], name: str | None = None) -> CameraInfo:
    """CameraInfo from ASI_CAMERA_INFO (zwoasi's dict)."""
    model = str(props.get("Name") or "ZWO camera")
    bins = tuple(sorted({int(b) for b in props.get("SupportedBins") or [1] if int(b) > 0}))
    if 1 not in bins:
        bins = (1, *bins)
    bayer: str | None = None
    if props.get("IsColorCam"):
        code = int(props.get("BayerPattern", 0))
        if not 0 <= code < len(BAYER_PATTERNS):
            raise UnsupportedError(f"{model} reports unknown Bayer pattern code {code}")
        bayer = BAYER_PATTERNS[code]
    bit_depth = int(props.get("BitDepth") or 0)
    if not 8 <= bit_depth <= 16:
        log.warning("%s reports bit depth %s; assuming 16", model, bit_depth)
        bit_depth = 16
    return CameraInfo(
        name=name or model,
        model=model,
        driver="zwo",
        width=int(props["MaxWidth"]),
        height=int(props["MaxHeight"]),
        bit_depth=bit_depth,
        bayer_pattern=bayer,
        pixel_size_um=float(props.get("PixelSize") or 0.0),
        e_per_adu=_e_per_adu(props),
        supported_bins=bins,
        has_cooler=bool(props.get("IsCoolerCam")),
    )


def _e_per_adu(props: dict[str, Any]) -> float | None:
    """ElecPerADU (a C float) to 7 significant digits: 3.9, not 3.9000000953674316."""
    value = float(props.get("ElecPerADU") or 0.0)
    return float(f"{value:.7g}") if value > 0 and math.isfinite(value) else None


def _unique_names(models: list[str]) -> list[str]:
    """Model names, with ' #2', ' #3'... on the second and later of identical models."""
    seen: dict[str, int] = {}
    names = []
    for model in models:
        seen[model] = seen.get(model, 0) + 1
        names.append(model if seen[model] == 1 else f"{model} #{seen[model]}")
    return names


def _summary(info: CameraInfo, props: dict[str, Any]) -> str:
    kind = f"colour {info.bayer_pattern}" if info.bayer_pattern else "mono"
    extras = [f"{info.width}x{info.height}", f"{info.bit_depth}-bit", kind,
              f"{info.pixel_size_um:g} um"]
    if info.has_cooler:
        extras.append("cooled")
    extras.append("USB3" if props.get("IsUSB3Camera") else "USB2")
    return f"{info.model}: {', '.join(extras)}"


def _scan(sdk: ZwoSdk) -> list[tuple[int, str, dict[str, Any]]]:
    """(index, unique name, properties) of every connected camera."""
    try:
        count = sdk.num_cameras()
        props = [sdk.camera_property(i) for i in range(count)]
    except SdkError as error:
        raise map_sdk_error(error, "ZWO SDK", "listing cameras") from None
    names = _unique_names([str(p.get("Name") or "ZWO camera") for p in props])
    return [(i, names[i], props[i]) for i in range(count)]


def list_zwo_cameras(sdk: ZwoSdk | None = None) -> tuple[list[CameraEntry], str | None]:
    """Connected ZWO cameras, plus a one-line note when there are none or no SDK."""
    if sdk is None:
        try:
            sdk = zwo_sdk.get_sdk()
        except LibraryLoadError as error:
            return [], str(error)
    entries = []
    for index, name, props in _scan(sdk):
        info = info_from_properties(props, name)
        entries.append(CameraEntry(f"{ID_PREFIX}{index}", name, "zwo", _summary(info, props)))
    if not entries:
        return [], ("no ZWO camera found; check the USB cable and power (run "
                    "'autoflats doctor' to check the setup)")
    return entries, None


def open_zwo_camera(
    camera_id: str, *, sdk: ZwoSdk | None = None, clock: Clock | None = None
) -> ZwoCamera | None:
    """A (not yet opened) camera for 'zwo:<index>' or a camera's name; None if no match."""
    is_zwo_id = camera_id.startswith(ID_PREFIX)
    if sdk is None:
        try:
            sdk = zwo_sdk.get_sdk()
        except LibraryLoadError:
            if is_zwo_id:
                raise
            return None
    cameras = _scan(sdk)
    if is_zwo_id:
        text = camera_id[len(ID_PREFIX):]
        if not text.isdigit():
            raise InvalidValueError(f"bad camera id {camera_id!r}; use zwo:0, zwo:1...")
        index = int(text)
        match = [c for c in cameras if c[0] == index]
    else:
        wanted = camera_id.strip().casefold()
        match = [c for c in cameras if c[1].casefold() == wanted]
        if not match:  # 'ASI2600MM Pro' for 'ZWO ASI2600MM Pro', when unambiguous
            loose = [c for c in cameras
                     if c[1].casefold().removeprefix("zwo ") == wanted.removeprefix("zwo ")]
            match = loose if len(loose) == 1 else []
    if not match:
        return None
    index, name, _ = match[0]
    return ZwoCamera(index, name=name, sdk=sdk, clock=clock)


__all__ = ["ZwoCamera", "info_from_properties", "list_zwo_cameras", "map_sdk_error",
           "open_zwo_camera"]

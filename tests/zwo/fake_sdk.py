"""A fake ZWO SDK with the real one's behaviour, on an injectable clock.

It implements ``drivers.zwo_sdk.ZwoSdk`` the way libASICamera2 behaves through
zwoasi: camera properties readable without opening; control calls on a closed
camera return ASI_ERROR_CAMERA_CLOSED; unknown controls ASI_ERROR_INVALID_CONTROL_TYPE;
out-of-range control values are clamped silently; ROI widths must be multiples of 8
and heights of 2 (ASI_ERROR_INVALID_SIZE); an exposure is WORKING for its exposure
time plus readout and then SUCCESS (or FAILED); data is RAW16 little-endian,
MSB-aligned (a 12-bit pixel is value x 16); a removed camera answers
ASI_ERROR_CAMERA_REMOVED to everything. Faults are injected per exposure.

Cameras are found by index but driven by CameraID, and the IDs differ from the
indices (3, 7, 11...), as after a replug or with several cameras: a driver that
passes an index where the SDK wants an ID gets ASI_ERROR_INVALID_ID. ElecPerADU
follows the gain once the camera is open (the 0.1 dB law, plus a high-conversion-gain
step on models that have one), so a driver must re-read it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from drivers import zwo_sdk as z
from drivers.clock import Clock, SimulatedClock
from drivers.zwo_sdk import SdkError

#: relative response of the Bayer channels, so a test can see which pixel is which
CHANNEL_RESPONSE = {"R": 0.5, "G": 1.0, "B": 0.25}
BAYER_LAYOUT = ("RGGB", "BGGR", "GRBG", "GBRG")  # ASI_BAYER_RG, _BG, _GR, _GB


@dataclass(frozen=True)
class FakeModel:
    """One camera model: ASI_CAMERA_INFO plus the control ranges it reports."""

    name: str = "ZWO ASI1600MM Pro"
    width: int = 100
    height: int = 70
    bit_depth: int = 12
    color: bool = False
    bayer_code: int = 0
    pixel_size_um: float = 3.8
    e_per_adu: float = 5.0
    bins: tuple[int, ...] = (1, 2, 3, 4)
    cooler: bool = True
    usb3: bool = True
    exposure_min_us: int = 32
    exposure_max_us: int = 2_000_000_000
    gain_max: int = 300
    gain_default: int = 139
    offset_max: int = 255
    offset_default: int = 21
    bandwidth: tuple[int, int, int] = (40, 100, 50)
    target_temp: tuple[int, int, int] = (-40, 30, 0)
    ambient_c: float = 21.3
    #: native ADU per second at gain 0 on a green (or mono) pixel
    flux_adu_s: float = 400.0
    readout_s: float = 0.05
    #: gain at which e-/ADU drops by hcg_factor (IMX455/IMX571 style), or None
    hcg_gain: int | None = None
    hcg_factor: float = 3.0
    #: the camera has trigger modes (starts in one; a driver must set normal mode)
    trigger: bool = False
    #: the exposure grid the camera rounds to, in microseconds
    exposure_step_us: int = 1
    #: deliver RAW16 with the lowest padding bit set (data not MSB-aligned as reported)
    padding_bits: bool = False


#: small stand-ins for real models, covering 12/14/16-bit and every Bayer code
MODELS = {
    "mono12": FakeModel(),
    "color14": FakeModel(name="ZWO ASI294MC Pro", width=96, height=64, bit_depth=14,
                         color=True, bayer_code=0, pixel_size_um=4.63, e_per_adu=3.9,
                         gain_max=570, gain_default=120, offset_default=30),
    "mono16": FakeModel(name="ZWO ASI2600MM Pro", width=126, height=84, bit_depth=16,
                        pixel_size_um=3.76, e_per_adu=0.77, gain_max=700, gain_default=100,
                        offset_default=50, flux_adu_s=4000.0, hcg_gain=100, trigger=True),
    "uncooled": FakeModel(name="ZWO ASI120MM Mini", width=64, height=48, bit_depth=12,
                          cooler=False, usb3=False, bins=(1, 2), exposure_min_us=64,
                          exposure_max_us=60_000_000, gain_max=100, gain_default=50,
                          offset_max=100, offset_default=8),
}


@dataclass
class FakeFaults:
    """Faults by exposure number (1 = the first exposure started on this camera)."""

    fail_at: set[int] = field(default_factory=set)
    hang_at: set[int] = field(default_factory=set)
    short_at: set[int] = field(default_factory=set)
    read_timeout_at: set[int] = field(default_factory=set)
    #: start attempts (1 = first call of start_exposure) answered with an error code
    start_errors: dict[int, int] = field(default_factory=dict)
    remove_at: int | None = None
    #: the next this many status reads fail with ASI_ERROR_GENERAL_ERROR
    status_errors: int = 0


@dataclass
class _Control:
    name: str
    control_type: int
    minimum: int
    maximum: int
    default: int
    writable: bool = True
    auto_supported: bool = False

    def caps(self) -> dict[str, Any]:
        return {"Name": self.name, "Description": self.name, "MaxValue": self.maximum,
                "MinValue": self.minimum, "DefaultValue": self.default,
                "IsAutoSupported": self.auto_supported, "IsWritable": self.writable,
                "ControlType": self.control_type}


def _controls(model: FakeModel) -> list[_Control]:
    controls = [
        _Control("Gain", z.ASI_GAIN, 0, model.gain_max, model.gain_default, auto_supported=True),
        _Control("Exposure", z.ASI_EXPOSURE, model.exposure_min_us, model.exposure_max_us,
                 10_000, auto_supported=True),
        _Control("Offset", z.ASI_OFFSET, 0, model.offset_max, model.offset_default),
        _Control("BandWidth", z.ASI_BANDWIDTHOVERLOAD, *model.bandwidth, auto_supported=True),
        _Control("Flip", z.ASI_FLIP, 0, 3, 0),
        _Control("AutoExpMaxGain", z.ASI_AUTO_MAX_GAIN, 0, model.gain_max, model.gain_max // 2),
        _Control("AutoExpMaxExpMS", z.ASI_AUTO_MAX_EXP, 1, 60_000, 100),
        _Control("AutoExpTargetBrightness", z.ASI_AUTO_TARGET_BRIGHTNESS, 50, 160, 100),
        _Control("HighSpeedMode", z.ASI_HIGH_SPEED_MODE, 0, 1, 0),
        _Control("Temperature", z.ASI_TEMPERATURE, -500, 1000, 20, writable=False),
        _Control("Gamma", z.ASI_GAMMA, 1, 100, 50),
        _Control("HardwareBin", z.ASI_HARDWARE_BIN, 0, 1, 0),
        _Control("Overclock", z.ASI_OVERCLOCK, 0, 1, 0),
        _Control("PatternAdjust", z.ASI_PATTERN_ADJUST, 0, 1, 0),
    ]
    if model.color:
        controls += [_Control("WB_R", z.ASI_WB_R, 1, 99, 52, auto_supported=True),
                     _Control("WB_B", z.ASI_WB_B, 1, 99, 95, auto_supported=True),
                     _Control("MonoBin", z.ASI_MONO_BIN, 0, 1, 0)]
    if model.cooler:
        controls += [_Control("CoolerPowerPerc", z.ASI_COOLER_POWER_PERC, 0, 100, 0,
                              writable=False),
                     _Control("TargetTemp", z.ASI_TARGET_TEMP, *model.target_temp),
                     _Control("CoolerOn", z.ASI_COOLER_ON, 0, 1, 0)]
    return controls


#: where a camera's settings start on open: what another program may have left
LEFT_OVER = {z.ASI_FLIP: 3, z.ASI_HIGH_SPEED_MODE: 1, z.ASI_HARDWARE_BIN: 1,
             z.ASI_OVERCLOCK: 1, z.ASI_PATTERN_ADJUST: 1, z.ASI_GAMMA: 80, z.ASI_MONO_BIN: 1,
             z.ASI_WB_R: 70, z.ASI_WB_B: 30}


class FakeCamera:
    """One connected camera's state inside the fake SDK."""

    def __init__(self, model: FakeModel, clock: Clock, camera_id: int) -> None:
        self.model = model
        self.clock = clock
        self.camera_id = camera_id
        self.faults = FakeFaults()
        self.controls = {c.control_type: c for c in _controls(model)}
        self.values = {c.control_type: c.default for c in self.controls.values()}
        self.values.update({k: v for k, v in LEFT_OVER.items() if k in self.controls})
        self.auto = {z.ASI_EXPOSURE, z.ASI_GAIN} | ({z.ASI_WB_R} if model.color else set())
        self.mode = z.ASI_MODE_TRIG_SOFT_EDGE if model.trigger else z.ASI_MODE_NORMAL
        self.status_reads = 0
        self.is_open = False
        self.removed = False
        self.roi = (model.width // 8 * 8, model.height // 2 * 2, 1, z.ASI_IMG_RAW8)
        self.start_pos = (0, 0)
        self.status = z.ASI_EXP_IDLE
        self.exposures_started = 0
        self.start_calls = 0
        self.reads = 0
        self.stops = 0
        self.calls: list[tuple[str, tuple[Any, ...]]] = []
        self._ends_s = 0.0
        self._exposure_us = 0
        self._current = 0
        self._cooler_since_s = 0.0

    # the current exposure's fate
    def _fault(self, kind: str) -> bool:
        faults: set[int] = getattr(self.faults, kind)
        return self._current in faults

    def temperature_c(self) -> float:
        model = self.model
        if not (model.cooler and self.values[z.ASI_COOLER_ON]):
            return model.ambient_c
        target = float(self.values[z.ASI_TARGET_TEMP])
        elapsed = self.clock.monotonic() - self._cooler_since_s
        step = min(elapsed * 0.5, abs(model.ambient_c - target))  # 0.5 °C/s
        return model.ambient_c - step if target < model.ambient_c else model.ambient_c + step

    def e_per_adu(self) -> float:
        """ElecPerADU as the SDK reports it: the gain-0 value closed, the current gain's open."""
        model = self.model
        if not self.is_open:
            return model.e_per_adu
        gain = self.values[z.ASI_GAIN]
        value = model.e_per_adu / 10 ** (gain / 200)
        if model.hcg_gain is not None and gain >= model.hcg_gain:
            value /= model.hcg_factor
        return value

    def pixels(self) -> np.ndarray:
        """The finished frame in native ADU, per channel, for the current ROI."""
        width, height, bins, _ = self.roi
        model = self.model
        gain = 10 ** (self.values[z.ASI_GAIN] / 200)
        bias = 2.0 * self.values[z.ASI_OFFSET]
        level = model.flux_adu_s * bins * bins * gain * self._exposure_us / 1e6
        response = np.ones((height, width), dtype=np.float64)
        if model.color:
            layout = BAYER_LAYOUT[model.bayer_code]
            for dy in (0, 1):
                for dx in (0, 1):
                    response[dy::2, dx::2] = CHANNEL_RESPONSE[layout[2 * dy + dx]]
        # a gentle left-to-right ramp, so frames are not flat constants
        response *= np.linspace(0.9, 1.0, width)[None, :]
        native = np.rint(bias + level * response)
        return np.clip(native, 0, 2**model.bit_depth - 1).astype(np.uint16)


class FakeZwoSdk:
    """Drop-in for ``drivers.zwo_sdk.ZwoasiSdk`` (see the module docstring)."""

    library_path = "/fake/libASICamera2.so.1.41"

    def __init__(self, *models: FakeModel | str, clock: Clock | None = None,
                 ids: tuple[int, ...] | None = None) -> None:
        self.clock: Clock = clock if clock is not None else SimulatedClock(0.0)
        ids = ids if ids is not None else tuple(3 + 4 * i for i in range(len(models)))
        self.cameras = [FakeCamera(MODELS[m] if isinstance(m, str) else m, self.clock, i)
                        for m, i in zip(models, ids, strict=True)]

    # -- helpers -------------------------------------------------------------------
    def remove(self, index: int) -> None:
        """Unplug the camera at ``index`` of ``cameras``: it answers CAMERA_REMOVED."""
        self.cameras[index].removed = True

    def _present(self) -> list[FakeCamera]:
        return [c for c in self.cameras if not c.removed]

    def _camera(self, camera_id: int, *, need_open: bool = True) -> FakeCamera:
        camera = next((c for c in self.cameras if c.camera_id == camera_id), None)
        if camera is None:
            raise SdkError(z.ASI_ERROR_INVALID_ID)
        if camera.removed:
            raise SdkError(z.ASI_ERROR_CAMERA_REMOVED)
        if need_open and not camera.is_open:
            raise SdkError(z.ASI_ERROR_CAMERA_CLOSED)
        return camera

    # -- the SDK surface -----------------------------------------------------------
    def sdk_version(self) -> str:
        """Version string, as the real layer formats it."""
        return "1.41"

    def num_cameras(self) -> int:
        """Cameras still plugged in (removed ones vanish from the count)."""
        return sum(not c.removed for c in self.cameras)

    def camera_property(self, index: int) -> dict[str, Any]:
        """ASI_CAMERA_INFO of the index-th camera plugged in now; no need to open it."""
        present = self._present()
        if not 0 <= index < len(present):
            raise SdkError(z.ASI_ERROR_INVALID_INDEX)
        return self._info(present[index])

    def camera_property_by_id(self, camera_id: int) -> dict[str, Any]:
        """ASI_CAMERA_INFO by CameraID."""
        return self._info(self._camera(camera_id, need_open=False))

    def _info(self, camera: FakeCamera) -> dict[str, Any]:
        m = camera.model
        formats = [z.ASI_IMG_RAW8, z.ASI_IMG_RAW16]
        if m.color:
            formats += [z.ASI_IMG_RGB24, z.ASI_IMG_Y8]
        return {
            "Name": m.name, "CameraID": camera.camera_id, "MaxHeight": m.height,
            "MaxWidth": m.width,
            "IsColorCam": m.color, "BayerPattern": m.bayer_code,
            "SupportedBins": list(m.bins), "SupportedVideoFormat": formats,
            "PixelSize": m.pixel_size_um, "MechanicalShutter": False, "ST4Port": True,
            "IsCoolerCam": m.cooler, "IsUSB3Host": m.usb3, "IsUSB3Camera": m.usb3,
            "ElecPerADU": camera.e_per_adu(), "BitDepth": m.bit_depth,
            "IsTriggerCam": m.trigger,
        }

    def supported_camera_modes(self, camera_id: int) -> list[int]:
        """Normal and two trigger modes on trigger cameras, normal only otherwise."""
        camera = self._camera(camera_id)
        return [0, 1, 2] if camera.model.trigger else [0]

    def get_camera_mode(self, camera_id: int) -> int:
        """The current mode."""
        return self._camera(camera_id).mode

    def set_camera_mode(self, camera_id: int, mode: int) -> None:
        """Set a supported mode; ASI_ERROR_INVALID_MODE otherwise."""
        if mode not in self.supported_camera_modes(camera_id):
            raise SdkError(z.ASI_ERROR_INVALID_MODE)
        camera = self._camera(camera_id)
        camera.calls.append(("mode", (mode,)))
        camera.mode = mode

    def open_camera(self, camera_id: int) -> None:
        """Open and init (opening twice is harmless, as in the SDK)."""
        camera = self._camera(camera_id, need_open=False)
        camera.calls.append(("open", ()))
        camera.is_open = True

    def close_camera(self, camera_id: int) -> None:
        """Close; stops any exposure."""
        camera = self._camera(camera_id, need_open=False)
        camera.calls.append(("close", ()))
        camera.is_open = False
        camera.status = z.ASI_EXP_IDLE

    def control_caps(self, camera_id: int) -> dict[str, dict[str, Any]]:
        """Every control's caps."""
        camera = self._camera(camera_id)
        return {c.name: c.caps() for c in camera.controls.values()}

    def get_control_value(self, camera_id: int, control_type: int) -> tuple[int, bool]:
        """(value, auto); the temperature is °C x 10."""
        camera = self._camera(camera_id)
        if control_type not in camera.controls:
            raise SdkError(z.ASI_ERROR_INVALID_CONTROL_TYPE)
        if control_type == z.ASI_TEMPERATURE:
            return round(camera.temperature_c() * 10), False
        if control_type == z.ASI_COOLER_POWER_PERC:
            return (60 if camera.values.get(z.ASI_COOLER_ON) else 0), False
        return camera.values[control_type], control_type in camera.auto

    def set_control_value(
        self, camera_id: int, control_type: int, value: int, auto: bool = False
    ) -> None:
        """Set a control; out-of-range values are clamped silently, like the SDK."""
        camera = self._camera(camera_id)
        camera.calls.append(("set", (control_type, value, auto)))
        control = camera.controls.get(control_type)
        if control is None:
            raise SdkError(z.ASI_ERROR_INVALID_CONTROL_TYPE)
        if not control.writable:
            raise SdkError(z.ASI_ERROR_GENERAL_ERROR)
        if control_type == z.ASI_COOLER_ON and value and not camera.values[control_type]:
            camera._cooler_since_s = self.clock.monotonic()
        kept = int(min(max(int(value), control.minimum), control.maximum))
        if control_type == z.ASI_EXPOSURE:
            step = camera.model.exposure_step_us
            kept = max(control.minimum, (kept + step // 2) // step * step)
        camera.values[control_type] = kept
        if auto and control.auto_supported:
            camera.auto.add(control_type)
        else:
            camera.auto.discard(control_type)

    def get_roi_format(self, camera_id: int) -> tuple[int, int, int, int]:
        """(width, height, bins, image type)."""
        return self._camera(camera_id).roi

    def set_roi_format(
        self, camera_id: int, width: int, height: int, bins: int, image_type: int
    ) -> None:
        """Check the ROI as the SDK does."""
        camera = self._camera(camera_id)
        camera.calls.append(("roi", (width, height, bins, image_type)))
        m = camera.model
        if (bins not in m.bins or width < 8 or height < 2 or width % 8 or height % 2
                or width * bins > m.width or height * bins > m.height):
            raise SdkError(z.ASI_ERROR_INVALID_SIZE)
        if image_type not in self._info(camera)["SupportedVideoFormat"]:
            raise SdkError(z.ASI_ERROR_INVALID_IMGTYPE)
        if camera.status == z.ASI_EXP_WORKING:
            raise SdkError(z.ASI_ERROR_EXPOSURE_IN_PROGRESS)
        camera.roi = (width, height, bins, image_type)

    def set_start_position(self, camera_id: int, x: int, y: int) -> None:
        """ROI start, in binned pixels."""
        camera = self._camera(camera_id)
        width, height, bins, _ = camera.roi
        if x < 0 or y < 0 or (x + width) * bins > camera.model.width or (
                (y + height) * bins > camera.model.height):
            raise SdkError(z.ASI_ERROR_OUTOF_BOUNDARY)
        camera.start_pos = (x, y)

    def start_exposure(self, camera_id: int, is_dark: bool = False) -> None:
        """Start: WORKING for exposure + readout."""
        camera = self._camera(camera_id)
        camera.start_calls += 1
        code = camera.faults.start_errors.get(camera.start_calls)
        if code is not None:
            if code == z.ASI_ERROR_CAMERA_REMOVED:
                camera.removed = True
            raise SdkError(code)
        if camera.status == z.ASI_EXP_WORKING:
            raise SdkError(z.ASI_ERROR_EXPOSURE_IN_PROGRESS)
        if camera.mode != z.ASI_MODE_NORMAL:
            raise SdkError(z.ASI_ERROR_INVALID_MODE)  # it would wait for a trigger
        camera.exposures_started += 1
        camera._current = camera.exposures_started
        camera._exposure_us = camera.values[z.ASI_EXPOSURE]
        camera._ends_s = (self.clock.monotonic() + camera._exposure_us / 1e6
                          + camera.model.readout_s)
        camera.status = z.ASI_EXP_WORKING
        camera.calls.append(("start", (camera._exposure_us,)))

    def stop_exposure(self, camera_id: int) -> None:
        """Stop; the camera goes idle."""
        camera = self._camera(camera_id)
        camera.stops += 1
        camera.calls.append(("stop", ()))
        camera.status = z.ASI_EXP_IDLE

    def exposure_status(self, camera_id: int) -> int:
        """WORKING until the end time, then SUCCESS or FAILED; a hung one never ends."""
        camera = self._camera(camera_id)
        camera.status_reads += 1
        if camera.faults.status_errors > 0:
            camera.faults.status_errors -= 1
            raise SdkError(z.ASI_ERROR_GENERAL_ERROR)
        if camera.faults.remove_at is not None and camera._current >= camera.faults.remove_at:
            camera.removed = True
            raise SdkError(z.ASI_ERROR_CAMERA_REMOVED)
        if camera.status == z.ASI_EXP_WORKING and not camera._fault("hang_at") and (
                self.clock.monotonic() >= camera._ends_s):
            camera.status = z.ASI_EXP_FAILED if camera._fault("fail_at") else z.ASI_EXP_SUCCESS
        return camera.status

    def get_data_after_exposure(self, camera_id: int, buffer: Any) -> int:
        """Fill ``buffer`` with RAW16 little-endian MSB-aligned pixels; bytes delivered."""
        camera = self._camera(camera_id)
        if camera.status != z.ASI_EXP_SUCCESS:
            raise SdkError(z.ASI_ERROR_GENERAL_ERROR)
        if camera._fault("read_timeout_at"):
            camera.status = z.ASI_EXP_IDLE
            raise SdkError(z.ASI_ERROR_TIMEOUT)
        width, height, _, image_type = camera.roi
        if image_type != z.ASI_IMG_RAW16:
            raise SdkError(z.ASI_ERROR_INVALID_IMGTYPE)
        view = memoryview(buffer).cast("B")
        needed = 2 * width * height
        if view.nbytes < needed:
            raise SdkError(z.ASI_ERROR_BUFFER_TOO_SMALL)
        raw = (camera.pixels() << np.uint16(16 - camera.model.bit_depth)).astype("<u2")
        if camera.model.padding_bits:
            raw |= np.uint16(1)
        data = raw.tobytes()
        delivered = needed // 2 if camera._fault("short_at") else needed
        view[:delivered] = data[:delivered]
        camera.reads += 1
        camera.status = z.ASI_EXP_IDLE
        return delivered

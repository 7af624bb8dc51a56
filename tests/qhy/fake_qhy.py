"""A fake libqhyccd as the QHY driver sees it (drivers.qhy_sdk.QhySdk).

It behaves like the SDK: calls on an unopened handle, an exposure before InitQHYCCD
or outside single-frame mode fail with QHYCCD_ERROR; GetQHYCCDSingleFrame blocks for
the exposure plus the readout on a simulated clock and fills the ROI set by
SetQHYCCDResolution, with optical-black strips and a zero column outside the
effective area; CancelQHYCCDExposingAndReadout ends a blocked read. Faults by
exposure number: failed read, a read that never ends until cancelled, a short
frame, a removed camera (every call fails and the scan no longer lists it).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from drivers import qhy_sdk
from drivers.qhy_sdk import Area, ChipInfo, QhyError
from tests.dslr.fake_gphoto import FakeClock

MODELS = {
    # name: (id, chip w, h, effective area, actual bits, bayer id, cooler)
    "268m": ("QHY268M-a1b2c3", 176, 128, Area(8, 6, 160, 116), 16, None, True),
    "183c": ("QHY183C-d4e5f6", 144, 112, Area(4, 2, 136, 104), 12, 4, False),
}


@dataclass
class FakeFaults:
    fail_at: set[int] = field(default_factory=set)
    hang_at: set[int] = field(default_factory=set)
    short_at: set[int] = field(default_factory=set)
    remove_at: int | None = None


@dataclass
class FakeQhyCamera:
    camera_id: str
    width: int
    height: int
    area: Area
    bits: int
    bayer: int | None
    cooler: bool
    faults: FakeFaults = field(default_factory=FakeFaults)
    flux_adu_s: float = 20000.0
    params: dict[int, float] = field(default_factory=dict)
    opened: bool = False
    initialised: bool = False
    stream_mode: int | None = None
    binning: int = 1
    roi: Area | None = None
    exposures: int = 0
    exposing: bool = False
    cancelled: bool = False
    removed: bool = False


class FakeQhySdk:
    """libqhyccd with one camera of ``model`` (see MODELS)."""

    def __init__(self, model: str = "268m") -> None:
        self.clock = FakeClock()
        cid, w, h, area, bits, bayer, cooler = MODELS[model]
        self.cameras = [FakeQhyCamera(cid, w, h, area, bits, bayer, cooler)]
        self._rng = np.random.default_rng(0)

    def _cam(self, handle: int) -> FakeQhyCamera:
        if not 1 <= handle <= len(self.cameras):
            raise QhyError("bad handle")
        cam = self.cameras[handle - 1]
        if cam.removed or not cam.opened:
            raise QhyError("camera not open or removed")
        return cam

    def version(self) -> str:
        return "24.12.26.0"

    def scan(self) -> list[str]:
        return [c.camera_id for c in self.cameras if not c.removed]

    def open(self, camera_id: str) -> int:
        for number, cam in enumerate(self.cameras, start=1):
            if cam.camera_id == camera_id and not cam.removed:
                cam.opened, cam.initialised = True, False
                cam.params = {qhy_sdk.CONTROL_GAIN: 30, qhy_sdk.CONTROL_OFFSET: 20,
                              qhy_sdk.CONTROL_EXPOSURE: 1000, qhy_sdk.CONTROL_CURTEMP: 18.5}
                return number
        raise QhyError("OpenQHYCCD")

    def close(self, handle: int) -> None:
        self._cam(handle).opened = False

    def set_stream_mode(self, handle: int, mode: int) -> None:
        self._cam(handle).stream_mode = mode

    def init(self, handle: int) -> None:
        cam = self._cam(handle)
        if cam.stream_mode is None:
            raise QhyError("InitQHYCCD before SetQHYCCDStreamMode")
        cam.initialised = True

    def is_control_available(self, handle: int, control: int) -> int | None:
        cam = self._cam(handle)
        if control == qhy_sdk.CAM_COLOR:
            return cam.bayer
        if control in (qhy_sdk.CONTROL_COOLER, qhy_sdk.CONTROL_MANULPWM):
            return 0 if cam.cooler else None
        if control == qhy_sdk.CAM_BIN3X3MODE:
            return None
        return 0

    def _ranges(self, control: int) -> tuple[float, float, float]:
        return {qhy_sdk.CONTROL_GAIN: (0.0, 100.0, 1.0), qhy_sdk.CONTROL_OFFSET: (0.0, 255.0, 1.0),
                qhy_sdk.CONTROL_EXPOSURE: (1.0, 3_600_000_000.0, 1.0),
                qhy_sdk.CONTROL_COOLER: (-50.0, 50.0, 0.5)}.get(control, (0.0, 65535.0, 1.0))

    def get_param(self, handle: int, control: int) -> float:
        cam = self._cam(handle)
        if control == qhy_sdk.OUTPUT_DATA_ACTUAL_BITS:
            return float(cam.bits)
        if control not in cam.params:
            raise QhyError(f"GetQHYCCDParam({control})")
        return cam.params[control]

    def set_param(self, handle: int, control: int, value: float) -> None:
        cam = self._cam(handle)
        low, high, _ = self._ranges(control)
        if not low <= value <= high:
            raise QhyError(f"SetQHYCCDParam({control})")
        cam.params[control] = float(value)

    def param_range(self, handle: int, control: int) -> tuple[float, float, float]:
        self._cam(handle)
        return self._ranges(control)

    def chip_info(self, handle: int) -> ChipInfo:
        cam = self._cam(handle)
        return ChipInfo(cam.width * 3.76e-3, cam.height * 3.76e-3, cam.width, cam.height,
                        3.76, 3.76, 16)

    def effective_area(self, handle: int) -> Area:
        return self._cam(handle).area

    def set_bin_mode(self, handle: int, bin_x: int, bin_y: int) -> None:
        cam = self._cam(handle)
        if bin_x != bin_y or bin_x not in (1, 2, 4):
            raise QhyError("SetQHYCCDBinMode")
        cam.binning = bin_x

    def set_resolution(self, handle: int, area: Area) -> None:
        cam = self._cam(handle)
        b = cam.binning
        if area.x + area.width > cam.width // b or area.y + area.height > cam.height // b:
            raise QhyError("SetQHYCCDResolution")
        cam.roi = area

    def mem_length(self, handle: int) -> int:
        cam = self._cam(handle)
        return cam.width * cam.height * 2

    def exp_single_frame(self, handle: int) -> None:
        cam = self._cam(handle)
        if not cam.initialised or cam.stream_mode != 0 or cam.roi is None:
            raise QhyError("ExpQHYCCDSingleFrame")
        cam.exposures += 1
        cam.cancelled = False
        cam.exposing = True
        if cam.faults.remove_at is not None and cam.exposures >= cam.faults.remove_at:
            cam.removed = True
            raise QhyError("ExpQHYCCDSingleFrame")

    def get_single_frame(self, handle: int, buffer: npt.NDArray[np.uint8]
                         ) -> tuple[int, int, int, int]:
        cam = self._cam(handle)
        if not cam.exposing or cam.roi is None:
            raise QhyError("GetQHYCCDSingleFrame without an exposure")
        number, clock = cam.exposures, self.clock
        exposure_s = cam.params[qhy_sdk.CONTROL_EXPOSURE] / 1e6
        end = clock.monotonic() + exposure_s + 0.3
        with clock.changed:
            clock.changed.wait_for(lambda: cam.cancelled or (
                number not in cam.faults.hang_at and clock.monotonic() >= end))
        cam.exposing = False
        if cam.cancelled or number in cam.faults.fail_at:
            raise QhyError("GetQHYCCDSingleFrame")
        frame = self._render(cam, exposure_s)
        rows, cols = frame.shape
        if number in cam.faults.short_at:
            rows //= 2
        buffer[:2 * rows * cols] = frame[:rows].astype("<u2").view(np.uint8).ravel()
        return cols, rows, 16, 1

    def _render(self, cam: FakeQhyCamera, exposure_s: float) -> npt.NDArray[np.uint16]:
        """The whole binned chip (black strips and a zero column outside the effective
        area), cut to the ROI; values MSB-aligned to the camera's actual bits."""
        b = cam.binning
        top = (1 << cam.bits) - 1
        full = np.full((cam.height // b, cam.width // b), 0.0)
        bias = cam.params[qhy_sdk.CONTROL_OFFSET] * 4
        gain = 10 ** (cam.params[qhy_sdk.CONTROL_GAIN] / 100)
        lit = bias + cam.flux_adu_s * b * b * exposure_s * gain / 2 ** (16 - cam.bits)
        area = cam.area
        full[:, :] = bias  # optical black
        full[area.y // b:(area.y + area.height) // b, area.x // b:(area.x + area.width) // b] = lit
        full[:, -1] = 0  # the zero column at the edge
        full += self._rng.normal(0, 1.5, full.shape)
        native = np.clip(np.rint(full), 0, top).astype(np.uint16)
        roi = cam.roi
        assert roi is not None
        cut = native[roi.y:roi.y + roi.height, roi.x:roi.x + roi.width]
        return (cut << np.uint16(16 - cam.bits)).astype(np.uint16)

    def cancel(self, handle: int) -> None:
        cam = self.cameras[handle - 1]
        cam.cancelled = True
        self.clock.wake()

    def firmware_version(self, handle: int) -> str:
        return "24.1.1"

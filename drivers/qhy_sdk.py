"""The QHYCCD SDK (libqhyccd) through ctypes: the calls the QHY driver makes.

The ``qhyccd`` wheel (optional extra ``autoflats[qhy]``) carries libqhyccd with its
libusb and libudev for Linux (x86-64, arm64) and Windows. Its own Python API has no
chip geometry, effective area, control ranges, SDK version or exposure cancel, so
this module loads the library the wheel bundles (found without importing the wheel)
and calls the C API itself, as :mod:`drivers.zwo_sdk` loads the library pyzwoasi
carries. ``AUTOFLATS_QHY_LIB`` names another copy (QHY's own installer, macOS).

Every call returns or raises :class:`QhyError`; libqhyccd reports a generic
QHYCCD_ERROR for most failures, so the driver tells a removed camera by scanning.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import glob
import importlib.util
import os
import sys
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

from drivers.errors import LibraryLoadError

LIB_ENV = "AUTOFLATS_QHY_LIB"
QHYCCD_SUCCESS = 0
QHYCCD_ERROR = 0xFFFFFFFF
QHYCCD_READ_DIRECTLY = 0x2001

# CONTROL_ID (qhyccdstruct.h)
CONTROL_GAIN = 6
CONTROL_OFFSET = 7
CONTROL_EXPOSURE = 8
CONTROL_TRANSFERBIT = 10
CONTROL_USBTRAFFIC = 12
CONTROL_CURTEMP = 14
CONTROL_CURPWM = 15
CONTROL_MANULPWM = 16
CONTROL_COOLER = 18
CAM_COLOR = 20
CAM_BIN1X1MODE = 21
CAM_BIN2X2MODE = 22
CAM_BIN3X3MODE = 23
CAM_BIN4X4MODE = 24
CAM_16BITS = 35
OUTPUT_DATA_ACTUAL_BITS = 55
OUTPUT_DATA_ALIGNMENT = 56
CAM_SINGLEFRAMEMODE = 57
#: BAYER_ID returned by IsQHYCCDControlAvailable(CAM_COLOR) on colour cameras
BAYER_IDS = {1: "GBRG", 2: "GRBG", 3: "BGGR", 4: "RGGB"}
BIN_CONTROLS = {1: CAM_BIN1X1MODE, 2: CAM_BIN2X2MODE, 3: CAM_BIN3X3MODE, 4: CAM_BIN4X4MODE}


class QhyError(Exception):
    """A libqhyccd call failed."""

    def __init__(self, call: str, code: int = QHYCCD_ERROR) -> None:
        super().__init__(f"{call} returned {code:#x}")
        self.call = call
        self.code = code


@dataclass(frozen=True, slots=True)
class ChipInfo:
    """GetQHYCCDChipInfo: the sensor's size and the transfer bit depth."""

    chip_w_mm: float
    chip_h_mm: float
    image_w: int
    image_h: int
    pixel_w_um: float
    pixel_h_um: float
    bpp: int


@dataclass(frozen=True, slots=True)
class Area:
    """A rectangle of the sensor (start x, start y, width, height), unbinned pixels."""

    x: int
    y: int
    width: int
    height: int


class QhySdk(Protocol):
    """libqhyccd, one call per C function the driver uses (handles are opaque ints)."""

    def version(self) -> str: ...
    def scan(self) -> list[str]: ...
    def open(self, camera_id: str) -> int: ...
    def close(self, handle: int) -> None: ...
    def set_stream_mode(self, handle: int, mode: int) -> None: ...
    def init(self, handle: int) -> None: ...
    def is_control_available(self, handle: int, control: int) -> int | None: ...
    def get_param(self, handle: int, control: int) -> float: ...
    def set_param(self, handle: int, control: int, value: float) -> None: ...
    def param_range(self, handle: int, control: int) -> tuple[float, float, float]: ...
    def chip_info(self, handle: int) -> ChipInfo: ...
    def effective_area(self, handle: int) -> Area: ...
    def set_bin_mode(self, handle: int, bin_x: int, bin_y: int) -> None: ...
    def set_resolution(self, handle: int, area: Area) -> None: ...
    def mem_length(self, handle: int) -> int: ...
    def exp_single_frame(self, handle: int) -> None: ...
    def get_single_frame(self, handle: int, buffer: npt.NDArray[np.uint8]
                         ) -> tuple[int, int, int, int]: ...
    def cancel(self, handle: int) -> None: ...
    def firmware_version(self, handle: int) -> str: ...


def find_library() -> Path | None:
    """libqhyccd: $AUTOFLATS_QHY_LIB, the qhyccd wheel's bundled copy, the system's."""
    env = os.environ.get(LIB_ENV)
    if env:
        return Path(env)
    spec = importlib.util.find_spec("qhyccd")
    if spec is not None and spec.origin:
        site = Path(spec.origin).parent.parent
        patterns = ([str(site / "vendor" / "lib" / "windows-x86_64" / "qhyccd.dll")]
                    if sys.platform == "win32" else
                    [str(site / "qhyccd.libs" / "libqhyccd*.so*")])
        for pattern in patterns:
            found = sorted(glob.glob(pattern))
            if found:
                return Path(found[0])
    name = ctypes.util.find_library("qhyccd")
    return Path(name) if name else None


class CtypesQhySdk:
    """libqhyccd through ctypes (one library, initialised once per process)."""

    def __init__(self, path: Path) -> None:
        try:
            # The wheel's libqhyccd finds its bundled libusb and libudev through the
            # extension module's RPATH, not its own: load them first, globally.
            for sibling in sorted(path.parent.glob("lib*.so*")):
                if not sibling.name.startswith("libqhyccd"):
                    ctypes.CDLL(str(sibling), mode=ctypes.RTLD_GLOBAL)
            self._lib: Any = ctypes.CDLL(str(path))
        except OSError as error:
            raise LibraryLoadError(f"cannot load the QHY SDK {path} ({error})") from error
        lib = self._lib
        lib.OpenQHYCCD.restype = ctypes.c_void_p
        lib.OpenQHYCCD.argtypes = [ctypes.c_char_p]
        lib.GetQHYCCDParam.restype = ctypes.c_double
        lib.GetQHYCCDParam.argtypes = [ctypes.c_void_p, ctypes.c_int]
        lib.SetQHYCCDParam.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_double]
        for name in ("CloseQHYCCD", "InitQHYCCD", "ExpQHYCCDSingleFrame",
                     "CancelQHYCCDExposingAndReadout", "GetQHYCCDMemLength"):
            getattr(lib, name).argtypes = [ctypes.c_void_p]
        lib.IsQHYCCDControlAvailable.argtypes = [ctypes.c_void_p, ctypes.c_int]
        lib.SetQHYCCDStreamMode.argtypes = [ctypes.c_void_p, ctypes.c_uint8]
        lib.SetQHYCCDBinMode.argtypes = [ctypes.c_void_p, ctypes.c_uint32, ctypes.c_uint32]
        lib.SetQHYCCDResolution.argtypes = [ctypes.c_void_p] + [ctypes.c_uint32] * 4
        self.path = path
        for quiet, argument in (("SetQHYCCDLogLevel", ctypes.c_uint8(0)),
                                ("EnableQHYCCDLogFile", ctypes.c_bool(False)),
                                ("EnableQHYCCDMessage", ctypes.c_bool(False))):
            if hasattr(lib, quiet):  # the SDK logs to stdout unless told not to
                getattr(lib, quiet)(argument)
        self._check("InitQHYCCDResource", lib.InitQHYCCDResource())

    @staticmethod
    def _check(call: str, code: int) -> int:
        code = int(code) & 0xFFFFFFFF
        if code == QHYCCD_ERROR:
            raise QhyError(call, code)
        return code

    def version(self) -> str:
        year, month, day, sub = (ctypes.c_uint32() for _ in range(4))
        self._check("GetQHYCCDSDKVersion", self._lib.GetQHYCCDSDKVersion(
            ctypes.byref(year), ctypes.byref(month), ctypes.byref(day), ctypes.byref(sub)))
        return f"{year.value:02d}.{month.value:02d}.{day.value:02d}.{sub.value}"

    def scan(self) -> list[str]:
        count = self._lib.ScanQHYCCD()
        if int(count) & 0xFFFFFFFF == QHYCCD_ERROR:
            return []
        ids = []
        for index in range(int(count)):
            buffer = ctypes.create_string_buffer(64)
            self._check("GetQHYCCDId", self._lib.GetQHYCCDId(index, buffer))
            ids.append(buffer.value.decode("ascii", "replace"))
        return ids

    def open(self, camera_id: str) -> int:
        handle = self._lib.OpenQHYCCD(camera_id.encode("ascii"))
        if not handle:
            raise QhyError("OpenQHYCCD")
        return int(handle)

    def close(self, handle: int) -> None:
        self._check("CloseQHYCCD", self._lib.CloseQHYCCD(handle))

    def set_stream_mode(self, handle: int, mode: int) -> None:
        self._check("SetQHYCCDStreamMode", self._lib.SetQHYCCDStreamMode(handle, mode))

    def init(self, handle: int) -> None:
        self._check("InitQHYCCD", self._lib.InitQHYCCD(handle))

    def is_control_available(self, handle: int, control: int) -> int | None:
        code = int(self._lib.IsQHYCCDControlAvailable(handle, control)) & 0xFFFFFFFF
        return None if code == QHYCCD_ERROR else code

    def get_param(self, handle: int, control: int) -> float:
        value = float(self._lib.GetQHYCCDParam(handle, control))
        if value == float(QHYCCD_ERROR):
            raise QhyError(f"GetQHYCCDParam({control})")
        return value

    def set_param(self, handle: int, control: int, value: float) -> None:
        self._check(f"SetQHYCCDParam({control})",
                    self._lib.SetQHYCCDParam(handle, control, float(value)))

    def param_range(self, handle: int, control: int) -> tuple[float, float, float]:
        low, high, step = ctypes.c_double(), ctypes.c_double(), ctypes.c_double()
        self._check(f"GetQHYCCDParamMinMaxStep({control})", self._lib.GetQHYCCDParamMinMaxStep(
            ctypes.c_void_p(handle), control, ctypes.byref(low), ctypes.byref(high),
            ctypes.byref(step)))
        return low.value, high.value, step.value

    def chip_info(self, handle: int) -> ChipInfo:
        cw, ch, pw, ph = (ctypes.c_double() for _ in range(4))
        iw, ih, bpp = (ctypes.c_uint32() for _ in range(3))
        self._check("GetQHYCCDChipInfo", self._lib.GetQHYCCDChipInfo(
            ctypes.c_void_p(handle), ctypes.byref(cw), ctypes.byref(ch), ctypes.byref(iw),
            ctypes.byref(ih), ctypes.byref(pw), ctypes.byref(ph), ctypes.byref(bpp)))
        return ChipInfo(cw.value, ch.value, iw.value, ih.value, pw.value, ph.value, bpp.value)

    def effective_area(self, handle: int) -> Area:
        x, y, w, h = (ctypes.c_uint32() for _ in range(4))
        self._check("GetQHYCCDEffectiveArea", self._lib.GetQHYCCDEffectiveArea(
            ctypes.c_void_p(handle), ctypes.byref(x), ctypes.byref(y), ctypes.byref(w),
            ctypes.byref(h)))
        return Area(x.value, y.value, w.value, h.value)

    def set_bin_mode(self, handle: int, bin_x: int, bin_y: int) -> None:
        self._check("SetQHYCCDBinMode", self._lib.SetQHYCCDBinMode(handle, bin_x, bin_y))

    def set_resolution(self, handle: int, area: Area) -> None:
        self._check("SetQHYCCDResolution", self._lib.SetQHYCCDResolution(
            handle, area.x, area.y, area.width, area.height))

    def mem_length(self, handle: int) -> int:
        return self._check("GetQHYCCDMemLength", self._lib.GetQHYCCDMemLength(handle))

    def exp_single_frame(self, handle: int) -> None:
        self._check("ExpQHYCCDSingleFrame", self._lib.ExpQHYCCDSingleFrame(handle))

    def get_single_frame(self, handle: int, buffer: npt.NDArray[np.uint8]
                         ) -> tuple[int, int, int, int]:
        w, h, bpp, channels = (ctypes.c_uint32() for _ in range(4))
        self._check("GetQHYCCDSingleFrame", self._lib.GetQHYCCDSingleFrame(
            ctypes.c_void_p(handle), ctypes.byref(w), ctypes.byref(h), ctypes.byref(bpp),
            ctypes.byref(channels), buffer.ctypes.data_as(ctypes.POINTER(ctypes.c_uint8))))
        return w.value, h.value, bpp.value, channels.value

    def cancel(self, handle: int) -> None:
        self._check("CancelQHYCCDExposingAndReadout",
                    self._lib.CancelQHYCCDExposingAndReadout(handle))

    def firmware_version(self, handle: int) -> str:
        buffer = (ctypes.c_uint8 * 32)()
        self._check("GetQHYCCDFWVersion", self._lib.GetQHYCCDFWVersion(
            ctypes.c_void_p(handle), buffer))
        return f"{buffer[0] >> 4}.{buffer[0] & 15}.{buffer[1]}"


_SDK: QhySdk | None = None
_SDK_LOCK = threading.Lock()


def get_sdk() -> QhySdk:
    """The process's QHY SDK (LibraryLoadError when libqhyccd is not found)."""
    global _SDK
    with _SDK_LOCK:
        if _SDK is None:
            path = find_library()
            if path is None:
                raise LibraryLoadError(
                    "the QHY SDK (libqhyccd) was not found; install autoflats[qhy] "
                    f"(pip install qhyccd: Linux and Windows) or set {LIB_ENV}")
            _SDK = CtypesQhySdk(path)
        return _SDK

"""Finding, loading and calling ZWO's camera SDK (libASICamera2) through ``zwoasi``.

``zwoasi`` is pure ctypes over the SDK and does not ship it. On import it tries
``find_library('ASICamera2')`` once and ignores every later ``init(path)`` call, so
autoflats takes over: it looks for the library itself, in this order,

1. an explicit path (argument) or the ``ZWO_ASI_LIB`` environment variable,
2. the system library paths (``find_library``, /usr/local/lib, /usr/lib, the usual
   macOS and Windows places),
3. the copy inside the PyPI wheel ``pyzwoasi`` (``pip install 'autoflats[zwo-sdk]'``),
   located with ``importlib.util.find_spec`` and never imported (it pulls in OpenCV),

then imports ``zwoasi`` with its auto-init disarmed and initialises it exactly once
with the path found. The result, success or a one-line reason with the fix, is kept
for the life of the process.

:class:`ZwoSdk` is the whole surface the driver uses: a thin layer over zwoasi's
module-level functions, raising :class:`SdkError` with the SDK's error code. Tests
swap in a fake with the same methods (:func:`override_sdk`).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import importlib.util
import itertools
import logging
import os
import platform
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from drivers.errors import LibraryLoadError
from drivers.library_search import library_files_in, system_library_dirs

log = logging.getLogger(__name__)

#: environment variable naming the SDK library file to use
ENV_VAR = "ZWO_ASI_LIB"
INSTALL_HINT = (
    "install it with: pip install 'autoflats[zwo-sdk]' (or pip install --no-deps "
    f"pyzwoasi), or set {ENV_VAR}=/path/to/libASICamera2"
)

# ASI_ERROR_CODE (ASICamera2.h)
ASI_SUCCESS = 0
ASI_ERROR_INVALID_INDEX = 1
ASI_ERROR_INVALID_ID = 2
ASI_ERROR_INVALID_CONTROL_TYPE = 3
ASI_ERROR_CAMERA_CLOSED = 4
ASI_ERROR_CAMERA_REMOVED = 5
ASI_ERROR_INVALID_PATH = 6
ASI_ERROR_INVALID_FILEFORMAT = 7
ASI_ERROR_INVALID_SIZE = 8
ASI_ERROR_INVALID_IMGTYPE = 9
ASI_ERROR_OUTOF_BOUNDARY = 10
ASI_ERROR_TIMEOUT = 11
ASI_ERROR_INVALID_SEQUENCE = 12
ASI_ERROR_BUFFER_TOO_SMALL = 13
ASI_ERROR_VIDEO_MODE_ACTIVE = 14
ASI_ERROR_EXPOSURE_IN_PROGRESS = 15
ASI_ERROR_GENERAL_ERROR = 16
ASI_ERROR_INVALID_MODE = 17
#: not an SDK code: zwoasi could not name the code the SDK returned
ASI_ERROR_UNKNOWN = -1

# ASI_CONTROL_TYPE
ASI_GAIN = 0
ASI_EXPOSURE = 1
ASI_GAMMA = 2
ASI_WB_R = 3
ASI_WB_B = 4
ASI_OFFSET = 5
ASI_BANDWIDTHOVERLOAD = 6
ASI_OVERCLOCK = 7
ASI_TEMPERATURE = 8  # °C x 10
ASI_FLIP = 9
ASI_AUTO_MAX_GAIN = 10
ASI_AUTO_MAX_EXP = 11
ASI_AUTO_TARGET_BRIGHTNESS = 12
ASI_HARDWARE_BIN = 13
ASI_HIGH_SPEED_MODE = 14
ASI_COOLER_POWER_PERC = 15
ASI_TARGET_TEMP = 16  # °C, not x 10
ASI_COOLER_ON = 17
ASI_MONO_BIN = 18
ASI_FAN_ON = 19
ASI_PATTERN_ADJUST = 20
ASI_ANTI_DEW_HEATER = 21

# ASI_CAMERA_MODE
ASI_MODE_NORMAL = 0
ASI_MODE_TRIG_SOFT_EDGE = 1
ASI_MODE_END = -1

# ASI_FLIP_STATUS
ASI_FLIP_NONE = 0

# ASI_IMG_TYPE
ASI_IMG_RAW8 = 0
ASI_IMG_RGB24 = 1
ASI_IMG_RAW16 = 2
ASI_IMG_Y8 = 3

# ASI_EXPOSURE_STATUS
ASI_EXP_IDLE = 0
ASI_EXP_WORKING = 1
ASI_EXP_SUCCESS = 2
ASI_EXP_FAILED = 3

ERROR_NAMES = {
    1: "invalid index", 2: "invalid ID", 3: "invalid control type", 4: "camera closed",
    5: "camera removed", 6: "invalid path", 7: "invalid file format", 8: "invalid size",
    9: "invalid image type", 10: "outside of boundary", 11: "timeout",
    12: "invalid sequence", 13: "buffer too small", 14: "video mode active",
    15: "exposure in progress", 16: "general error", 17: "invalid mode",
}


class SdkError(Exception):
    """An SDK call returned an error code (``ASI_ERROR_...``)."""

    def __init__(self, code: int, message: str | None = None) -> None:
        self.code = code
        text = message or ERROR_NAMES.get(code, f"SDK error code {code}")
        super().__init__(f"{text} (ASI error {code})")


class ZwoSdk(Protocol):
    """What the driver calls; the real SDK through zwoasi, or a test fake.

    Discovery goes by index (0..n-1, the order the SDK lists cameras now); every
    call after it takes the camera's ``CameraID`` from ``camera_property(index)``,
    which stays put while the camera is plugged in (indices shift when another
    camera comes or goes). Every method raises SdkError.
    """

    library_path: str

    def sdk_version(self) -> str:
        """The SDK's version, e.g. '1.41'."""

    def num_cameras(self) -> int:
        """Number of connected ZWO cameras."""

    def camera_property(self, index: int) -> dict[str, Any]:
        """ASI_CAMERA_INFO by index, as zwoasi's dict (Name, CameraID, BitDepth...)."""

    def camera_property_by_id(self, camera_id: int) -> dict[str, Any]:
        """ASI_CAMERA_INFO by CameraID (ASIGetCameraPropertyByID)."""

    def open_camera(self, camera_id: int) -> None:
        """ASIOpenCamera then ASIInitCamera."""

    def close_camera(self, camera_id: int) -> None:
        """ASICloseCamera."""

    def control_caps(self, camera_id: int) -> dict[str, dict[str, Any]]:
        """Every control's ASI_CONTROL_CAPS keyed by name (camera open)."""

    def get_control_value(self, camera_id: int, control_type: int) -> tuple[int, bool]:
        """(value, auto)."""

    def set_control_value(
        self, camera_id: int, control_type: int, value: int, auto: bool = False
    ) -> None:
        """ASISetControlValue (the SDK clamps out-of-range values silently)."""

    def supported_camera_modes(self, camera_id: int) -> list[int]:
        """ASIGetCameraSupportMode, up to ASI_MODE_END (trigger cameras only)."""

    def get_camera_mode(self, camera_id: int) -> int:
        """ASIGetCameraMode."""

    def set_camera_mode(self, camera_id: int, mode: int) -> None:
        """ASISetCameraMode."""

    def get_roi_format(self, camera_id: int) -> tuple[int, int, int, int]:
        """(width, height, bins, image type)."""

    def set_roi_format(
        self, camera_id: int, width: int, height: int, bins: int, image_type: int
    ) -> None:
        """ASISetROIFormat."""

    def set_start_position(self, camera_id: int, x: int, y: int) -> None:
        """ASISetStartPos."""

    def start_exposure(self, camera_id: int, is_dark: bool = False) -> None:
        """ASIStartExposure."""

    def stop_exposure(self, camera_id: int) -> None:
        """ASIStopExposure."""

    def exposure_status(self, camera_id: int) -> int:
        """ASIGetExpStatus: 0 idle, 1 working, 2 success, 3 failed."""

    def get_data_after_exposure(self, camera_id: int, buffer: Any) -> int:
        """ASIGetDataAfterExp into ``buffer`` (writable, contiguous); bytes delivered."""


class ZwoasiSdk:
    """The real SDK through zwoasi's module-level functions and its ctypes handle.

    zwoasi's wrappers that look a camera up by index (``_set_roi_format`` reads the
    camera's properties with its CameraID as an index) are bypassed: those calls go
    to the library directly with the CameraID.
    """

    def __init__(self, zwoasi: Any, library_path: str) -> None:
        self._z = zwoasi
        self.library_path = library_path

    def _call(self, func: Any, *args: Any) -> Any:
        try:
            return func(*args)
        except self._z.ZWO_IOError as error:
            code = error.error_code if error.error_code is not None else ASI_ERROR_UNKNOWN
            raise SdkError(int(code), str(error)) from None
        except IndexError:  # zwoasi's code table stops at 17 (newer SDKs go beyond)
            raise SdkError(ASI_ERROR_UNKNOWN, "unknown SDK error") from None

    def _library_function(self, name: str) -> Any:
        """A function of the loaded library; SdkError when this SDK version lacks it."""
        try:
            return getattr(self._z.zwolib, name)
        except AttributeError:
            raise SdkError(ASI_ERROR_UNKNOWN, f"{name} is not in this SDK") from None

    @staticmethod
    def _check(code: int) -> None:
        if code:
            raise SdkError(int(code))

    def sdk_version(self) -> str:
        """'1.41' from ASIGetSDKVersion ('1, 41, 0, 0'); zwoasi does not wrap it."""
        func = self._z.zwolib.ASIGetSDKVersion
        func.argtypes = []
        func.restype = ctypes.c_char_p
        raw = func()
        return format_sdk_version(raw.decode("ascii", "replace") if raw else "")

    def num_cameras(self) -> int:
        """Connected cameras."""
        return int(self._z.get_num_cameras())

    def camera_property(self, index: int) -> dict[str, Any]:
        """ASI_CAMERA_INFO."""
        result: dict[str, Any] = self._call(self._z._get_camera_property, index)
        return result

    def camera_property_by_id(self, camera_id: int) -> dict[str, Any]:
        """ASIGetCameraPropertyByID (zwoasi does not wrap it) into zwoasi's struct.

        An SDK without that function is searched by index for the CameraID instead.
        """
        try:
            func = self._library_function("ASIGetCameraPropertyByID")
        except SdkError:
            for index in range(self.num_cameras()):
                props = self.camera_property(index)
                if int(props.get("CameraID", -1)) == camera_id:
                    return props
            raise SdkError(ASI_ERROR_INVALID_ID) from None
        info_type = self._z._ASI_CAMERA_INFO
        func.argtypes = [ctypes.c_int, ctypes.POINTER(info_type)]
        func.restype = ctypes.c_int
        info = info_type()
        self._check(func(camera_id, ctypes.byref(info)))
        result: dict[str, Any] = info.get_dict()
        return result

    def open_camera(self, camera_id: int) -> None:
        """Open and initialise."""
        self._call(self._z._open_camera, camera_id)
        self._call(self._z._init_camera, camera_id)

    def close_camera(self, camera_id: int) -> None:
        """Close."""
        self._call(self._z._close_camera, camera_id)

    def control_caps(self, camera_id: int) -> dict[str, dict[str, Any]]:
        """All controls by name."""
        count = self._call(self._z._get_num_controls, camera_id)
        caps: dict[str, dict[str, Any]] = {}
        for i in range(count):
            cap = self._call(self._z._get_control_caps, camera_id, i)
            caps[str(cap["Name"])] = cap
        return caps

    def get_control_value(self, camera_id: int, control_type: int) -> tuple[int, bool]:
        """(value, auto)."""
        value, auto = self._call(self._z._get_control_value, camera_id, control_type)
        return int(value), bool(auto)

    def set_control_value(
        self, camera_id: int, control_type: int, value: int, auto: bool = False
    ) -> None:
        """Set one control."""
        self._call(self._z._set_control_value, camera_id, control_type, int(value),
                   bool(auto))

    def supported_camera_modes(self, camera_id: int) -> list[int]:
        """Supported ASI_CAMERA_MODEs (the list ends at ASI_MODE_END)."""
        self._library_function("ASIGetCameraSupportMode")
        raw = self._call(self._z._get_camera_support_mode, camera_id)
        modes: list[int] = []
        for mode in raw["SupportedCameraMode"]:
            if int(mode) == ASI_MODE_END:
                break
            modes.append(int(mode))
        return modes

    def get_camera_mode(self, camera_id: int) -> int:
        """The current ASI_CAMERA_MODE."""
        self._library_function("ASIGetCameraMode")
        return int(self._call(self._z._get_camera_mode, camera_id))

    def set_camera_mode(self, camera_id: int, mode: int) -> None:
        """Set the ASI_CAMERA_MODE."""
        self._library_function("ASISetCameraMode")
        self._call(self._z._set_camera_mode, camera_id, int(mode))

    def get_roi_format(self, camera_id: int) -> tuple[int, int, int, int]:
        """(width, height, bins, image type)."""
        w, h, b, t = self._call(self._z._get_roi_format, camera_id)
        return int(w), int(h), int(b), int(t)

    def set_roi_format(
        self, camera_id: int, width: int, height: int, bins: int, image_type: int
    ) -> None:
        """Set the ROI format; width a multiple of 8 and height of 2, as the SDK wants."""
        if width < 8 or width % 8 or height < 2 or height % 2:
            raise SdkError(ASI_ERROR_INVALID_SIZE,
                           f"ROI {width}x{height} must be a multiple of 8 x 2")
        code = self._z.zwolib.ASISetROIFormat(camera_id, width, height, bins, image_type)
        self._check(code)

    def set_start_position(self, camera_id: int, x: int, y: int) -> None:
        """Set the ROI's top-left corner."""
        self._call(self._z._set_start_position, camera_id, x, y)

    def start_exposure(self, camera_id: int, is_dark: bool = False) -> None:
        """Start a snap exposure."""
        self._call(self._z._start_exposure, camera_id, bool(is_dark))

    def stop_exposure(self, camera_id: int) -> None:
        """Stop a snap exposure."""
        self._call(self._z._stop_exposure, camera_id)

    def exposure_status(self, camera_id: int) -> int:
        """Exposure status."""
        return int(self._call(self._z._get_exposure_status, camera_id))

    def get_data_after_exposure(self, camera_id: int, buffer: Any) -> int:
        """Read the frame straight into ``buffer`` (a numpy array or bytearray).

        zwoasi's own wrapper insists on a bytearray; this calls the same C function
        with any writable buffer so a caller's preallocated array is filled in place.
        """
        view = memoryview(buffer)
        if view.readonly or not view.c_contiguous:
            raise ValueError("frame buffer must be writable and contiguous")
        nbytes = view.nbytes
        width, height, _, image_type = self.get_roi_format(camera_id)
        per_pixel = {ASI_IMG_RAW16: 2, ASI_IMG_RGB24: 3}.get(image_type, 1)
        expected = width * height * per_pixel
        cbuf = (ctypes.c_char * nbytes).from_buffer(view.cast("B"))
        self._check(int(self._z.zwolib.ASIGetDataAfterExp(camera_id, cbuf, nbytes)))
        return min(nbytes, expected)


def format_sdk_version(raw: str) -> str:
    """'1, 41, 0, 0' -> '1.41' (trailing zero parts dropped, at least major.minor)."""
    parts = [p.strip() for p in raw.replace(".", ",").split(",") if p.strip()]
    if not parts:
        return "unknown"
    while len(parts) > 2 and parts[-1] == "0":
        parts.pop()
    return ".".join(parts)


# -- discovery ------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class SdkCandidate:
    """A library file to try and where the idea came from."""

    path: str
    source: str


def _library_names() -> tuple[str, ...]:
    if sys.platform == "win32":
        return ("ASICamera2.dll",)
    if sys.platform == "darwin":
        return ("libASICamera2.dylib",)
    return ("libASICamera2.so",)


def _system_dirs() -> list[Path]:
    return system_library_dirs("ASI SDK")


def _files_in(directory: Path, names: tuple[str, ...]) -> list[Path]:
    return library_files_in(directory, names)


def pyzwoasi_library() -> Path | None:
    """The SDK inside an installed pyzwoasi wheel, found without importing pyzwoasi."""
    try:
        spec = importlib.util.find_spec("pyzwoasi")
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.origin:
        return None
    lib = Path(spec.origin).parent / "lib"
    bits64 = sys.maxsize > 2**32
    machine = platform.machine().lower()
    if sys.platform == "win32":
        path = lib / "Windows" / ("x64" if bits64 else "x86") / "ASICamera2.dll"
    elif sys.platform == "darwin":
        arch = "arm64" if machine.startswith(("arm", "aarch64")) else "x86_64"
        path = lib / "MacOS" / arch / "libASICamera2.dylib.1.41"
        if not path.is_file():
            matches = sorted((lib / "MacOS" / arch).glob("libASICamera2.dylib*"))
            path = matches[-1] if matches else path
    else:
        if machine not in ("x86_64", "amd64", "i386", "i686"):
            return None  # the wheel carries x86 builds only
        folder = lib / "Linux" / ("x64" if bits64 else "x86")
        matches = sorted(folder.glob("libASICamera2.so*"))
        path = matches[-1] if matches else folder / "libASICamera2.so"
    return path if path.is_file() else None


def find_sdk_candidates(explicit: str | os.PathLike[str] | None = None) -> list[SdkCandidate]:
    """Every library file worth trying, best first (explicit, env, system, pyzwoasi).

    An explicit path or ``ZWO_ASI_LIB`` that does not exist raises LibraryLoadError:
    a setting that points nowhere is a mistake to report, not to skip.
    """
    for value, source in ((explicit, "setting"), (os.environ.get(ENV_VAR), ENV_VAR)):
        if value:
            path = Path(value).expanduser()
            if not path.is_file():
                raise LibraryLoadError(
                    f"ZWO SDK not found: {source} points to {path}, which does not exist; "
                    "fix the path or unset it"
                )
            return [SdkCandidate(str(path), source)]
    candidates: list[SdkCandidate] = []
    found = ctypes.util.find_library("ASICamera2")
    if found:
        candidates.append(SdkCandidate(found, "system"))
    for directory in _system_dirs():
        for path in _files_in(directory, _library_names()):
            candidates.append(SdkCandidate(str(path), "system"))
    wheel = pyzwoasi_library()
    if wheel is not None:
        candidates.append(SdkCandidate(str(wheel), "pyzwoasi"))
    unique: dict[str, SdkCandidate] = {}
    for candidate in candidates:
        unique.setdefault(candidate.path, candidate)
    return list(unique.values())


# -- loading, once per process ----------------------------------------------------------

@dataclass(frozen=True, slots=True)
class SdkStatus:
    """Outcome of loading the SDK: the loaded layer, or why not (one line, with a fix)."""

    sdk: ZwoSdk | None
    path: str | None
    source: str | None
    version: str | None
    error: str | None


_lock = threading.Lock()
_status: SdkStatus | None = None
_override: ZwoSdk | None = None
_isolated_count = itertools.count(1)


def _load_error_message(path: str, error: BaseException) -> str:
    text = str(error).splitlines()[0] if str(error) else type(error).__name__
    if "libusb" in text:
        fix = {"darwin": "brew install libusb",
               "linux": "sudo apt install libusb-1.0-0 (Debian/Ubuntu) or your "
                        "distribution's libusb-1.0 package"}.get(sys.platform, "install libusb-1.0")
        return f"ZWO SDK at {path} cannot load: libusb-1.0 is missing; {fix}"
    return f"ZWO SDK at {path} cannot load ({text}); reinstall it or set {ENV_VAR}"


class _DropZwoasiWarning(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return "ASI SDK library not found" not in record.getMessage()


def _import_zwoasi_disarmed() -> Any:
    """Import zwoasi without letting its import-time ``init()`` load a library."""
    if "zwoasi" in sys.modules:
        return sys.modules["zwoasi"]
    real_find = ctypes.util.find_library
    quiet = _DropZwoasiWarning()
    root = logging.getLogger()
    root.addFilter(quiet)

    def find_nothing_for_zwoasi(name: str) -> str | None:
        return None if name == "ASICamera2" else real_find(name)

    ctypes.util.find_library = find_nothing_for_zwoasi
    try:
        import zwoasi
    finally:
        ctypes.util.find_library = real_find
        root.removeFilter(quiet)
    return zwoasi


def _find_nothing(name: str) -> str | None:
    return None


def load_isolated_sdk(path: str | os.PathLike[str]) -> ZwoasiSdk:
    """For tests: ``path`` loaded through a private copy of zwoasi, apart from the cache.

    zwoasi keeps one library per module; a fresh copy of the module (its own
    ``zwolib`` and error classes) loads a second library, such as a fake
    libASICamera2, without touching the SDK this process uses (:func:`sdk_status`).
    """
    spec = importlib.util.find_spec("zwoasi")
    if spec is None or spec.origin is None:
        raise LibraryLoadError("the zwoasi package is missing; pip install zwoasi")
    name = f"_zwoasi_isolated_{next(_isolated_count)}"
    private = importlib.util.spec_from_file_location(name, spec.origin)
    if private is None or private.loader is None:
        raise LibraryLoadError(f"cannot load a private copy of zwoasi from {spec.origin}")
    module = importlib.util.module_from_spec(private)
    real_find = ctypes.util.find_library
    quiet = _DropZwoasiWarning()
    logging.getLogger().addFilter(quiet)
    ctypes.util.find_library = _find_nothing
    try:
        private.loader.exec_module(module)
    finally:
        ctypes.util.find_library = real_find
        logging.getLogger().removeFilter(quiet)
    sys.modules[name] = module
    try:
        module.init(str(path))
    except OSError as error:
        raise LibraryLoadError(_load_error_message(str(path), error)) from None
    return ZwoasiSdk(module, str(path))


def _load(explicit: str | os.PathLike[str] | None) -> SdkStatus:
    try:
        candidates = find_sdk_candidates(explicit)
    except LibraryLoadError as error:
        return SdkStatus(None, None, None, None, str(error))
    try:
        zwoasi = _import_zwoasi_disarmed()
    except ImportError as error:
        return SdkStatus(None, None, None, None,
                         f"the zwoasi package is missing ({error}); pip install zwoasi")
    if zwoasi.zwolib is not None:  # someone initialised it before us: use that one
        path = str(getattr(zwoasi.zwolib, "_name", "") or "already loaded")
        return _ready(zwoasi, path, "already loaded")
    if not candidates:
        return SdkStatus(None, None, None, None,
                         f"ZWO SDK not found (libASICamera2); {INSTALL_HINT}")
    errors: list[str] = []
    for candidate in candidates:
        try:
            zwoasi.init(candidate.path)
        except OSError as error:
            log.debug("cannot load %s", candidate.path, exc_info=True)
            errors.append(_load_error_message(candidate.path, error))
            continue
        return _ready(zwoasi, candidate.path, candidate.source)
    return SdkStatus(None, None, None, None, errors[0])


def _ready(zwoasi: Any, path: str, source: str) -> SdkStatus:
    sdk = ZwoasiSdk(zwoasi, path)
    try:
        version: str | None = sdk.sdk_version()
    except (AttributeError, OSError):
        version = None
    log.info("ZWO SDK %s loaded from %s (%s)", version, path, source)
    return SdkStatus(sdk, path, source, version, None)


def sdk_status(explicit: str | os.PathLike[str] | None = None) -> SdkStatus:
    """Load the SDK on first call (never again) and report how that went.

    ``explicit`` only counts on the first call of the process.
    """
    global _status
    if _override is not None:
        return SdkStatus(_override, _override.library_path, "override", _safe_version(_override),
                         None)
    with _lock:
        if _status is None:
            _status = _load(explicit)
        return _status


def _safe_version(sdk: ZwoSdk) -> str | None:
    try:
        return sdk.sdk_version()
    except SdkError:
        return None


def get_sdk() -> ZwoSdk:
    """The loaded SDK layer; LibraryLoadError (one line, with the fix) when absent."""
    status = sdk_status()
    if status.sdk is None:
        raise LibraryLoadError(status.error or f"ZWO SDK not found; {INSTALL_HINT}")
    return status.sdk


@contextmanager
def override_sdk(sdk: ZwoSdk) -> Iterator[ZwoSdk]:
    """Use ``sdk`` (a fake) instead of the real library inside the ``with`` block."""
    global _override
    previous = _override
    _override = sdk
    try:
        yield sdk
    finally:
        _override = previous


def libusb_path() -> str | None:
    """Where libusb-1.0 is, or None; the SDK needs it on Linux and macOS."""
    found = ctypes.util.find_library("usb-1.0")
    if found:
        return found
    names = {"darwin": ("libusb-1.0.0.dylib", "libusb-1.0.dylib")}.get(
        sys.platform, ("libusb-1.0.so.0", "libusb-1.0.so"))
    for name in names:
        try:
            ctypes.CDLL(name)
        except OSError:
            continue
        return name
    dirs = [Path("/opt/homebrew/lib"), Path("/usr/local/lib"), *_system_dirs()]
    for directory in dirs:
        for name in names:
            if (directory / name).is_file():
                return str(directory / name)
    return None

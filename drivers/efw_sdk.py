"""Finding, loading and calling ZWO's filter wheel SDK (libEFWFilter) through ctypes.

No maintained Python binding exists, so the bindings are here, exactly as ZWO's
``EFW_filter.h``. The library comes with ZWO's EFW SDK (developer downloads on
zwoastro.com, or INDI's ``libasi`` package). autoflats looks for it in this order:

1. an explicit path (argument) or the ``ZWO_EFW_LIB`` environment variable (a path
   that does not exist is reported, never skipped),
2. the system library paths (``find_library('EFWFilter')``, /usr/local/lib,
   /usr/lib, the usual macOS and Windows places).

On Linux ``libudev`` is loaded globally first (the library needs it and does not
always link it). The outcome, success or a one-line reason with the fix, is kept
for the life of the process (:func:`efw_status`); :func:`load_efw` loads a given
path afresh without touching that cache, and :func:`override_efw` makes a loaded
library the process-wide one inside a ``with`` block (tests).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import os
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from drivers.errors import FilterWheelError, LibraryLoadError
from drivers.library_search import library_files_in, system_library_dirs
from drivers.zwo_sdk import format_sdk_version

log = logging.getLogger(__name__)

#: environment variable naming the EFW library file to use
ENV_VAR = "ZWO_EFW_LIB"
INSTALL_HINT = (
    "install ZWO's EFW SDK (libEFWFilter, from zwoastro.com developer downloads, or "
    f"INDI's libasi package), or set {ENV_VAR}=/path/to/libEFWFilter"
)

# EFW_ERROR_CODE (EFW_filter.h)
EFW_SUCCESS = 0
EFW_ERROR_INVALID_INDEX = 1
EFW_ERROR_INVALID_ID = 2
EFW_ERROR_INVALID_VALUE = 3
EFW_ERROR_REMOVED = 4
EFW_ERROR_MOVING = 5
EFW_ERROR_ERROR_STATE = 6
EFW_ERROR_GENERAL_ERROR = 7
EFW_ERROR_NOT_SUPPORTED = 8
EFW_ERROR_CLOSED = 9
EFW_ERROR_END = -1
#: EFWGetPosition's position while the wheel moves
EFW_IS_MOVING = -1
EFW_ID_MAX = 128

ERROR_NAMES = {
    1: "invalid index", 2: "invalid ID", 3: "invalid value", 4: "filter wheel removed",
    5: "filter wheel moving", 6: "filter wheel in error state", 7: "general error",
    8: "not supported", 9: "filter wheel closed",
}


class EfwLibraryLoadError(LibraryLoadError, FilterWheelError):
    """libEFWFilter could not be found or loaded (a library and a wheel error)."""


class EfwError(Exception):
    """An EFW call returned an error code (``EFW_ERROR_...``)."""

    def __init__(self, code: int, call: str) -> None:
        self.code = code
        self.call = call
        super().__init__(f"{call}: {ERROR_NAMES.get(code, 'unknown error')} (EFW error {code})")


class EFW_INFO(ctypes.Structure):
    """``struct EFW_INFO { int ID; char Name[64]; int slotNum; }``."""

    _fields_ = [("ID", ctypes.c_int), ("Name", ctypes.c_char * 64), ("slotNum", ctypes.c_int)]


@dataclass(frozen=True, slots=True)
class EfwProperty:
    """EFW_INFO as Python values; ``slot_count`` is 0 until the wheel is open."""

    wheel_id: int
    name: str
    slot_count: int


_INT_P = ctypes.POINTER(ctypes.c_int)
_UCHAR_P = ctypes.POINTER(ctypes.c_ubyte)
#: (name, restype, argtypes, required)
_SIGNATURES: tuple[tuple[str, Any, list[Any], bool], ...] = (
    ("EFWGetNum", ctypes.c_int, [], True),
    ("EFWGetProductIDs", ctypes.c_int, [_INT_P], False),
    ("EFWGetID", ctypes.c_int, [ctypes.c_int, _INT_P], True),
    ("EFWOpen", ctypes.c_int, [ctypes.c_int], True),
    ("EFWGetProperty", ctypes.c_int, [ctypes.c_int, ctypes.POINTER(EFW_INFO)], True),
    ("EFWGetPosition", ctypes.c_int, [ctypes.c_int, _INT_P], True),
    ("EFWSetPosition", ctypes.c_int, [ctypes.c_int, ctypes.c_int], True),
    ("EFWSetDirection", ctypes.c_int, [ctypes.c_int, ctypes.c_bool], True),
    ("EFWGetDirection", ctypes.c_int, [ctypes.c_int, ctypes.POINTER(ctypes.c_bool)], True),
    ("EFWCalibrate", ctypes.c_int, [ctypes.c_int], True),
    ("EFWClose", ctypes.c_int, [ctypes.c_int], True),
    ("EFWGetSDKVersion", ctypes.c_char_p, [], True),
    ("EFWGetFirmwareVersion", ctypes.c_int, [ctypes.c_int, _UCHAR_P, _UCHAR_P, _UCHAR_P],
     False),
    ("EFWGetHWErrorCode", ctypes.c_int, [ctypes.c_int, _INT_P], False),
)


def bind(lib: Any) -> list[str]:
    """Set every function's ctypes signature on ``lib``; the required ones missing."""
    missing = []
    for name, restype, argtypes, required in _SIGNATURES:
        try:
            func = getattr(lib, name)
        except AttributeError:
            if required:
                missing.append(name)
            continue
        func.restype = restype
        func.argtypes = argtypes
    return missing


class EfwLibrary:
    """libEFWFilter's calls, raising :class:`EfwError`; IDs from :meth:`wheel_id`.

    ``lib`` is the raw ctypes library (signatures bound). ``opened`` holds the IDs
    this process has open, so a listing never closes a wheel in use.
    """

    def __init__(self, lib: Any, path: str) -> None:
        """Wrap an already bound ctypes library loaded from ``path``."""
        self.lib = lib
        self.path = path
        self.opened: set[int] = set()
        self._lock = threading.Lock()

    def _check(self, code: int, call: str) -> None:
        if code != EFW_SUCCESS:
            raise EfwError(int(code), call)

    def sdk_version(self) -> str:
        """'1.7.1002' from EFWGetSDKVersion ('1, 7, 1002')."""
        raw = self.lib.EFWGetSDKVersion()
        return format_sdk_version(raw.decode("ascii", "replace") if raw else "")

    def num_wheels(self) -> int:
        """EFWGetNum: connected wheels (also refreshes the SDK's device list)."""
        return max(0, int(self.lib.EFWGetNum()))

    def product_ids(self) -> list[int]:
        """EFWGetProductIDs: USB product ID of each wheel ([] if the SDK lacks it)."""
        func = getattr(self.lib, "EFWGetProductIDs", None)
        if func is None:
            return []
        count = int(func(None))
        if count <= 0:
            return []
        buffer = (ctypes.c_int * count)()
        count = min(count, int(func(buffer)))
        return [int(buffer[i]) for i in range(count)]

    def wheel_id(self, index: int) -> int:
        """EFWGetID: the wheel's ID (used for every later call) from its 0-based index."""
        value = ctypes.c_int(-1)
        self._check(self.lib.EFWGetID(int(index), ctypes.byref(value)), "EFWGetID")
        return int(value.value)

    def open(self, wheel_id: int) -> None:
        """EFWOpen."""
        self._check(self.lib.EFWOpen(int(wheel_id)), "EFWOpen")
        with self._lock:
            self.opened.add(int(wheel_id))

    def close(self, wheel_id: int) -> None:
        """EFWClose."""
        with self._lock:
            self.opened.discard(int(wheel_id))
        self._check(self.lib.EFWClose(int(wheel_id)), "EFWClose")

    def get_property(self, wheel_id: int) -> EfwProperty:
        """EFWGetProperty (EfwError EFW_ERROR_MOVING while it counts the slots)."""
        info = EFW_INFO()
        self._check(self.lib.EFWGetProperty(int(wheel_id), ctypes.byref(info)),
                    "EFWGetProperty")
        return EfwProperty(int(info.ID), info.Name.decode("utf-8", "replace"),
                           int(info.slotNum))

    def get_position(self, wheel_id: int) -> int:
        """EFWGetPosition: 0-based slot, or -1 (EFW_IS_MOVING) while moving."""
        value = ctypes.c_int(EFW_IS_MOVING)
        self._check(self.lib.EFWGetPosition(int(wheel_id), ctypes.byref(value)),
                    "EFWGetPosition")
        return int(value.value)

    def set_position(self, wheel_id: int, slot: int) -> None:
        """EFWSetPosition: start a move to 0-based ``slot``."""
        self._check(self.lib.EFWSetPosition(int(wheel_id), int(slot)), "EFWSetPosition")

    def set_direction(self, wheel_id: int, unidirectional: bool) -> None:
        """EFWSetDirection: True turns the wheel one way only."""
        self._check(self.lib.EFWSetDirection(int(wheel_id), bool(unidirectional)),
                    "EFWSetDirection")

    def get_direction(self, wheel_id: int) -> bool:
        """EFWGetDirection: whether the wheel turns one way only."""
        value = ctypes.c_bool(False)
        self._check(self.lib.EFWGetDirection(int(wheel_id), ctypes.byref(value)),
                    "EFWGetDirection")
        return bool(value.value)

    def calibrate(self, wheel_id: int) -> None:
        """EFWCalibrate: start a calibration (the wheel moves; position -1)."""
        self._check(self.lib.EFWCalibrate(int(wheel_id)), "EFWCalibrate")

    def firmware_version(self, wheel_id: int) -> str | None:
        """'3.0.8' from EFWGetFirmwareVersion, or None when the SDK lacks it."""
        func = getattr(self.lib, "EFWGetFirmwareVersion", None)
        if func is None:
            return None
        major, minor, build = ctypes.c_ubyte(), ctypes.c_ubyte(), ctypes.c_ubyte()
        self._check(func(int(wheel_id), ctypes.byref(major), ctypes.byref(minor),
                         ctypes.byref(build)), "EFWGetFirmwareVersion")
        return f"{major.value}.{minor.value}.{build.value}"


# -- discovery ------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class EfwCandidate:
    """A library file to try and where the idea came from."""

    path: str
    source: str


def _library_names() -> tuple[str, ...]:
    if sys.platform == "win32":
        return ("EFW_filter.dll", "EFWFilter.dll")
    if sys.platform == "darwin":
        return ("libEFWFilter.dylib",)
    return ("libEFWFilter.so",)


def _system_dirs() -> list[Path]:
    return system_library_dirs("EFW SDK")


def _files_in(directory: Path, names: tuple[str, ...]) -> list[Path]:
    return library_files_in(directory, names)


def find_efw_candidates(explicit: str | os.PathLike[str] | None = None) -> list[EfwCandidate]:
    """Every library file worth trying, best first (explicit, env, system).

    An explicit path or ``ZWO_EFW_LIB`` that does not exist raises
    EfwLibraryLoadError: a setting that points nowhere is a mistake to report.
    """
    for value, source in ((explicit, "setting"), (os.environ.get(ENV_VAR), ENV_VAR)):
        if value:
            path = Path(value).expanduser()
            if not path.is_file():
                raise EfwLibraryLoadError(
                    f"EFW SDK not found: {source} points to {path}, which does not exist; "
                    "fix the path or unset it")
            return [EfwCandidate(str(path), source)]
    candidates: list[EfwCandidate] = []
    found = ctypes.util.find_library("EFWFilter")
    if found:
        candidates.append(EfwCandidate(found, "system"))
    for directory in _system_dirs():
        for path in _files_in(directory, _library_names()):
            candidates.append(EfwCandidate(str(path), "system"))
    unique: dict[str, EfwCandidate] = {}
    for candidate in candidates:
        unique.setdefault(candidate.path, candidate)
    return list(unique.values())


# -- loading --------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class EfwStatus:
    """Outcome of loading libEFWFilter: the library, or why not (one line, with a fix).

    ``configured`` is True when a path was asked for (argument or ``ZWO_EFW_LIB``):
    then a failure is a mistake, not just an absent optional library.
    """

    library: EfwLibrary | None
    path: str | None
    source: str | None
    version: str | None
    error: str | None
    configured: bool = False


_lock = threading.Lock()
_status: EfwStatus | None = None
_override: EfwLibrary | None = None
_udev_loaded = False


def preload_udev() -> bool:
    """On Linux load libudev with RTLD_GLOBAL (libEFWFilter needs its symbols)."""
    global _udev_loaded
    if not sys.platform.startswith("linux"):
        return False
    if _udev_loaded:
        return True
    names = [n for n in (ctypes.util.find_library("udev"), "libudev.so.1", "libudev.so") if n]
    for name in names:
        try:
            ctypes.CDLL(name, mode=ctypes.RTLD_GLOBAL)
        except OSError:
            continue
        _udev_loaded = True
        return True
    log.debug("libudev not found; loading libEFWFilter without it")
    return False


def _load_error_message(path: str, error: BaseException) -> str:
    text = str(error).splitlines()[0] if str(error) else type(error).__name__
    if "udev" in text:
        return (f"EFW SDK at {path} cannot load: libudev is missing; sudo apt install "
                "libudev1 (Debian/Ubuntu) or your distribution's libudev package")
    return f"EFW SDK at {path} cannot load ({text}); reinstall it or set {ENV_VAR}"


def load_efw(path: str | os.PathLike[str] | None = None) -> EfwStatus:
    """Find and load the library now, without touching the process-wide cache."""
    configured = bool(path) or bool(os.environ.get(ENV_VAR))
    try:
        candidates = find_efw_candidates(path)
    except EfwLibraryLoadError as error:
        return EfwStatus(None, None, None, None, str(error), configured)
    if not candidates:
        return EfwStatus(None, None, None, None,
                         f"EFW SDK not found (libEFWFilter); {INSTALL_HINT}", configured)
    preload_udev()
    errors: list[str] = []
    for candidate in candidates:
        try:
            lib = ctypes.CDLL(candidate.path)
        except OSError as error:
            log.debug("cannot load %s", candidate.path, exc_info=True)
            errors.append(_load_error_message(candidate.path, error))
            continue
        missing = bind(lib)
        if missing:
            errors.append(f"{candidate.path} is not ZWO's EFW SDK (no {', '.join(missing)}); "
                          f"point {ENV_VAR} at libEFWFilter")
            continue
        library = EfwLibrary(lib, candidate.path)
        version = library.sdk_version()
        log.info("EFW SDK %s loaded from %s (%s)", version, candidate.path, candidate.source)
        return EfwStatus(library, candidate.path, candidate.source, version, None, configured)
    return EfwStatus(None, None, None, None, errors[0], configured)


def efw_status(explicit: str | os.PathLike[str] | None = None) -> EfwStatus:
    """Load the library on first call (never again) and report how that went.

    ``explicit`` only counts on the first call of the process.
    """
    global _status
    if _override is not None:
        return EfwStatus(_override, _override.path, "override", _override.sdk_version(), None)
    with _lock:
        if _status is None:
            _status = load_efw(explicit)
        return _status


def get_efw() -> EfwLibrary:
    """The loaded library; EfwLibraryLoadError (one line, with the fix) when absent."""
    status = efw_status()
    if status.library is None:
        raise EfwLibraryLoadError(status.error or f"EFW SDK not found; {INSTALL_HINT}")
    return status.library


@contextmanager
def override_efw(library: EfwLibrary) -> Iterator[EfwLibrary]:
    """Use ``library`` (e.g. a fake loaded with :func:`load_efw`) inside the block."""
    global _override
    previous = _override
    _override = library
    try:
        yield library
    finally:
        _override = previous

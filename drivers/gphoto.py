"""DSLRs and mirrorless cameras through libgphoto2 (``python-gphoto2``), raw files
decoded by LibRaw (``rawpy``): the optional extra ``autoflats[dslr]``.

python-gphoto2's wheels bundle libgphoto2 for Linux and macOS; Windows is not
covered (libgphoto2 does not support it). The camera must be in manual (M) mode;
the driver sets the image format to raw only and, where the body offers it, the
capture target to its internal RAM.

- Exposure is one of the body's listed shutter speeds ('shutterspeed'); bulb and
  time are never used for flats. :meth:`GphotoCamera.exposure_choices_s` gives the
  list, and the exposure search chooses from it.
- Gain is ISO ('iso'); there is no offset.
- Every capture downloads the raw file (seconds over USB). The file is kept as the
  camera wrote it (:meth:`last_raw_file`), and its visible CFA mosaic, MSB-aligned
  from LibRaw's white level's bit depth, is the frame. LibRaw's black and white
  levels define full scale.
- Geometry, bit depth, CFA pattern and raw levels are only known from a raw file,
  so opening takes one probe frame at the fastest speed.
- libgphoto2 cannot stop an exposure: an abort waits for the running capture to
  end (at most the exposure plus the download) and discards it.

All libgphoto2 calls go through :class:`GphotoBackend` (one thread per camera), so
tests drive the driver over a fake of it.
"""

from __future__ import annotations

import logging
import math
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Any, Protocol

import numpy as np

from drivers.base import (
    Camera,
    CameraControls,
    CameraEntry,
    CameraInfo,
    ControlRange,
    ExposureStatus,
    Frame,
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
from drivers.raw_decode import RawMosaic, decode_raw
from drivers.shutter import parse_iso, speed_table

log = logging.getLogger(__name__)

ID_PREFIX = "gphoto:"
#: libgphoto2 error codes that mean the camera is gone
GP_ERROR_IO_USB_FIND = -52
GP_ERROR_MODEL_NOT_FOUND = -105
GP_ERROR_TIMEOUT = -10
GP_ERROR_CAMERA_BUSY = -110
DISCONNECTED_CODES = {GP_ERROR_IO_USB_FIND, GP_ERROR_MODEL_NOT_FOUND}
#: the probe frame on open (fastest speed plus a raw download) must come within this
PROBE_TIMEOUT_S = 60.0
#: words of an 'imageformat' choice that is raw only
_RAW_WORDS = ("raw", "nef", "cr2", "cr3", "arw", "orf", "rw2", "raf", "pef", "dng")
_NOT_RAW_WORDS = ("+", "jpeg", "jpg", "fine", "normal", "basic", "large", "medium", "small")


class GphotoError(Exception):
    """A libgphoto2 call failed; ``code`` is its GP_ERROR code."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(f"{message} (gphoto2 error {code})")
        self.code = code


class GphotoSession(Protocol):
    """One opened camera, as libgphoto2 drives it."""

    @property
    def model(self) -> str: ...

    def choices(self, name: str) -> list[str]:
        """The choices of a radio/menu config widget ([] when the body has no such widget)."""

    def value(self, name: str) -> str:
        """A config widget's current value."""

    def set_value(self, name: str, value: str) -> None:
        """Set a config widget and send the config to the camera."""

    def capture(self) -> tuple[bytes, str]:
        """Expose, then download the file: (content, file name on the camera). Blocks."""

    def cancel(self) -> None:
        """Ask a running capture to stop, where the camera can (libgphoto2 cannot)."""

    def close(self) -> None:
        """Release the camera."""


class GphotoBackend(Protocol):
    """libgphoto2: finding cameras and opening one by port."""

    def autodetect(self) -> list[tuple[str, str]]:
        """(model, port) of every camera found."""

    def open(self, port: str) -> GphotoSession:
        """Open the camera on ``port`` (e.g. 'usb:001,004')."""

    def version(self) -> str:
        """libgphoto2's version."""


Decoder = Callable[[bytes, str], RawMosaic]


@dataclass(slots=True)
class _Capture:
    """One capture running on its worker thread."""

    exposure_s: float
    started_s: float
    thread: threading.Thread
    content: bytes | None = None
    name: str = ""
    error: BaseException | None = None
    aborted: bool = False
    waits: int = 0


class GphotoCamera(Camera):
    """A DSLR or mirrorless camera on a gphoto2 port."""

    #: the exposure polls its worker thread this often
    poll_interval_s = 0.02
    #: libgphoto2 cannot stop a capture once the shutter is released
    starts_ahead = False

    def __init__(self, port: str, *, name: str | None = None,
                 backend: GphotoBackend | None = None, decoder: Decoder = decode_raw,
                 clock: Clock | None = None) -> None:
        super().__init__(clock)
        self.port = port
        self._backend = backend
        self._decoder = decoder
        self._name = name or f"Camera on {port}"
        self._session: GphotoSession | None = None
        self._info = CameraInfo(self._name, self._name, "gphoto", 16, 16, 16, None, 0.0,
                                None, (1,), False, gain_kind="iso", has_offset=False)
        self._controls: CameraControls | None = None
        self._speeds: dict[float, str] = {}
        self._isos: tuple[int, ...] = ()
        self._capture: _Capture | None = None
        self._raw: tuple[bytes, str] | None = None
        self._download_s = 3.0

    # -- description -------------------------------------------------------------
    @property
    def info(self) -> CameraInfo:
        """Fixed properties; geometry, CFA and raw levels come from the probe frame."""
        return self._info

    @property
    def controls(self) -> CameraControls:
        """Speeds, ISO and no offset, read on open."""
        if self._controls is None:
            raise CameraError(f"{self._name} is not open; open it to read its controls")
        return self._controls

    @property
    def readout_s(self) -> float:
        """The raw download time measured on the probe frame."""
        return self._download_s

    def exposure_choices_s(self) -> tuple[float, ...] | None:
        """The body's fixed shutter speeds, ascending (bulb and time left out)."""
        return tuple(self._speeds) or None

    @property
    def iso_choices(self) -> tuple[int, ...]:
        """The ISO values the body offers."""
        return self._isos

    def reported_e_per_adu(self) -> float | None:
        """Cameras do not report e-/ADU through gphoto2."""
        return None

    def last_raw_file(self) -> tuple[bytes, str] | None:
        """The last raw file as the camera wrote it, with its extension."""
        return self._raw

    # -- hooks -------------------------------------------------------------------
    def _call(self, action: str, func: Callable[..., Any], *args: Any,
              default: type[CameraError] = CameraError) -> Any:
        try:
            return func(*args)
        except GphotoError as error:
            raise map_gphoto_error(error, self._name, action, default) from None

    def _do_open(self) -> None:
        backend = self._backend if self._backend is not None else gphoto2_backend()
        session = self._call("opening", backend.open, self.port)
        self._session = session
        try:
            self._configure(session)
        except BaseException:
            self._session = None
            try:
                session.close()
            except GphotoError:
                log.debug("close after a failed open failed", exc_info=True)
            raise

    def _configure(self, session: GphotoSession) -> None:
        model = str(session.model or self._name)
        self._set_raw_format(session)
        targets = self._call("reading the capture target", session.choices, "capturetarget")
        ram = [t for t in targets if "ram" in t.lower() or "internal" in t.lower()]
        if ram:
            self._call("setting the capture target", session.set_value, "capturetarget",
                       ram[0])
        speeds = speed_table(self._call("reading shutter speeds", session.choices,
                                        "shutterspeed"))
        if not speeds:
            raise UnsupportedError(
                f"{model} lists no fixed shutter speeds; set the mode dial to M (manual)")
        self._speeds = speeds
        isos = sorted({i for i in (parse_iso(t) for t in self._call(
            "reading ISO values", session.choices, "iso")) if i is not None})
        if not isos:
            raise UnsupportedError(f"{model} lists no ISO values; turn auto ISO off")
        self._isos = tuple(isos)
        current = parse_iso(self._call("reading the ISO", session.value, "iso"))
        iso = current if current in self._isos else min(self._isos, key=lambda i: abs(i - 400))
        if current != iso:
            self._call("setting the ISO", session.set_value, "iso", str(iso))
        fastest = min(speeds)
        self._controls = CameraControls(
            exposure_s=ControlRange(fastest, max(speeds), min(speeds, key=lambda s: abs(
                math.log(s / 0.1)))),
            gain=ControlRange(self._isos[0], self._isos[-1], iso),
            offset=ControlRange(0, 0, 0),
        )
        self._probe(session, model, fastest)

    def _set_raw_format(self, session: GphotoSession) -> None:
        formats = self._call("reading image formats", session.choices, "imageformat")
        if not formats:
            return  # bodies without the widget: raw is set on the camera
        raw_only = [f for f in formats
                    if any(w in f.lower() for w in _RAW_WORDS)
                    and not any(w in f.lower() for w in _NOT_RAW_WORDS)]
        if not raw_only:
            raise UnsupportedError(
                f"{self._name} offers no raw-only image format ({', '.join(formats)})")
        self._call("setting raw image format", session.set_value, "imageformat", raw_only[0])

    def _probe(self, session: GphotoSession, model: str, fastest: float) -> None:
        """One frame at the fastest speed: geometry, CFA, raw levels, download time."""
        self._call("setting the shutter speed", session.set_value, "shutterspeed",
                   self._speeds[fastest])
        started = self.clock.monotonic()
        thread = threading.Thread(target=self._run_capture, daemon=True,
                                  name=f"gphoto-probe-{self.port}")
        job = self._capture = _Capture(fastest, started, thread)
        thread.start()
        while self._do_exposure_status() is ExposureStatus.WORKING:
            if self.clock.monotonic() > started + fastest + PROBE_TIMEOUT_S:
                self._finish_capture()
                raise ExposureTimeoutError(f"{model} took no probe frame within "
                                           f"{PROBE_TIMEOUT_S:g} s; check the camera")
            self.clock.sleep(self.poll_interval_s)
        self._capture = None
        if job.error is not None or job.content is None:
            error = job.error
            if isinstance(error, GphotoError):
                raise map_gphoto_error(error, model, "taking the probe frame",
                                       ExposureFailedError) from None
            raise ExposureFailedError(f"{model}: the probe frame failed ({error})")
        self._download_s = max(self.clock.monotonic() - started - fastest, 0.5)
        mosaic = self._decoder(job.content, PurePosixPath(job.name).suffix or ".raw")
        height, width = mosaic.values.shape
        bits = mosaic.bit_depth
        self._info = CameraInfo(
            name=self._name, model=model, driver="gphoto", width=width, height=height,
            bit_depth=bits, bayer_pattern=mosaic.bayer_pattern, pixel_size_um=0.0,
            e_per_adu=None, supported_bins=(1,), has_cooler=False, gain_kind="iso",
            has_offset=False, black_level=mosaic.black_level,
            white_level=float(min(mosaic.white_level, (1 << bits) - 1)))

    def _do_close(self) -> None:
        self._finish_capture()
        session, self._session = self._session, None
        if session is not None:
            try:
                session.close()
            except GphotoError as error:
                log.warning("%s: close reported %s", self._name, error)

    def _live(self) -> GphotoSession:
        if self._session is None:
            raise CameraError(f"{self._name} is not open; open the camera first")
        return self._session

    def _do_set_gain(self, gain: int) -> None:
        if gain not in self._isos:
            raise InvalidValueError(f"ISO {gain} is not offered by {self._name}; use one of "
                                    f"{', '.join(map(str, self._isos))}")
        self._call("setting the ISO", self._live().set_value, "iso", str(gain),
                   default=InvalidValueError)

    def _do_set_offset(self, offset: int) -> None:
        if offset != 0:
            raise InvalidValueError(f"{self._name} has no offset setting")

    def _do_set_binning(self, binning: int) -> None:
        if binning != 1:
            raise UnsupportedError(f"{self._name} does not bin")

    def _do_start_exposure(self, exposure_s: float) -> float:
        session = self._live()
        self._finish_capture()
        applied = min(self._speeds, key=lambda s: abs(math.log(s / exposure_s)))
        self._call("setting the shutter speed", session.set_value, "shutterspeed",
                   self._speeds[applied], default=ExposureFailedError)
        thread = threading.Thread(target=self._run_capture, daemon=True,
                                  name=f"gphoto-capture-{self.port}")
        self._capture = _Capture(applied, self.clock.monotonic(), thread)
        thread.start()
        return applied

    def _run_capture(self) -> None:
        job = self._capture
        session = self._session
        if job is None or session is None:
            return
        try:
            job.content, job.name = session.capture()
        except BaseException as error:  # handed to the polling thread
            job.error = error

    def _do_exposure_status(self) -> ExposureStatus:
        job = self._capture
        if job is None or job.aborted:
            return ExposureStatus.IDLE
        if job.thread.is_alive() and self.clock.monotonic() >= job.started_s + job.exposure_s:
            # Past the end: give the worker a moment (longer the first time).
            job.thread.join(timeout=0.02 if job.waits == 0 else 0.002)
            job.waits += 1  # downloading: let the worker finish
        if job.thread.is_alive():
            return ExposureStatus.WORKING
        if job.error is not None:
            if isinstance(job.error, GphotoError):
                mapped = map_gphoto_error(job.error, self._name, "capturing",
                                          ExposureFailedError)
                if isinstance(mapped, CameraDisconnectedError):
                    raise mapped
            return ExposureStatus.FAILED
        return ExposureStatus.SUCCESS

    def _do_read_frame(self, out: Frame | None) -> Frame:
        job = self._capture
        if job is None or job.content is None or job.thread.is_alive():
            raise CameraError("no finished exposure to read; start an exposure first")
        self._capture = None
        suffix = PurePosixPath(job.name).suffix or ".raw"
        try:
            mosaic = self._decoder(job.content, suffix)
        except FrameError:
            raise
        except (ValueError, OSError) as error:
            raise FrameError(f"{self._name}: the raw file could not be read ({error})") from None
        height, width = self.frame_shape
        values = mosaic.values
        if values.shape[0] < height or values.shape[1] < width:
            raise FrameError(f"{self._name} returned a {values.shape[1]}x{values.shape[0]} "
                             f"raw frame, expected {width}x{height}; frame rejected")
        target = out if out is not None else np.empty((height, width), dtype=np.uint16)
        np.left_shift(values[:height, :width], np.uint16(16 - self._info.bit_depth),
                      out=target)
        self._raw = (job.content, suffix)
        return target

    def _do_abort_exposure(self) -> None:
        job = self._capture
        if job is None:
            return
        job.aborted = True
        if job.thread.is_alive() and self._session is not None:
            try:
                self._session.cancel()
            except GphotoError:
                log.debug("cancel failed", exc_info=True)

    def _finish_capture(self) -> None:
        """Wait for a capture still running (libgphoto2 cannot stop one), then drop it."""
        job, self._capture = self._capture, None
        if job is not None and job.thread.is_alive():
            if self._session is not None:
                try:
                    self._session.cancel()
                except GphotoError:
                    log.debug("cancel failed", exc_info=True)
            job.thread.join(timeout=job.exposure_s + 4 * self._download_s + 10)


def map_gphoto_error(error: GphotoError, name: str, action: str,
                     default: type[CameraError] = CameraError) -> CameraError:
    """The typed error for a libgphoto2 error, saying what to do."""
    if error.code in DISCONNECTED_CODES:
        return CameraDisconnectedError(
            f"{name} was disconnected ({error}); check the USB cable, that the camera is "
            "on and not asleep, and that no other program (a file manager) holds it")
    if error.code == GP_ERROR_TIMEOUT:
        return ExposureTimeoutError(f"{name}: {action} timed out ({error})")
    if error.code == GP_ERROR_CAMERA_BUSY:
        return ExposureFailedError(f"{name}: {action} failed, the camera is busy ({error})")
    return default(f"{name}: {action} failed ({error})")


# -- the real libgphoto2 -------------------------------------------------------------
class _Gphoto2Session:
    """A camera opened through python-gphoto2."""

    def __init__(self, gp: Any, camera: Any, model: str) -> None:
        self._gp = gp
        self._camera = camera
        self._model = model

    @property
    def model(self) -> str:
        return self._model

    def _widget(self, config: Any, name: str) -> Any:
        try:
            return config.get_child_by_name(name)
        except self._gp.GPhoto2Error:
            return None

    def choices(self, name: str) -> list[str]:
        widget = self._widget(self._wrap(self._camera.get_config), name)
        if widget is None:
            return []
        return [str(widget.get_choice(i)) for i in range(widget.count_choices())]

    def value(self, name: str) -> str:
        widget = self._widget(self._wrap(self._camera.get_config), name)
        return "" if widget is None else str(widget.get_value())

    def set_value(self, name: str, value: str) -> None:
        config = self._wrap(self._camera.get_config)
        widget = self._widget(config, name)
        if widget is None:
            raise GphotoError(-2, f"the camera has no '{name}' setting")
        self._wrap(widget.set_value, value)
        self._wrap(self._camera.set_config, config)

    def capture(self) -> tuple[bytes, str]:
        gp = self._gp
        path = self._wrap(self._camera.capture, gp.GP_CAPTURE_IMAGE)
        camera_file = self._wrap(self._camera.file_get, path.folder, path.name,
                                 gp.GP_FILE_TYPE_NORMAL)
        content = bytes(memoryview(self._wrap(camera_file.get_data_and_size)))
        try:
            self._camera.file_delete(path.folder, path.name)
        except gp.GPhoto2Error:
            log.debug("could not delete %s on the camera", path.name)
        return content, str(path.name)

    def cancel(self) -> None:
        """libgphoto2 has no call to stop a capture; the abort waits for it."""

    def close(self) -> None:
        self._wrap(self._camera.exit)

    def _wrap(self, func: Callable[..., Any], *args: Any) -> Any:
        try:
            return func(*args)
        except self._gp.GPhoto2Error as error:
            raise GphotoError(int(error.code), str(error)) from None


class Gphoto2Backend:
    """libgphoto2 through python-gphoto2 (imported when first used)."""

    def __init__(self) -> None:
        try:
            import gphoto2
        except ImportError as error:
            raise LibraryLoadError(
                "python-gphoto2 is not installed, so DSLRs cannot be used; install "
                "autoflats[dslr] (Linux and macOS; Windows is not supported by "
                "libgphoto2)") from error
        self._gp = gphoto2

    def version(self) -> str:
        """libgphoto2's version, e.g. '2.5.31'."""
        versions = self._gp.gp_library_version(self._gp.GP_VERSION_SHORT)
        return str(versions[0]) if versions else "unknown"

    def autodetect(self) -> list[tuple[str, str]]:
        try:
            found = self._gp.Camera.autodetect()
        except self._gp.GPhoto2Error as error:
            raise GphotoError(int(error.code), str(error)) from None
        return [(str(name), str(port)) for name, port in found]

    def open(self, port: str) -> GphotoSession:
        gp = self._gp
        try:
            model = next((m for m, p in self.autodetect() if p == port), None)
            if model is None:
                raise GphotoError(GP_ERROR_MODEL_NOT_FOUND, f"no camera on port {port}")
            camera = gp.Camera()
            abilities = gp.CameraAbilitiesList()
            abilities.load()
            camera.set_abilities(abilities[abilities.lookup_model(model)])
            ports = gp.PortInfoList()
            ports.load()
            camera.set_port_info(ports[ports.lookup_path(port)])
            camera.init()
        except gp.GPhoto2Error as error:
            raise GphotoError(int(error.code), str(error)) from None
        return _Gphoto2Session(gp, camera, model)


_BACKEND: GphotoBackend | None = None
_BACKEND_LOCK = threading.Lock()


def gphoto2_backend() -> GphotoBackend:
    """The process's libgphoto2 backend (LibraryLoadError without python-gphoto2)."""
    global _BACKEND
    with _BACKEND_LOCK:
        if _BACKEND is None:
            _BACKEND = Gphoto2Backend()
        return _BACKEND


def list_gphoto_cameras(backend: GphotoBackend | None = None
                        ) -> tuple[list[CameraEntry], str | None]:
    """DSLRs found by libgphoto2, as 'gphoto:<port>'; a note when none or no library."""
    if backend is None:
        try:
            backend = gphoto2_backend()
        except LibraryLoadError:
            return [], None  # the optional extra is not installed: say nothing
    try:
        found = backend.autodetect()
    except GphotoError as error:
        return [], f"gphoto2: listing cameras failed ({error})"
    entries = [CameraEntry(f"{ID_PREFIX}{port}", model, "gphoto",
                           f"{model}: DSLR/mirrorless on {port}, raw, ISO, shutter speeds")
               for model, port in found]
    return entries, None


def open_gphoto_camera(camera_id: str, *, backend: GphotoBackend | None = None,
                       clock: Clock | None = None) -> GphotoCamera | None:
    """A (not yet opened) camera for 'gphoto:<port>'; None for other ids."""
    if not camera_id.startswith(ID_PREFIX):
        return None
    port = camera_id[len(ID_PREFIX):]
    if not port:
        raise InvalidValueError(f"bad camera id {camera_id!r}; use gphoto:usb:001,004")
    backend = backend if backend is not None else gphoto2_backend()
    try:
        names = {p: m for m, p in backend.autodetect()}
    except GphotoError as error:
        raise map_gphoto_error(error, camera_id, "finding the camera") from None
    return GphotoCamera(port, name=names.get(port), backend=backend, clock=clock)


__all__ = ["GphotoBackend", "GphotoCamera", "GphotoError", "GphotoSession",
           "list_gphoto_cameras", "map_gphoto_error", "open_gphoto_camera"]

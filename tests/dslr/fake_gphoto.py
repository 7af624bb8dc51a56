"""A fake of libgphoto2 as the gphoto driver sees it (drivers.gphoto.GphotoBackend).

It behaves like a DSLR over USB: config widgets with fixed choices (a wrong value is
refused), a capture that blocks for the exposure plus a slow download on a simulated
clock, a raw file whose mosaic has a black level, a white level below 2^14 - 1 and an
RGGB pattern, and faults by exposure number (the probe frame on open is not counted):
a failed capture, one that never returns until cancelled, a truncated file, and a
camera that disappears. The raw "file" is an .npz that :func:`decode_fake_raw` reads
as LibRaw would read a CR2.
"""

from __future__ import annotations

import io
import threading
import time
from dataclasses import dataclass, field

import numpy as np

from drivers.clock import SimulatedClock
from drivers.errors import FrameError
from drivers.gphoto import GP_ERROR_IO_USB_FIND, GphotoError
from drivers.raw_decode import RawMosaic
from drivers.shutter import THIRD_STOP_ISOS, THIRD_STOP_SPEEDS, parse_speed

BLACK = 2048
WHITE = 15000


@dataclass
class FakeFaults:
    """Faults by exposure number (1 = the first after the probe frame)."""

    fail_at: set[int] = field(default_factory=set)
    hang_at: set[int] = field(default_factory=set)
    short_at: set[int] = field(default_factory=set)
    remove_at: int | None = None


class FakeClock(SimulatedClock):
    """Simulated time that wakes a waiting capture whenever it moves."""

    def __init__(self) -> None:
        super().__init__(0.0)
        self.changed = threading.Condition()

    def sleep(self, seconds: float) -> None:
        super().sleep(seconds)
        with self.changed:
            self.changed.notify_all()

    def wake(self) -> None:
        with self.changed:
            self.changed.notify_all()


class FakeSession:
    """One opened fake DSLR."""

    def __init__(self, backend: FakeGphotoBackend, model: str) -> None:
        self._backend = backend
        self.model = model
        self.config: dict[str, tuple[list[str], str]] = {
            "shutterspeed": ([*THIRD_STOP_SPEEDS, "bulb"], "1/125"),
            "iso": (["Auto", *map(str, THIRD_STOP_ISOS[:-3])], "Auto"),
            "imageformat": (["Large Fine JPEG", "RAW + Large Fine JPEG", "RAW"],
                            "Large Fine JPEG"),
            "capturetarget": (["Internal RAM", "Memory card"], "Memory card"),
        }
        self.captures = 0
        self.closed = False
        self._cancelled = False

    def _check(self) -> None:
        if self._backend.removed:
            raise GphotoError(GP_ERROR_IO_USB_FIND, "Could not find the requested device")
        if self.closed:
            raise GphotoError(-1, "camera closed")

    def choices(self, name: str) -> list[str]:
        self._check()
        return list(self.config[name][0]) if name in self.config else []

    def value(self, name: str) -> str:
        self._check()
        return self.config[name][1]

    def set_value(self, name: str, value: str) -> None:
        self._check()
        options, _ = self.config[name]
        if value not in options:
            raise GphotoError(-2, f"bad value {value!r} for {name}")
        self.config[name] = (options, value)

    def capture(self) -> tuple[bytes, str]:
        """Expose for the set speed, then download: both in the fake's clock time."""
        self._check()
        backend = self._backend
        number = self.captures  # 0 = the probe frame on open
        self.captures += 1
        faults = backend.faults
        if faults.remove_at is not None and number >= faults.remove_at:
            backend.removed = True
            self._check()
        if self.config["iso"][1] == "Auto" or self.config["imageformat"][1] != "RAW":
            raise GphotoError(-1, "the driver must set ISO and raw format first")
        speed = parse_speed(self.config["shutterspeed"][1])
        assert speed is not None, "bulb is never used for flats"
        clock = backend.clock
        end = clock.monotonic() + speed + backend.download_s
        self._cancelled = False
        with clock.changed:
            clock.changed.wait_for(lambda: self._cancelled or (
                number not in faults.hang_at and clock.monotonic() >= end))
        if self._cancelled:
            raise GphotoError(-1, "capture interrupted")
        if number in faults.fail_at:
            raise GphotoError(-1, "Unspecified error")
        content = backend.raw_file(speed, int(self.config["iso"][1]))
        if number in faults.short_at:
            content = content[: len(content) // 3]
        backend.files_taken += 1
        return content, f"IMG_{1000 + number}.CR2"

    def cancel(self) -> None:
        self._cancelled = True
        self._backend.clock.wake()

    def close(self) -> None:
        self._check()
        self.closed = True


class FakeGphotoBackend:
    """libgphoto2 with one fake camera on 'usb:001,004'."""

    def __init__(self, *, width: int = 128, height: int = 96, flux_e_s: float = 40000.0,
                 download_s: float = 2.0, model: str = "Canon EOS 6D",
                 port: str = "usb:001,004") -> None:
        self.clock = FakeClock()
        self.width, self.height = width, height
        self.flux_e_s = flux_e_s
        self.download_s = download_s
        self.model, self.port = model, port
        self.faults = FakeFaults()
        self.removed = False
        self.files_taken = 0
        self.sessions: list[FakeSession] = []
        self._rng = np.random.default_rng(0)

    def version(self) -> str:
        return "2.5.31-fake"

    def autodetect(self) -> list[tuple[str, str]]:
        return [] if self.removed else [(self.model, self.port)]

    def open(self, port: str) -> FakeSession:
        if port != self.port or self.removed:
            raise GphotoError(-105, f"no camera on {port}")
        session = FakeSession(self, self.model)
        self.sessions.append(session)
        return session

    def raw_file(self, speed: float, iso: int) -> bytes:
        """The raw 'file': an RGGB mosaic with black and white levels."""
        e_per_adu = 4.0 * 100 / iso
        ratio = np.ones((self.height, self.width))
        ratio[0::2, 0::2] = 0.55
        ratio[1::2, 1::2] = 0.7
        signal = ratio * self.flux_e_s * speed / e_per_adu
        values = BLACK + signal + self._rng.normal(0, 2, signal.shape)
        mosaic = np.clip(np.rint(values), 0, WHITE).astype(np.uint16)
        buffer = io.BytesIO()
        np.savez(buffer, values=mosaic, black=np.array([BLACK] * 4),
                 white=np.array(WHITE), pattern=np.array("RGGB"))
        return buffer.getvalue()


def decode_fake_raw(content: bytes, extension: str) -> RawMosaic:
    """Read the fake's raw file as LibRaw would read a camera's."""
    try:
        with np.load(io.BytesIO(content)) as data:
            return RawMosaic(data["values"].astype(np.uint16), str(data["pattern"]),
                             float(np.mean(data["black"])), int(data["white"]))
    except (ValueError, OSError, EOFError, KeyError) as error:
        raise FrameError(f"the camera's raw file could not be decoded ({error})") from None
    except Exception as error:  # zipfile.BadZipFile and friends
        raise FrameError(f"the camera's raw file could not be decoded ({error})") from None


def wait_real(seconds: float) -> None:
    """A short real pause (for tests that watch the capture thread)."""
    time.sleep(seconds)

"""One serial line to a panel: open, flush, write, read a line, with typed errors.

python-microscope's ``SerialDeviceMixin`` shape: the caller holds the device's lock
around each command, the input is flushed before each command, and a reply is one
line ended by LF or CR (both are accepted; leading terminators are skipped). Any
port failure (unplugged, port gone) becomes :class:`PanelDisconnectedError`.
"""

from __future__ import annotations

import errno
import logging
import time
from collections.abc import Callable
from typing import TypeVar

import serial

from drivers.clock import Clock
from drivers.errors import PanelDisconnectedError, PanelProtocolError, PanelTimeoutError

try:  # POSIX: pyserial's flush raises termios.error when the port is gone
    import termios

    _PORT_ERRORS: tuple[type[BaseException], ...] = (
        serial.SerialException, OSError, termios.error)
except ImportError:  # pragma: no cover - Windows
    _PORT_ERRORS = (serial.SerialException, OSError)

log = logging.getLogger(__name__)
T = TypeVar("T")
#: a reply longer than this without a terminator is noise
MAX_LINE_BYTES = 256
#: one blocking read waits at most this long, so the reply deadline is kept
READ_SLICE_S = 0.05


class SerialLine:
    """A serial port speaking short text lines (8N1, no handshake)."""

    def __init__(self, port: str, baudrate: int, what: str) -> None:
        self.port = port
        self.baudrate = baudrate
        self.what = what  # e.g. "the Alnitak panel", for messages
        self._serial: serial.Serial | None = None

    def open(self, *, drop_rts: bool, settle_s: float, clock: Clock) -> None:
        """Open the port; optionally drop RTS and wait ``settle_s`` (Arduino clones reset)."""
        port = serial.Serial()
        port.port = self.port
        port.baudrate = self.baudrate
        port.bytesize = serial.EIGHTBITS
        port.parity = serial.PARITY_NONE
        port.stopbits = serial.STOPBITS_ONE
        port.xonxoff = port.rtscts = port.dsrdtr = False
        port.timeout = READ_SLICE_S  # set once: pyserial reconfigures the port on each change
        port.write_timeout = 2.0
        if drop_rts:
            port.rts = False  # applied on open; pyserial ignores it on ports without lines
        try:
            port.open()
        except _PORT_ERRORS as error:
            raise PanelDisconnectedError(
                f"cannot open {self.port} for {self.what} ({_reason(error)}); check the port "
                "name and that no other program has it open"
            ) from error
        self._serial = port
        if settle_s > 0:
            clock.sleep(settle_s)
        if drop_rts:
            try:
                port.rts = False
            except OSError as error:
                if error.errno not in (errno.ENOTTY, errno.EINVAL):
                    self.close()
                    raise self._gone(error) from error

    def close(self) -> None:
        """Close the port; never raises."""
        port, self._serial = self._serial, None
        if port is not None:
            try:
                port.close()
            except _PORT_ERRORS:
                log.debug("closing %s failed", self.port, exc_info=True)

    @property
    def is_open(self) -> bool:
        """Whether the port is open."""
        return self._serial is not None

    def send(self, data: bytes) -> None:
        """Drop unread input, then write ``data``."""
        port = self._port()
        try:
            port.reset_input_buffer()
            port.write(data)
            port.flush()
        except _PORT_ERRORS as error:
            raise self._gone(error) from error

    def read_line(self, timeout_s: float) -> str | None:
        """One reply line without its terminator; None when nothing came in ``timeout_s``.

        Serial timeouts are real time, whatever clock the driver runs on.
        """
        port = self._port()
        deadline = time.monotonic() + timeout_s
        line = bytearray()
        try:
            while True:
                if time.monotonic() >= deadline:  # a partial line is garbled, not silence
                    return line.decode("ascii", errors="replace") if line else None
                chunk = bytes(port.read(1))
                if not chunk:
                    continue
                if chunk in (b"\r", b"\n"):
                    if line:
                        return line.decode("ascii", errors="replace")
                    continue
                line += chunk
                if len(line) > MAX_LINE_BYTES:
                    return line.decode("ascii", errors="replace")
        except _PORT_ERRORS as error:
            raise self._gone(error) from error

    def exchange(self, data: bytes, label: str, accept: Callable[[str], T | None], *,
                 tries: int, timeout_s: float, unexpected: Callable[[str], str]) -> T:
        """Send ``data`` and read replies, ``tries`` times, until ``accept`` takes one.

        ``accept`` returns the value for a good reply, None for a garbled one. No
        answer at all ends in PanelTimeoutError; garbled answers in PanelProtocolError
        with ``unexpected(reply)``'s one-line message.
        """
        garbled: str | None = None
        for attempt in range(1, tries + 1):
            self.send(data)
            reply = self.read_line(timeout_s)
            if reply is None:
                garbled = None
                log.warning("%s: no answer to %s (try %d of %d)", self.port, label, attempt,
                            tries)
                continue
            value = accept(reply)
            if value is not None:
                return value
            garbled = reply
            log.warning("%s: garbled answer %r to %s (try %d of %d)", self.port, reply, label,
                        attempt, tries)
        if garbled is None:
            raise PanelTimeoutError(
                f"no answer from {self.what} on {self.port} after {tries} tries; check the "
                "cable, the panel's power and that no other program has the port open")
        raise PanelProtocolError(unexpected(garbled))

    def _port(self) -> serial.Serial:
        if self._serial is None:
            raise PanelDisconnectedError(
                f"{self.port} is closed for {self.what}; reconnect the panel"
            )
        return self._serial

    def _gone(self, error: BaseException) -> PanelDisconnectedError:
        self.close()
        return PanelDisconnectedError(
            f"lost {self.what} on {self.port} ({_reason(error)}); check the USB cable and "
            "the panel's power, then reconnect"
        )


def _reason(error: BaseException) -> str:
    """A one-line reason from a port error."""
    text = " ".join(str(error).split())
    return text or type(error).__name__


__all__ = ["MAX_LINE_BYTES", "SerialLine"]

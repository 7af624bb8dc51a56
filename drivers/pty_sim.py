"""Pseudo-terminal plumbing for serial-device simulators (POSIX only).

A :class:`PtyLineServer` opens a pseudo-terminal pair; the driver under test opens the
slave path (:attr:`port`) with pyserial exactly like a USB serial port, while a
daemon thread reads command lines from the master side and writes the replies that
:meth:`PtyLineServer.handle` returns. Faults every protocol shares live here: no
answer, a garbled reply, and the cable pulled mid-session.
"""

from __future__ import annotations

import logging
import os
import select
import sys
import threading
from abc import ABC, abstractmethod
from types import TracebackType

log = logging.getLogger(__name__)
#: garbage a garbled reply consists of (not the protocol, ends in LF)
GARBAGE = b"*\x7f?#~!\n"


class PtyLineServer(ABC):
    """A simulated serial device on a pseudo-terminal, serving one line per command."""

    def __init__(self, *, separators: bytes = b"\r\n", name: str = "pty-sim") -> None:
        if sys.platform == "win32":  # pragma: no cover - POSIX only
            raise OSError("pseudo-terminal simulators need a POSIX system")
        import tty

        self._separators = separators
        self._master, self._slave = os.openpty()
        tty.setraw(self._slave)  # no echo, no CR/LF translation, whoever opens it
        self.port: str = os.ttyname(self._slave)
        #: every command line received, raw, without its terminator
        self.received: list[bytes] = []
        #: every byte received, terminators included
        self.received_bytes = bytearray()
        #: faults: ignore commands; garble the next n replies
        self.no_answer = False
        self.garble_replies = 0
        self._stop = threading.Event()
        self._unplugged = False
        self._fd_lock = threading.Lock()
        self._thread = threading.Thread(target=self._serve, name=name, daemon=True)
        self._started = False

    # -- lifecycle ---------------------------------------------------------------
    def start(self) -> None:
        """Start serving (idempotent)."""
        if not self._started:
            self._started = True
            self._thread.start()

    def stop(self) -> None:
        """Stop the thread and close the pseudo-terminal (idempotent)."""
        self._stop.set()
        if self._started:
            self._thread.join(timeout=5.0)
        self._close_fds()

    @property
    def is_running(self) -> bool:
        """Whether the serving thread is alive."""
        return self._thread.is_alive()

    def __enter__(self) -> PtyLineServer:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def unplug(self) -> None:
        """Pull the cable: close the pseudo-terminal, the port's reads and writes fail."""
        self._unplugged = True
        self._stop.set()
        if self._started:
            self._thread.join(timeout=5.0)
        self._close_fds()

    def _close_fds(self) -> None:
        with self._fd_lock:
            for fd in (self._master, self._slave):
                if fd >= 0:
                    try:
                        os.close(fd)
                    except OSError:
                        pass
            self._master = self._slave = -1

    # -- protocol ----------------------------------------------------------------
    @abstractmethod
    def handle(self, line: bytes) -> bytes | None:
        """The reply (with its terminator) to one command line, or None for no reply."""

    def _serve(self) -> None:
        pending = bytearray()
        while not self._stop.is_set():
            try:
                ready, _, _ = select.select([self._master], [], [], 0.05)
                if not ready:
                    continue
                data = os.read(self._master, 1024)
            except (OSError, ValueError):
                return  # closed under us
            if not data:
                return
            pending += data
            self.received_bytes += data
            while True:
                cut = [i for i in (pending.find(bytes([s])) for s in self._separators)
                       if i >= 0]
                if not cut:
                    break
                end = min(cut)
                line, pending = bytes(pending[:end]), pending[end + 1:]
                if line:
                    self._answer(line)

    def _answer(self, line: bytes) -> None:
        self.received.append(line)
        if self.no_answer:
            return
        try:
            reply = self.handle(line)
        except Exception:  # a simulator bug must not hang the test silently
            log.exception("simulator failed on %r", line)
            return
        if reply is None:
            return
        if self.garble_replies > 0:
            self.garble_replies -= 1
            reply = GARBAGE
        try:
            os.write(self._master, reply)
        except OSError:
            pass


__all__ = ["GARBAGE", "PtyLineServer"]

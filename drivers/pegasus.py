"""Pegasus Astro FlatMaster: a light panel without cover, over its serial protocol.

As INDI (``pegasus_flatmaster.cpp``) and N.I.N.A. (``PegasusAstroSDK``) speak it:
9600 8N1, lines end in LF. ``#`` → ``OK_FM``; ``V`` → ``V:x.y``; ``E:1`` / ``E:0``
switch the light (echoed); ``L:nnn`` sets the brightness (echoed), **inverted** on the
device: 20 is the brightest code, 220 the dimmest that peers use.

Users see a normal brightness 0..200 (0 dimmest, 200 brightest); the driver sends
``L:`` with 220 - level. The panel cannot be asked for its state, so opening it
switches the light off at the dimmest level: the state is then known.
"""

from __future__ import annotations

import logging

from drivers.clock import Clock
from drivers.errors import PanelProtocolError, PanelTimeoutError
from drivers.panel import LightPanel, PanelInfo, PanelValueError
from drivers.panel_serial import SerialLine

log = logging.getLogger(__name__)

BAUDRATE = 9600
#: the device's brightest and dimmest ``L:`` codes (N.I.N.A.'s range)
CODE_BRIGHTEST = 20
CODE_DIMMEST = 220
BRIGHTNESS_MAX = CODE_DIMMEST - CODE_BRIGHTEST


def level_to_code(level: int) -> int:
    """The ``L:`` code for a user brightness 0..200 (inverted: 0 → 220, 200 → 20)."""
    return CODE_DIMMEST - level


def code_to_level(code: int) -> int:
    """The user brightness for an ``L:`` code (inverse of :func:`level_to_code`)."""
    return CODE_DIMMEST - code


class PegasusFlatMaster(LightPanel):
    """A Pegasus FlatMaster on a serial port (no cover)."""

    def __init__(
        self,
        port: str,
        *,
        clock: Clock | None = None,
        timeout_s: float = 1.0,
        tries: int = 3,
        settle_s: float = 0.0,
    ) -> None:
        super().__init__(clock)
        if not timeout_s > 0 or tries < 1 or settle_s < 0:
            raise PanelValueError(
                f"use timeout_s > 0, tries >= 1 and settle_s >= 0 (got {timeout_s}, {tries}, "
                f"{settle_s})"
            )
        self.port = port
        self.timeout_s = timeout_s
        self.tries = tries
        self.settle_s = settle_s
        self.firmware: str | None = None
        self._line = SerialLine(port, BAUDRATE, "the Pegasus FlatMaster")
        self._info = PanelInfo(
            name=f"Pegasus FlatMaster on {port}",
            model="Pegasus FlatMaster",
            driver="pegasus",
            brightness_min=0,
            brightness_max=BRIGHTNESS_MAX,
            has_cover=False,
            has_light=True,
            lights_only_when_closed=False,
        )

    @property
    def info(self) -> PanelInfo:
        """Fixed properties of the FlatMaster."""
        return self._info

    # -- protocol ----------------------------------------------------------------
    def command(self, text: str, expect: str) -> str:
        """Send ``text``; return the reply line, which must start with ``expect``."""
        with self._lock:
            return self._command(text, expect)

    def _command(self, text: str, expect: str) -> str:
        data = (text + "\n").encode("ascii")
        return self._line.exchange(
            data, text, lambda reply: reply if reply.startswith(expect) else None,
            tries=self.tries, timeout_s=self.timeout_s,
            unexpected=lambda garbled: (
                f"the device on {self.port} answered {garbled!r} to {text!r} after "
                f"{self.tries} tries; check that it is a Pegasus FlatMaster"))

    def _send_code(self, code: int) -> int:
        reply = self.command(f"L:{code:03d}", "L:")
        value = reply[2:].strip()
        if not value.isdigit() or int(value) != code:
            raise PanelProtocolError(
                f"the Pegasus FlatMaster on {self.port} answered {reply!r} to L:{code:03d}; "
                "check that it is a FlatMaster and update its firmware"
            )
        return code

    # -- hooks -------------------------------------------------------------------
    def _do_open(self) -> None:
        self._line.open(drop_rts=False, settle_s=self.settle_s, clock=self.clock)
        try:
            self.command("#", "OK_FM")
            try:
                self.firmware = self.command("V", "V:")[2:]
            except (PanelTimeoutError, PanelProtocolError) as error:
                log.warning("%s: no firmware version (%s)", self.port, error)
        except BaseException:
            self._line.close()
            raise

    def _do_close(self) -> None:
        self._line.close()

    def _do_initial_light_state(self) -> tuple[int, bool]:
        self._do_switch_light(False)
        return code_to_level(self._send_code(CODE_DIMMEST)), False

    def _do_set_brightness(self, level: int) -> int:
        return code_to_level(self._send_code(level_to_code(level)))

    def _do_switch_light(self, on: bool) -> None:
        text = f"E:{1 if on else 0}"
        reply = self.command(text, "E:")
        if reply.strip() != text:
            raise PanelProtocolError(
                f"the Pegasus FlatMaster on {self.port} answered {reply!r} to {text}; check "
                "that it is a FlatMaster"
            )
        if on:  # apply the brightness after enabling, as INDI does
            self._send_code(level_to_code(self._brightness))


__all__ = ["BRIGHTNESS_MAX", "PegasusFlatMaster", "code_to_level", "level_to_code"]

"""Alnitak panels (Flip-Flat, Flat-Man, Flip-Mask and clones) and the Gemini SnapCap.

The serial protocol as INDI (``flip_flat.cpp``, ``snapcap.cpp``) and N.I.N.A.
(``AlnitakSDK``) speak it: 9600 8N1, no handshake. A command is ``>`` + letter + three
characters (a filler, or the brightness ``###``) + CR. A reply is ``*`` + the echoed
letter + a 2-digit product id + three characters, ended by LF (CR accepted too); the
filler is the letter O on some devices and the digit 0 on others, both are accepted.
``*Siimlc`` is the state: motor 0/1, light 0/1, cover 0 neither / 1 closed / 2 open /
3 timed out. The SnapCap replies without product id (``*Smlc``) and its cover codes
differ (1 open, 2 closed; 3-6 faults).

Arduino clones reset when the port opens: the driver drops RTS and waits ``settle_s``
on its clock before the first command. A silent panel is retried ``tries`` times,
then :class:`PanelTimeoutError`; a garbled reply likewise ends in
:class:`PanelProtocolError`; a port that goes away raises
:class:`PanelDisconnectedError`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Literal

from drivers.clock import Clock
from drivers.errors import PanelProtocolError, PanelTimeoutError
from drivers.panel import CoverState, LightPanel, PanelInfo, PanelValueError
from drivers.panel_serial import SerialLine

log = logging.getLogger(__name__)

BAUDRATE = 9600
FILLERS = ("O", "0")
BRIGHTNESS_MAX = 255
Variant = Literal["alnitak", "snapcap"]


@dataclass(frozen=True, slots=True)
class AlnitakProduct:
    """What an Alnitak product id means."""

    model: str
    has_cover: bool
    has_light: bool


PRODUCTS: dict[int, AlnitakProduct] = {
    10: AlnitakProduct("Flat-Man XL", has_cover=False, has_light=True),
    15: AlnitakProduct("Flat-Man L", has_cover=False, has_light=True),
    19: AlnitakProduct("Flat-Man", has_cover=False, has_light=True),
    98: AlnitakProduct("Flip-Mask", has_cover=True, has_light=False),
    99: AlnitakProduct("Flip-Flat", has_cover=True, has_light=True),
}
SNAPCAP = AlnitakProduct("Gemini SnapCap", has_cover=True, has_light=True)
_ALNITAK_COVER = {"0": CoverState.UNKNOWN, "1": CoverState.CLOSED, "2": CoverState.OPEN,
                  "3": CoverState.TIMED_OUT}
_SNAPCAP_COVER = {"0": CoverState.UNKNOWN, "1": CoverState.OPEN, "2": CoverState.CLOSED,
                  "3": CoverState.TIMED_OUT, "4": CoverState.TIMED_OUT,
                  "5": CoverState.TIMED_OUT, "6": CoverState.TIMED_OUT}


def product_for(product_id: int) -> AlnitakProduct:
    """The product a ping's id names; unknown ids (clones) are taken as a light panel."""
    product = PRODUCTS.get(product_id)
    if product is None:
        log.warning("unknown Alnitak product id %02d; treating it as a light panel without "
                    "cover", product_id)
        return AlnitakProduct(f"Alnitak-compatible panel (product {product_id:02d})",
                              has_cover=False, has_light=True)
    return product


def parse_reply(reply: str, letter: str, *, snapcap: bool = False) -> str | None:
    """The three payload characters of a valid reply to ``letter``, or None if garbled."""
    head = 2 if snapcap else 4
    if len(reply) != head + 3 or reply[0] != "*" or reply[1] != letter:
        return None
    if not snapcap and not reply[2:4].isdigit():
        return None
    payload = reply[head:]
    if letter in "POCLD":
        ok = all(c in FILLERS for c in payload)
    elif letter in "BJ":
        ok = payload.isdigit() and int(payload) <= BRIGHTNESS_MAX
    elif letter == "S":
        ok = payload[0] in "01" and payload[1] in "01" and payload[2].isdigit()
    else:
        ok = payload.isprintable()
    return payload if ok else None


class AlnitakPanel(LightPanel):
    """An Alnitak-protocol panel on a serial port (Flip-Flat, Flat-Man, Flip-Mask, SnapCap)."""

    #: how often the cover state is polled while it moves (peers poll every 0.3-1 s)
    poll_interval_s = 0.25

    def __init__(
        self,
        port: str,
        *,
        clock: Clock | None = None,
        timeout_s: float = 1.0,
        tries: int = 3,
        settle_s: float = 2.0,
        command_filler: str = "0",
        variant: Variant = "alnitak",
    ) -> None:
        super().__init__(clock)
        if command_filler not in FILLERS:
            raise PanelValueError(f"command_filler {command_filler!r}: use 'O' or '0'")
        if not timeout_s > 0 or tries < 1 or settle_s < 0:
            raise PanelValueError(
                f"use timeout_s > 0, tries >= 1 and settle_s >= 0 (got {timeout_s}, {tries}, "
                f"{settle_s})"
            )
        if variant not in ("alnitak", "snapcap"):
            raise PanelValueError(f"variant {variant!r}: use 'alnitak' or 'snapcap'")
        self.port = port
        self.timeout_s = timeout_s
        self.tries = tries
        self.settle_s = settle_s
        self.command_filler = command_filler
        self.variant: Variant = variant
        self.product_id: int | None = None
        self.firmware: str | None = None
        self._last_product_id = 0
        what = "the SnapCap" if variant == "snapcap" else "the Alnitak panel"
        self._line = SerialLine(port, BAUDRATE, what)
        self._product: AlnitakProduct | None = SNAPCAP if variant == "snapcap" else None

    @property
    def info(self) -> PanelInfo:
        """The panel as its product id says (a light panel without cover before open)."""
        product = self._product
        model = product.model if product else "Alnitak panel"
        return PanelInfo(
            name=f"{model} on {self.port}",
            model=model,
            driver=self.variant,
            brightness_min=0,
            brightness_max=BRIGHTNESS_MAX,
            has_cover=product.has_cover if product else False,
            has_light=product.has_light if product else True,
            lights_only_when_closed=bool(product and product.has_cover and product.has_light),
        )

    # -- protocol ----------------------------------------------------------------
    def command(self, letter: str, argument: str | None = None) -> str:
        """Send one command, return the reply's 3-character payload (with retries)."""
        with self._lock:
            return self._command(letter, argument)

    def _command(self, letter: str, argument: str | None) -> str:
        text = f">{letter}{argument if argument is not None else self.command_filler * 3}"
        data = (text + "\r").encode("ascii")
        snapcap = self.variant == "snapcap"

        def accept(reply: str) -> str | None:
            payload = parse_reply(reply, letter, snapcap=snapcap)
            if payload is not None and not snapcap:
                self._last_product_id = int(reply[2:4])
            return payload

        return self._line.exchange(
            data, text, accept, tries=self.tries, timeout_s=self.timeout_s,
            unexpected=lambda garbled: (
                f"{self._line.what} on {self.port} answered {garbled!r} to {text!r} after "
                f"{self.tries} tries; check that {self.port} is an Alnitak-compatible panel"))

    def _ping(self) -> int:
        """The product id from ``>P``."""
        self.command("P")
        self.product_id = self._last_product_id
        return self.product_id

    def _status(self) -> tuple[bool, bool, str]:
        """(motor running, light on, cover code) from ``>S``."""
        payload = self.command("S")
        return payload[0] == "1", payload[1] == "1", payload[2]

    # -- hooks -------------------------------------------------------------------
    def _do_open(self) -> None:
        self._line.open(drop_rts=True, settle_s=self.settle_s, clock=self.clock)
        try:
            if self.variant == "alnitak":
                self._product = product_for(self._ping())
            try:
                self.firmware = self.command("V")
            except (PanelTimeoutError, PanelProtocolError) as error:
                if self.variant == "snapcap":  # the SnapCap's ping is >V
                    raise
                log.warning("%s: no firmware version (%s)", self.port, error)
        except BaseException:
            self._line.close()
            raise

    def _do_close(self) -> None:
        self._line.close()

    def _do_initial_light_state(self) -> tuple[int, bool]:
        _, light_on, _ = self._status()
        return int(self.command("J")), light_on

    def _do_set_brightness(self, level: int) -> int:
        return int(self.command("B", f"{level:03d}"))

    def _do_switch_light(self, on: bool) -> None:
        self.command("L" if on else "D")

    def _do_cover_state(self) -> CoverState:
        motor, _, code = self._status()
        if motor:
            return CoverState.MOVING
        codes = _SNAPCAP_COVER if self.variant == "snapcap" else _ALNITAK_COVER
        return codes.get(code, CoverState.UNKNOWN)

    def _do_move_cover(self, target: CoverState) -> None:
        self.command("O" if target is CoverState.OPEN else "C")


__all__ = ["PRODUCTS", "AlnitakPanel", "AlnitakProduct", "parse_reply", "product_for"]

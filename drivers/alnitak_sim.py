"""A simulated Alnitak panel on a pseudo-terminal, speaking the protocol byte for byte.

The state lives in a :class:`SimulatedPanel`, so the light the telescope gets
(``server.panel.flux_e_s()``) follows the protocol commands. Choose the product id
(99 Flip-Flat, 19 Flat-Man, 98 Flip-Mask, ...), the reply filler (``O`` or ``0``), the
reply terminator, or the SnapCap variant. Faults: no answer, garbled replies, the
cable pulled (:meth:`unplug`), and a cover that never arrives
(``server.panel.faults.cover_stuck``). POSIX only.
"""

from __future__ import annotations

from drivers.clock import Clock
from drivers.panel import CoverState
from drivers.panel_sim import SimPanelConfig, SimulatedPanel
from drivers.pty_sim import PtyLineServer

FIRMWARE = "142"
_ALNITAK_COVER_CODES = {CoverState.CLOSED: "1", CoverState.OPEN: "2",
                        CoverState.TIMED_OUT: "3"}
_SNAPCAP_COVER_CODES = {CoverState.OPEN: "1", CoverState.CLOSED: "2",
                        CoverState.TIMED_OUT: "3"}


#: the device's own facts, kept apart from the driver's so a mistake in one shows up
#: as a failing byte-for-byte test: the fillers real firmware sends, and per product id
#: (has cover, has light): 10/15/19 Flat-Man XL/L/plain, 98 Flip-Mask, 99 Flip-Flat
DEVICE_FILLERS = ("O", "0")
DEVICE_KINDS: dict[int, tuple[bool, bool]] = {
    10: (False, True), 15: (False, True), 19: (False, True), 98: (True, False),
    99: (True, True),
}

class AlnitakPtyServer(PtyLineServer):
    """A simulated Alnitak device; its serial port is :attr:`port`."""

    def __init__(
        self,
        *,
        product_id: int = 99,
        filler: str = "O",
        terminator: bytes = b"\n",
        snapcap: bool = False,
        panel: SimulatedPanel | None = None,
        clock: Clock | None = None,
    ) -> None:
        if filler not in DEVICE_FILLERS:
            raise ValueError(f"filler {filler!r}: use 'O' or '0'")
        if not snapcap and not 0 <= product_id <= 99:
            raise ValueError(f"product_id {product_id}: use two digits")
        super().__init__(name=f"alnitak-sim-{product_id}")
        cover, light = DEVICE_KINDS.get(product_id, (False, True))
        self.has_cover = snapcap or cover
        self.has_light = snapcap or light
        self.product_id = product_id
        self.filler = filler
        self.terminator = terminator
        self.snapcap = snapcap
        if panel is None:
            panel = SimulatedPanel(SimPanelConfig(has_cover=self.has_cover), clock)
        self.panel = panel
        self.panel.open()

    def __enter__(self) -> AlnitakPtyServer:
        self.start()
        return self

    def _reply(self, letter: str, payload: str) -> bytes:
        head = "" if self.snapcap else f"{self.product_id:02d}"
        return f"*{letter}{head}{payload}".encode("ascii") + self.terminator

    def handle(self, line: bytes) -> bytes | None:
        """Answer one command line like the device does (unknown commands: silence)."""
        text = line.decode("ascii", errors="replace")
        if len(text) != 5 or text[0] != ">":
            return None
        letter, argument = text[1], text[2:]
        fill = self.filler * 3
        panel = self.panel
        if letter == "P" and not self.snapcap:
            return self._reply("P", fill)
        if letter == "V":
            return self._reply("V", FIRMWARE)
        if letter in "OC":
            if self.has_cover:
                panel.start_cover_move(CoverState.OPEN if letter == "O" else CoverState.CLOSED)
            return self._reply(letter, fill)
        if letter in "LD":
            if self.has_light and letter == "L":
                panel.light_on()
            elif self.has_light:
                panel.light_off()
            return self._reply(letter, fill)
        if letter == "B":
            if not argument.isdigit():
                return None
            level = min(int(argument), panel.info.brightness_max)
            if self.has_light:
                panel.set_brightness(level)
            return self._reply("B", f"{panel.brightness:03d}")
        if letter == "J":
            return self._reply("J", f"{panel.brightness:03d}")
        if letter == "S":
            return self._reply("S", self._status())
        return None

    def _status(self) -> str:
        """``mlc``: motor, light, cover code."""
        state = self.panel.cover_state() if self.has_cover else CoverState.NONE
        motor = "1" if state is CoverState.MOVING else "0"
        light = "1" if self.panel.light_is_on else "0"
        codes = _SNAPCAP_COVER_CODES if self.snapcap else _ALNITAK_COVER_CODES
        return f"{motor}{light}{codes.get(state, '0')}"


__all__ = ["FIRMWARE", "AlnitakPtyServer"]

"""A simulated Pegasus FlatMaster on a pseudo-terminal (POSIX only).

It answers ``#``, ``V``, ``E:n`` and ``L:nnn`` as the device does, over a
:class:`SimulatedPanel` (a Flat-Man-like panel without cover, 0..200 levels) so the
light follows the commands: ``L:020`` is the brightest, ``L:220`` the dimmest.
"""

from __future__ import annotations

from drivers.clock import Clock
from drivers.panel_sim import SimPanelConfig, SimulatedPanel
from drivers.pty_sim import PtyLineServer

FIRMWARE = "1.3"


#: the device's own brightness codes (inverted: 20 brightest, 220 dimmest), kept apart
#: from the driver's so a mistake in one shows up in the byte-for-byte tests
DEVICE_BRIGHTEST = 20
DEVICE_DIMMEST = 220
LEVELS = DEVICE_DIMMEST - DEVICE_BRIGHTEST

class PegasusPtyServer(PtyLineServer):
    """A simulated FlatMaster; its serial port is :attr:`port`."""

    def __init__(self, *, panel: SimulatedPanel | None = None, clock: Clock | None = None,
                 terminator: bytes = b"\n") -> None:
        super().__init__(name="pegasus-sim")
        self.terminator = terminator
        if panel is None:
            panel = SimulatedPanel(
                SimPanelConfig(levels=LEVELS, has_cover=False, min_level=0), clock)
        self.panel = panel
        self.panel.open()
        #: the last ``L:`` code received (the device's inverted scale)
        self.code: int | None = None

    def __enter__(self) -> PegasusPtyServer:
        self.start()
        return self

    def handle(self, line: bytes) -> bytes | None:
        """Answer one command line (unknown commands: silence)."""
        text = line.decode("ascii", errors="replace").strip()
        if text == "#":
            return self._reply("OK_FM")
        if text == "V":
            return self._reply(f"V:{FIRMWARE}")
        if text in ("E:0", "E:1"):
            if text == "E:1":
                self.panel.light_on()
            else:
                self.panel.light_off()
            return self._reply(text)
        if text.startswith("L:") and text[2:].isdigit():
            code = min(max(int(text[2:]), DEVICE_BRIGHTEST), DEVICE_DIMMEST)
            self.code = code
            self.panel.set_brightness(DEVICE_DIMMEST - code)
            return self._reply(f"L:{code:03d}")
        return None

    def _reply(self, text: str) -> bytes:
        return text.encode("ascii") + self.terminator


__all__ = ["FIRMWARE", "PegasusPtyServer"]

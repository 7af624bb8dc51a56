"""Open a light panel from a short spec, and list the panels that can be auto-detected.

Specs: ``sim`` (the in-process simulated panel), ``alnitak:PORT`` or ``alnitak`` (the
one USB serial port with FTDI id 0403:6001), ``snapcap:PORT``, ``pegasus:PORT`` or
``pegasus`` (FTDI 0403:6015). Panels come back unopened: use ``with``.
"""

from __future__ import annotations

from dataclasses import dataclass

from serial.tools import list_ports

from drivers.alnitak import AlnitakPanel
from drivers.clock import Clock
from drivers.panel import LightPanel, PanelValueError
from drivers.panel_sim import SimPanelConfig, SimulatedPanel
from drivers.pegasus import PegasusFlatMaster
from drivers.screen_panel import SCREEN_SPEC

SPEC_FORMS = ("sim", "alnitak", "alnitak:PORT", "snapcap:PORT", "pegasus", "pegasus:PORT")


@dataclass(frozen=True, slots=True)
class UsbId:
    """A USB vendor:product id and the panel family that usually carries it."""

    vid: int
    pid: int
    family: str
    label: str

    def __str__(self) -> str:
        return f"{self.vid:04x}:{self.pid:04x}"


#: auto-detection: the FTDI chips the panels ship with (others use the same chips too)
USB_IDS = {
    "alnitak": UsbId(0x0403, 0x6001, "alnitak", "Alnitak panel (Flip-Flat, Flat-Man)"),
    "pegasus": UsbId(0x0403, 0x6015, "pegasus", "Pegasus FlatMaster"),
}


def open_panel(
    spec: str,
    *,
    sim_config: SimPanelConfig | None = None,
    clock: Clock | None = None,
) -> LightPanel:
    """A panel object for ``spec`` (not yet opened: use ``with``)."""
    family, sep, port = spec.strip().partition(":")
    family = family.lower()
    if family == "sim" and not sep:
        return SimulatedPanel(sim_config, clock)
    if family in ("alnitak", "snapcap", "pegasus") and (port or not sep):
        if not port:
            if family == "snapcap":
                raise PanelValueError(
                    "name the SnapCap's port, e.g. snapcap:/dev/ttyUSB0 (it cannot be "
                    "auto-detected)"
                )
            port = _detect(USB_IDS[family])
        if family == "pegasus":
            return PegasusFlatMaster(port, clock=clock)
        if family == "snapcap":
            return AlnitakPanel(port, clock=clock, variant="snapcap")
        return AlnitakPanel(port, clock=clock)
    if family == SCREEN_SPEC and not sep:
        raise PanelValueError("the screen panel is the desktop app's own window: choose it "
                              "in 'autoflats gui', or give another --panel here")
    raise PanelValueError(
        f"unknown panel {spec!r}; use one of: {', '.join(SPEC_FORMS)} "
        "(PORT like /dev/ttyUSB0 or COM3)"
    )


def list_panels() -> list[tuple[str, str]]:
    """(spec, description) for each USB serial port with a panel's FTDI id."""
    found = []
    for usb_id in USB_IDS.values():
        for port in _matching_ports(usb_id):
            found.append((f"{usb_id.family}:{port.device}",
                          f"{usb_id.label}? {_describe(port)}"))
    return found


def _matching_ports(usb_id: UsbId) -> list[list_ports.ListPortInfo]:
    return sorted((p for p in list_ports.comports()
                   if p.vid == usb_id.vid and p.pid == usb_id.pid),
                  key=lambda p: str(p.device))


def _describe(port: list_ports.ListPortInfo) -> str:
    ids = f"{port.vid:04x}:{port.pid:04x}" if port.vid is not None else "no USB id"
    details = ", ".join(str(x) for x in (port.description, port.serial_number)
                        if x and x != "n/a")
    return f"{port.device} ({ids}{', ' + details if details else ''})"


def _detect(usb_id: UsbId) -> str:
    """The one port with ``usb_id``; a one-line error when none or several match."""
    matches = _matching_ports(usb_id)
    if len(matches) == 1:
        return str(matches[0].device)
    example = f"{usb_id.family}:/dev/ttyUSB0"
    if not matches:
        present = "; ".join(_describe(p) for p in list_ports.comports()) or "none"
        raise PanelValueError(
            f"no {usb_id.label} found (no USB serial port with id {usb_id}); ports present: "
            f"{present}; plug it in or name the port, e.g. {example}"
        )
    names = ", ".join(str(p.device) for p in matches)
    raise PanelValueError(
        f"several ports with id {usb_id} ({names}); name the panel's port, e.g. "
        f"{usb_id.family}:{matches[0].device}"
    )


__all__ = ["SPEC_FORMS", "USB_IDS", "list_panels", "open_panel"]

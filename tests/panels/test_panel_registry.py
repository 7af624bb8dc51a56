"""open_panel specs, auto-detection by USB id, and one-line errors."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from drivers.alnitak import AlnitakPanel
from drivers.clock import SimulatedClock
from drivers.panel import PanelValueError
from drivers.panel_registry import list_panels, open_panel
from drivers.panel_sim import SimPanelConfig, SimulatedPanel
from drivers.pegasus import PegasusFlatMaster
from tests.panels.conftest import POSIX_ONLY


def _port(device: str, vid: int | None = None, pid: int | None = None,
          description: str = "n/a", serial_number: str | None = None) -> Any:
    return SimpleNamespace(device=device, vid=vid, pid=pid, description=description,
                           serial_number=serial_number)


@pytest.fixture
def ports(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """The serial ports the registry sees (empty until a test adds some)."""
    present: list[Any] = []
    monkeypatch.setattr("serial.tools.list_ports.comports", lambda: list(present))
    return present


def _one_line(error: pytest.ExceptionInfo[PanelValueError]) -> str:
    message = str(error.value)
    assert "\n" not in message
    return message


def test_sim_spec_uses_config_and_clock(clock: SimulatedClock) -> None:
    config = SimPanelConfig(levels=100, has_cover=False)
    panel = open_panel("sim", sim_config=config, clock=clock)
    assert isinstance(panel, SimulatedPanel) and not panel.is_open
    assert panel.config is config and panel.clock is clock
    assert isinstance(open_panel(" SIM "), SimulatedPanel)


@pytest.mark.parametrize(("spec", "kind", "port", "driver"), [
    ("alnitak:/dev/ttyUSB0", AlnitakPanel, "/dev/ttyUSB0", "alnitak"),
    ("Alnitak:COM3", AlnitakPanel, "COM3", "alnitak"),
    ("snapcap:/dev/ttyACM1", AlnitakPanel, "/dev/ttyACM1", "snapcap"),
    ("pegasus:COM4", PegasusFlatMaster, "COM4", "pegasus"),
])
def test_port_specs(ports: list[Any], spec: str, kind: type, port: str, driver: str) -> None:
    panel = open_panel(spec)
    assert isinstance(panel, kind) and panel.port == port  # type: ignore[attr-defined]
    assert panel.info.driver == driver and not panel.is_open


def test_autodetect_the_one_matching_port(ports: list[Any]) -> None:
    ports += [_port("/dev/ttyS0"), _port("/dev/ttyUSB3", 0x0403, 0x6001, "FT232R"),
              _port("/dev/ttyUSB4", 0x0403, 0x6015, "FT230X")]
    alnitak = open_panel("alnitak")
    assert isinstance(alnitak, AlnitakPanel) and alnitak.port == "/dev/ttyUSB3"
    pegasus = open_panel("pegasus")
    assert isinstance(pegasus, PegasusFlatMaster) and pegasus.port == "/dev/ttyUSB4"
    assert list_panels() == [
        ("alnitak:/dev/ttyUSB3",
         "Alnitak panel (Flip-Flat, Flat-Man)? /dev/ttyUSB3 (0403:6001, FT232R)"),
        ("pegasus:/dev/ttyUSB4", "Pegasus FlatMaster? /dev/ttyUSB4 (0403:6015, FT230X)"),
    ]


def test_autodetect_none_lists_the_ports(ports: list[Any]) -> None:
    ports += [_port("/dev/ttyS0"), _port("/dev/ttyACM0", 0x2341, 0x0043, "Arduino Uno")]
    with pytest.raises(PanelValueError) as error:
        open_panel("alnitak")
    message = _one_line(error)
    assert "no USB serial port with id 0403:6001" in message
    assert "ports present: /dev/ttyS0 (no USB id); /dev/ttyACM0 (2341:0043, Arduino Uno)" in message
    assert "alnitak:/dev/ttyUSB0" in message


def test_autodetect_several_asks_for_the_port(ports: list[Any]) -> None:
    ports += [_port("/dev/ttyUSB1", 0x0403, 0x6001), _port("/dev/ttyUSB0", 0x0403, 0x6001)]
    with pytest.raises(PanelValueError) as error:
        open_panel("alnitak")
    message = _one_line(error)
    assert "several ports with id 0403:6001 (/dev/ttyUSB0, /dev/ttyUSB1)" in message
    assert "alnitak:/dev/ttyUSB0" in message


@pytest.mark.parametrize("spec", ["flipflat", "sim:x", "alnitak:", "", "dsd:COM1"])
def test_unknown_spec_lists_the_accepted_forms(ports: list[Any], spec: str) -> None:
    with pytest.raises(PanelValueError) as error:
        open_panel(spec)
    message = _one_line(error)
    assert f"unknown panel {spec!r}" in message
    for form in ("sim", "alnitak:PORT", "pegasus:PORT", "snapcap:PORT"):
        assert form in message


def test_snapcap_needs_a_port(ports: list[Any]) -> None:
    with pytest.raises(PanelValueError, match="name the SnapCap's port"):
        open_panel("snapcap")


def test_list_panels_empty_without_matching_ports(ports: list[Any]) -> None:
    ports.append(_port("/dev/ttyS0"))
    assert list_panels() == []


@POSIX_ONLY
def test_opened_spec_drives_the_simulated_device(clock: SimulatedClock) -> None:
    from drivers.alnitak_sim import AlnitakPtyServer

    with AlnitakPtyServer(clock=clock) as srv, open_panel(f"alnitak:{srv.port}",
                                                          clock=clock) as panel:
        panel.set_brightness(255)
        panel.light_on()
        assert srv.panel.flux_e_s() == pytest.approx(40000.0)

"""The Alnitak driver byte for byte against the pty simulator."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from drivers.alnitak import AlnitakPanel, parse_reply
from drivers.alnitak_sim import AlnitakPtyServer
from drivers.clock import SimulatedClock
from drivers.errors import (
    PanelDisconnectedError,
    PanelError,
    PanelProtocolError,
    PanelTimeoutError,
)
from drivers.panel import CoverState, PanelValueError
from tests.panels.conftest import POSIX_ONLY

pytestmark = POSIX_ONLY
Build = Callable[..., tuple[AlnitakPtyServer, AlnitakPanel]]


def test_open_pings_reads_product_firmware_and_state(alnitak: Build,
                                                     clock: SimulatedClock) -> None:
    srv, panel = alnitak()
    panel.open()
    assert srv.received == [b">P000", b">V000", b">S000", b">J000"]
    assert panel.product_id == 99 and panel.firmware == "142"
    info = panel.info
    assert (info.model, info.driver) == ("Flip-Flat", "alnitak")
    assert info.has_cover and info.has_light and info.lights_only_when_closed
    assert (info.brightness_min, info.brightness_max) == (0, 255)
    assert clock.monotonic() >= 2.0  # the Arduino-reset settle wait, on the driver's clock


def test_commands_are_six_bytes_ending_in_cr(alnitak: Build) -> None:
    srv, panel = alnitak()
    with panel:
        panel.set_brightness(9)
    assert srv.received_bytes == b">P000\r>V000\r>S000\r>J000\r>B009\r"


def test_open_twice_connects_once(alnitak: Build) -> None:
    srv, panel = alnitak()
    panel.open()
    panel.open()
    assert srv.received.count(b">P000") == 1


def test_open_reads_the_panel_state_it_finds(alnitak: Build) -> None:
    srv, panel = alnitak()
    srv.panel.set_brightness(77)
    srv.panel.light_on()
    panel.open()
    assert panel.brightness == 77 and panel.light_is_on


@pytest.mark.parametrize(("product_id", "model", "has_cover", "has_light"), [
    (10, "Flat-Man XL", False, True),
    (15, "Flat-Man L", False, True),
    (19, "Flat-Man", False, True),
    (98, "Flip-Mask", True, False),
    (99, "Flip-Flat", True, True),
])
def test_product_ids(alnitak: Build, product_id: int, model: str, has_cover: bool,
                     has_light: bool) -> None:
    _, panel = alnitak(product_id=product_id)
    with panel:
        info = panel.info
        assert (info.model, info.has_cover, info.has_light) == (model, has_cover, has_light)
        assert info.lights_only_when_closed == (product_id == 99)
        assert info.name == f"{model} on {panel.port}"


def test_unknown_product_id_is_a_light_panel_without_cover(alnitak: Build) -> None:
    _, panel = alnitak(product_id=42)
    with panel:
        assert panel.info.has_light and not panel.info.has_cover
        assert "42" in panel.info.model


def test_brightness_round_trip(alnitak: Build) -> None:
    srv, panel = alnitak()
    with panel:
        assert panel.set_brightness(200) == 200
        assert panel.set_brightness(7) == 7
        assert panel.brightness == 7 == srv.panel.brightness
        assert srv.received[-2:] == [b">B200", b">B007"]
        sent = len(srv.received)
        with pytest.raises(PanelValueError, match=r"use 0\.\.255"):
            panel.set_brightness(256)
        assert len(srv.received) == sent  # refused before anything is sent


class _CoarseBrightness(AlnitakPtyServer):
    """A panel that applies brightness in steps of 10 (and says so in its reply)."""

    def handle(self, line: bytes) -> bytes | None:
        if line.startswith(b">B"):
            line = b">B%03d" % (int(line[2:]) // 10 * 10)
        return super().handle(line)


def test_brightness_returns_what_the_panel_applied(clock: SimulatedClock,
                                                   cleanup: Callable[[Any], Any]) -> None:
    srv = cleanup(_CoarseBrightness(clock=clock))
    srv.start()
    panel = cleanup(AlnitakPanel(srv.port, clock=clock, timeout_s=2.0))
    panel.open()
    assert panel.set_brightness(128) == 120
    assert panel.brightness == 120


def test_light_on_off_and_the_flux_follows(alnitak: Build) -> None:
    srv, panel = alnitak()
    with panel:
        panel.set_brightness(255)
        panel.light_on()
        assert srv.received[-1] == b">L000"
        assert panel.light_is_on and srv.panel.light_is_on
        assert srv.panel.flux_e_s() == pytest.approx(40000.0)  # cover closed: lit
        panel.light_off()
        assert srv.received[-1] == b">D000"
        assert not panel.light_is_on and srv.panel.flux_e_s() == 0.0


def test_cover_open_close_polls_state(alnitak: Build, clock: SimulatedClock) -> None:
    srv, panel = alnitak()
    with panel:
        assert panel.cover_state() is CoverState.CLOSED
        panel.light_on()
        panel.set_brightness(255)
        start = clock.monotonic()
        panel.open_cover()
        assert clock.monotonic() - start >= srv.panel.config.cover_move_s
        after_open = srv.received[srv.received.index(b">O000") + 1:]
        assert len(after_open) >= 2 and set(after_open) == {b">S000"}  # polled
        assert panel.cover_state() is CoverState.OPEN
        assert srv.panel.flux_e_s() == 0.0  # open: the telescope sees no panel light
        panel.close_cover()
        assert b">C000" in srv.received
        assert panel.cover_state() is CoverState.CLOSED
        assert srv.panel.flux_e_s() == pytest.approx(40000.0)


def test_cover_reports_moving_while_the_motor_runs(alnitak: Build,
                                                   clock: SimulatedClock) -> None:
    srv, panel = alnitak()
    with panel:
        srv.panel.start_cover_move(CoverState.OPEN)
        assert panel.cover_state() is CoverState.MOVING
        clock.sleep(srv.panel.config.cover_move_s)
        assert panel.cover_state() is CoverState.OPEN


class _FixedStatus(AlnitakPtyServer):
    status = "000"

    def _status(self) -> str:
        return self.status


@pytest.mark.parametrize(("status", "state"), [
    ("000", CoverState.UNKNOWN), ("001", CoverState.CLOSED), ("012", CoverState.OPEN),
    ("003", CoverState.TIMED_OUT), ("100", CoverState.MOVING), ("112", CoverState.MOVING),
])
def test_status_cover_codes(clock: SimulatedClock, cleanup: Callable[[Any], Any],
                            status: str, state: CoverState) -> None:
    srv = cleanup(_FixedStatus(clock=clock))
    srv.status = status
    srv.start()
    panel = cleanup(AlnitakPanel(srv.port, clock=clock, timeout_s=2.0))
    panel.open()
    assert panel.cover_state() is state
    assert panel.light_is_on == (status[1] == "1")


@pytest.mark.parametrize("filler", ["O", "0"])
def test_both_reply_fillers(alnitak: Build, filler: str) -> None:
    _, panel = alnitak(filler=filler)
    with panel:
        panel.light_on()
        panel.open_cover()
        assert panel.cover_state() is CoverState.OPEN and panel.light_is_on


def test_command_filler_letter_o(alnitak: Build) -> None:
    srv, panel = alnitak(driver={"command_filler": "O"})
    with panel:
        panel.light_on()
    assert srv.received[0] == b">POOO" and srv.received[-1] == b">LOOO"


@pytest.mark.parametrize("terminator", [b"\n", b"\r", b"\r\n"])
def test_cr_and_lf_reply_terminators(alnitak: Build, terminator: bytes) -> None:
    _, panel = alnitak(terminator=terminator)
    with panel:
        for level in (10, 20, 30):
            assert panel.set_brightness(level) == level
        assert panel.cover_state() is CoverState.CLOSED


def test_no_answer_is_a_timeout_after_retries(alnitak: Build) -> None:
    srv, panel = alnitak(driver={"timeout_s": 0.2, "tries": 3})
    with panel:
        srv.no_answer = True
        with pytest.raises(PanelTimeoutError, match=r"no answer .* after 3 tries; check the cable"):
            panel.light_on()
        assert srv.received.count(b">L000") == 3
        assert not panel.light_is_on


def test_silent_port_fails_to_open_and_releases_it(alnitak: Build) -> None:
    srv, panel = alnitak(driver={"timeout_s": 0.2, "tries": 2})
    srv.no_answer = True
    with pytest.raises(PanelTimeoutError):
        panel.open()
    assert not panel.is_open
    assert srv.received == [b">P000", b">P000"]
    assert _fds_open_on(srv.port) == 0  # the port was released


def _fds_open_on(path: str) -> int:
    """How many of this process's file descriptors are open on ``path`` (Linux)."""
    fd_dir = Path("/proc/self/fd")
    if not fd_dir.is_dir():
        pytest.skip("needs /proc to count open ports")
    count = 0
    for fd in fd_dir.iterdir():
        try:
            count += os.readlink(fd) == path
        except OSError:
            pass
    return count - 1  # the simulator's own slave end


def test_one_garbled_reply_is_retried(alnitak: Build) -> None:
    srv, panel = alnitak()
    with panel:
        srv.garble_replies = 1
        panel.light_on()
        assert srv.received[-2:] == [b">L000", b">L000"]
        assert panel.light_is_on


def test_persistently_garbled_replies_are_a_protocol_error(alnitak: Build) -> None:
    srv, panel = alnitak()
    with panel:
        srv.garble_replies = 99
        with pytest.raises(PanelProtocolError, match="Alnitak-compatible"):
            panel.set_brightness(10)
        assert panel.brightness == 0


def test_unplugged_port_is_a_disconnect(alnitak: Build) -> None:
    srv, panel = alnitak()
    with panel:
        srv.unplug()
        with pytest.raises(PanelDisconnectedError, match="check the USB cable"):
            panel.light_on()
        with pytest.raises(PanelDisconnectedError):
            panel.cover_state()
    assert not panel.is_open


def test_missing_port_cannot_open(clock: SimulatedClock) -> None:
    panel = AlnitakPanel("/dev/no-such-panel", clock=clock)
    with pytest.raises(PanelDisconnectedError, match="cannot open /dev/no-such-panel"):
        panel.open()
    assert not panel.is_open


def test_cover_never_arriving_times_out_with_advice(alnitak: Build,
                                                    clock: SimulatedClock) -> None:
    srv, panel = alnitak()
    with panel:
        srv.panel.faults.cover_stuck = True
        start = clock.monotonic()
        with pytest.raises(PanelTimeoutError,
                           match=r"did not open within 12 s \(it reports moving\); check "
                                 "that nothing blocks the cover"):
            panel.open_cover(timeout_s=12.0)
        assert clock.monotonic() - start == pytest.approx(12.0)


def test_motor_timeout_reported_by_the_panel_fails_early(alnitak: Build,
                                                         clock: SimulatedClock) -> None:
    srv, panel = alnitak()
    with panel:
        srv.panel.faults.cover_motor_fails = True
        start = clock.monotonic()
        with pytest.raises(PanelTimeoutError, match="motor timed out"):
            panel.open_cover(timeout_s=30.0)
        assert clock.monotonic() - start < 10.0


def test_server_stops_its_thread(clock: SimulatedClock) -> None:
    with AlnitakPtyServer(clock=clock) as srv:
        assert srv.is_running
    assert not srv.is_running


def test_cover_calls_on_a_panel_without_cover(alnitak: Build) -> None:
    srv, panel = alnitak(product_id=19)
    with panel:
        assert panel.cover_state() is CoverState.NONE
        with pytest.raises(PanelError, match="has no cover"):
            panel.close_cover()
    assert b">C000" not in srv.received


def test_flip_mask_refuses_light_calls(alnitak: Build) -> None:
    srv, panel = alnitak(product_id=98)
    with panel:
        for call in (panel.light_on, panel.light_off, lambda: panel.set_brightness(5)):
            with pytest.raises(PanelError, match="has no light"):
                call()
        panel.open_cover()
        assert panel.cover_state() is CoverState.OPEN
    assert b">J000" not in srv.received  # no brightness read for a dust cover


def test_snapcap_variant(alnitak: Build) -> None:
    srv, panel = alnitak(snapcap=True)
    with panel:
        assert srv.received[0] == b">V000"  # no product id: the version is the ping
        assert panel.info.model == "Gemini SnapCap" and panel.info.driver == "snapcap"
        panel.open_cover()
        assert panel.cover_state() is CoverState.OPEN
        panel.close_cover()
        assert panel.cover_state() is CoverState.CLOSED
        assert panel.set_brightness(99) == 99


@pytest.mark.parametrize(("reply", "letter", "payload"), [
    ("*P99OOO", "P", "OOO"), ("*P99000", "P", "000"), ("*B19128", "B", "128"),
    ("*S99012", "S", "012"), ("*V99142", "V", "142"),
    ("*P99OO", "P", None), ("*L99OOO", "P", None), ("#P99OOO", "P", None),
    ("*PxxOOO", "P", None), ("*B99256", "B", None), ("*S99212", "S", None),
    ("*P99ABC", "P", None),
])
def test_parse_reply(reply: str, letter: str, payload: str | None) -> None:
    assert parse_reply(reply, letter) == payload

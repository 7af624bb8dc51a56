"""The Pegasus FlatMaster driver against its pty simulator (inverted brightness)."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from drivers.errors import (
    PanelDisconnectedError,
    PanelError,
    PanelProtocolError,
    PanelTimeoutError,
)
from drivers.panel import CoverState, PanelValueError
from drivers.pegasus import BRIGHTNESS_MAX, PegasusFlatMaster, code_to_level, level_to_code
from drivers.pegasus_sim import PegasusPtyServer
from tests.panels.conftest import POSIX_ONLY

pytestmark = POSIX_ONLY
Build = Callable[..., tuple[PegasusPtyServer, PegasusFlatMaster]]


def test_open_checks_identity_and_sets_a_known_state(pegasus: Build) -> None:
    srv, panel = pegasus()
    srv.panel.light_on()  # whatever the panel was doing before
    with panel:
        assert srv.received_bytes == b"#\nV\nE:0\nL:220\n"
        assert panel.firmware == "1.3"
        assert panel.brightness == 0 and not panel.light_is_on
        assert not srv.panel.light_is_on
        info = panel.info
        assert (info.driver, info.has_cover, info.has_light) == ("pegasus", False, True)
        assert (info.brightness_min, info.brightness_max) == (0, 200)


@pytest.mark.parametrize(("level", "command"), [
    (0, b"L:220"), (1, b"L:219"), (100, b"L:120"), (150, b"L:070"), (200, b"L:020"),
])
def test_brightness_is_inverted_on_the_wire(pegasus: Build, level: int,
                                            command: bytes) -> None:
    srv, panel = pegasus()
    with panel:
        assert panel.set_brightness(level) == level
        assert srv.received[-1] == command
        assert srv.panel.brightness == level  # the simulator decodes the device code


def test_brighter_levels_give_more_light(pegasus: Build) -> None:
    srv, panel = pegasus()
    with panel:
        panel.light_on()
        fluxes = []
        for level in (10, 100, 200):
            panel.set_brightness(level)
            fluxes.append(srv.panel.flux_e_s())
        assert fluxes == sorted(fluxes) and fluxes[0] > 0
        assert fluxes[-1] == pytest.approx(srv.panel.config.flux_e_s_at_max)


def test_level_code_mapping_is_a_bijection() -> None:
    codes = [level_to_code(level) for level in range(BRIGHTNESS_MAX + 1)]
    assert codes[0] == 220 and codes[-1] == 20 and len(set(codes)) == len(codes)
    assert all(code_to_level(level_to_code(lv)) == lv for lv in range(BRIGHTNESS_MAX + 1))


def test_light_on_enables_then_reapplies_the_brightness(pegasus: Build) -> None:
    srv, panel = pegasus()
    with panel:
        panel.set_brightness(180)
        panel.light_on()
        assert srv.received[-2:] == [b"E:1", b"L:040"]
        assert panel.light_is_on and srv.panel.light_is_on
        panel.light_off()
        assert srv.received[-1] == b"E:0" and not srv.panel.light_is_on


def test_out_of_range_is_refused(pegasus: Build) -> None:
    srv, panel = pegasus()
    with panel:
        with pytest.raises(PanelValueError, match=r"use 0\.\.200"):
            panel.set_brightness(201)
        assert srv.received[-1] == b"L:220"


def test_no_cover(pegasus: Build) -> None:
    _, panel = pegasus()
    with panel:
        assert panel.cover_state() is CoverState.NONE
        with pytest.raises(PanelError, match="has no cover"):
            panel.open_cover()


def test_not_a_flatmaster_is_a_protocol_error(pegasus: Build) -> None:
    srv, panel = pegasus()
    srv.garble_replies = 99
    with pytest.raises(PanelProtocolError, match="check that it is a Pegasus FlatMaster"):
        panel.open()
    assert not panel.is_open


def test_one_garbled_reply_is_retried(pegasus: Build) -> None:
    srv, panel = pegasus()
    with panel:
        srv.garble_replies = 1
        assert panel.set_brightness(50) == 50
        assert srv.received[-2:] == [b"L:170", b"L:170"]


def test_no_answer_is_a_timeout(pegasus: Build) -> None:
    srv, panel = pegasus(driver={"timeout_s": 0.2, "tries": 2})
    with panel:
        srv.no_answer = True
        with pytest.raises(PanelTimeoutError, match="no answer from the Pegasus FlatMaster"):
            panel.light_on()
        assert srv.received[-2:] == [b"E:1", b"E:1"]


def test_unplugged_is_a_disconnect(pegasus: Build) -> None:
    srv, panel = pegasus()
    with panel:
        srv.unplug()
        with pytest.raises(PanelDisconnectedError):
            panel.set_brightness(3)


@pytest.mark.parametrize("terminator", [b"\r\n", b"\r"])
def test_crlf_replies(pegasus: Build, terminator: bytes) -> None:
    _, panel = pegasus(terminator=terminator)
    with panel:
        assert panel.set_brightness(120) == 120

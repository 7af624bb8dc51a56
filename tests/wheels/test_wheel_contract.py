"""The contract every FilterWheel keeps: the simulator, and EfwWheel over the C fake."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest

from drivers.efw import EfwWheel
from drivers.errors import (
    FilterWheelDisconnectedError,
    FilterWheelError,
    FilterWheelTimeoutError,
)
from drivers.wheel import FilterWheel, FilterWheelInfo, FilterWheelValueError
from drivers.wheel_sim import SimulatedWheel, SimWheelConfig
from tests.wheels.conftest import FAULT_STUCK, FakeEfw, ProbeClock


@dataclass
class Rig:
    """A wheel under test, its probing clock, and how to break it."""

    wheel: FilterWheel
    clock: ProbeClock
    make_stuck: Callable[[], None]
    disconnect: Callable[[], None]


def _sim_rig() -> Rig:
    clock = ProbeClock(lambda: None)
    wheel = SimulatedWheel(SimWheelConfig(move_s=1.0), clock=clock, poll_s=0.05)

    def stuck() -> None:
        wheel.fault_never_arrive = True

    def gone() -> None:
        wheel.fault_disconnected = True

    return Rig(wheel, clock, stuck, gone)


def _efw_rig(fake: FakeEfw) -> Rig:
    fake.configure(count=1, slots=7, move_ms_per_slot=80, detect_ms=30)
    clock = ProbeClock(lambda: None, real=True)
    wheel = EfwWheel(0, efw=fake.library, clock=clock, poll_s=0.005, detect_timeout_s=30)
    return Rig(wheel, clock, lambda: fake.set_fault(0, FAULT_STUCK), lambda: fake.unplug(0))


@pytest.fixture(params=["sim", "efw"])
def rig(request: pytest.FixtureRequest) -> Iterator[Rig]:
    """Each wheel kind, closed; closed again after the test."""
    made = _sim_rig() if request.param == "sim" else _efw_rig(request.getfixturevalue("fake_efw"))
    yield made
    made.wheel.close()


def _one_line(error: pytest.ExceptionInfo[BaseException]) -> str:
    text = str(error.value)
    assert text and "\n" not in text
    return text


def test_open_close_are_idempotent_and_info_is_read(rig: Rig) -> None:
    wheel = rig.wheel
    assert not wheel.is_open
    with pytest.raises(FilterWheelError, match="not open"):
        _ = wheel.info
    with wheel as same:
        assert same is wheel and wheel.is_open
        wheel.open()
        info = wheel.info
        assert isinstance(info, FilterWheelInfo) and info.slot_count == 7
        assert info.name and info.model and info.driver
    assert not wheel.is_open
    wheel.close()
    wheel.open()
    assert wheel.info == info


def test_every_slot_has_a_name(rig: Rig) -> None:
    with rig.wheel as wheel:
        names = wheel.filter_names
        assert len(names) == wheel.info.slot_count
        assert len({n.casefold() for n in names}) == len(names)


def test_filter_names_are_checked(rig: Rig) -> None:
    with rig.wheel as wheel:
        before = wheel.filter_names
        for bad, words in ((["L", "R"], "7 slots but 2"),
                           (["L", "R", "G", "B", "Ha", "ha", "S"], "unique"),
                           (["L", "R", "G", " ", "Ha", "O", "S"], "empty"),
                           ("LRGBHOS", "list")):
            with pytest.raises(FilterWheelValueError) as error:
                wheel.set_filter_names(bad)
            assert words in _one_line(error)
        assert wheel.filter_names == before
        wheel.set_filter_names([" L ", "R", "G", "B", "Ha", "OIII", "Dark"])
        assert wheel.filter_names == ("L", "R", "G", "B", "Ha", "OIII", "Dark")


def test_names_given_before_opening_are_checked_on_open(rig: Rig) -> None:
    wheel = rig.wheel
    wheel.set_filter_names(["a", "b", "c"])
    with pytest.raises(FilterWheelValueError, match="7 slots but 3"):
        wheel.open()
    assert not wheel.is_open
    names = [f"F{i}" for i in range(7)]
    wheel.set_filter_names(names)
    with wheel:
        assert wheel.filter_names == tuple(names)


def test_move_to_reaches_each_slot(rig: Rig) -> None:
    with rig.wheel as wheel:
        last = wheel.info.slot_count - 1
        for slot in (3, 0, last, last, 1):
            assert wheel.move_to(slot, timeout_s=30) == slot
            assert wheel.position() == slot


def test_position_is_none_while_moving(rig: Rig) -> None:
    with rig.wheel as wheel:
        wheel.move_to(0)
        seen: list[int | None] = []
        rig.clock.probe = lambda: seen.append(wheel.position())
        assert wheel.move_to(3) == 3
        assert None in seen
        assert set(seen) <= {None, 3}  # never a wrong slot on the way


def test_bad_slots_and_timeouts_are_refused(rig: Rig) -> None:
    with rig.wheel as wheel:
        for slot in (-1, 7, True, 1.5, "2"):
            with pytest.raises(FilterWheelValueError) as error:
                wheel.move_to(slot)  # type: ignore[arg-type]
            assert "0..6" in _one_line(error)
        for timeout_s in (0.0, -1.0, math.nan):
            with pytest.raises(FilterWheelValueError, match="timeout_s"):
                wheel.move_to(1, timeout_s=timeout_s)


def test_filters_by_name_ignore_case(rig: Rig) -> None:
    with rig.wheel as wheel:
        wheel.set_filter_names(["L", "R", "G", "B", "Ha", "OIII", "SII"])
        assert wheel.slot_of("ha") == 4 and wheel.slot_of(" OIII ") == 5
        with pytest.raises(FilterWheelValueError) as error:
            wheel.slot_of("Hb")
        assert "'Hb'" in _one_line(error) and "L, R, G, B, Ha, OIII, SII" in str(error.value)
        assert wheel.move_to_filter("sii") == 6 and wheel.position() == 6


def test_a_move_that_never_arrives_times_out_naming_slot_and_time(rig: Rig) -> None:
    with rig.wheel as wheel:
        wheel.set_filter_names(["L", "R", "G", "B", "Ha", "OIII", "SII"])
        wheel.move_to(0)
        rig.make_stuck()
        with pytest.raises(FilterWheelTimeoutError) as error:
            wheel.move_to(4, timeout_s=0.3)
        assert _one_line(error) == (
            "the filter wheel did not reach slot 5 (Ha) within 0.3 s; check it is not "
            "stuck and its cable")
        assert wheel.position() is None


def test_a_disconnect_is_a_typed_error(rig: Rig) -> None:
    with rig.wheel as wheel:
        wheel.move_to(2)
        rig.disconnect()
        with pytest.raises(FilterWheelDisconnectedError) as error:
            wheel.position()
        _one_line(error)
        with pytest.raises(FilterWheelDisconnectedError):
            wheel.move_to(5)
    assert not wheel.is_open  # closing a wheel that went away does not raise

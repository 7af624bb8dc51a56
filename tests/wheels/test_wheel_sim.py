"""SimulatedWheel and its [wheel] settings."""

from __future__ import annotations

import math
from typing import Any

import pytest

from drivers.clock import SimulatedClock
from drivers.errors import FilterWheelDisconnectedError, FilterWheelTimeoutError
from drivers.wheel_sim import SimulatedWheel, SimWheelConfig, SimWheelConfigError
from tests.wheels.conftest import ProbeClock

DEFAULT_THROUGHPUT = (1.0, 0.33, 0.36, 0.30, 0.012, 0.015, 0.010)


def test_defaults_are_the_pinned_table() -> None:
    config = SimWheelConfig()
    assert config.filters == ("L", "R", "G", "B", "Ha", "OIII", "SII")
    assert config.throughput == DEFAULT_THROUGHPUT and config.move_s == 1.5


def test_lists_from_toml_become_tuples() -> None:
    config = SimWheelConfig(filters=["L", "Ha"], throughput=[1, 0.5])  # type: ignore[arg-type]
    assert config.filters == ("L", "Ha") and config.throughput == (1, 0.5)


@pytest.mark.parametrize(("changes", "words"), [
    ({"throughput": (1.0, 0.5)}, "throughput needs one value per filter: 7 filters, 2 values"),
    ({"filters": ("L", "l"), "throughput": (1.0, 1.0)}, "filters must be unique"),
    ({"filters": ("L", ""), "throughput": (1.0, 1.0)}, "filters must be non-empty"),
    ({"filters": (), "throughput": ()}, "filters must name at least one"),
    ({"filters": "LRGB"}, "filters must be a list"),
    ({"filters": ("L", "Ha"), "throughput": (1.0, 0.0)}, "throughput of Ha must be in (0, 1]"),
    ({"filters": ("L", "Ha"), "throughput": (1.2, 0.5)}, "throughput of L must be in (0, 1]"),
    ({"filters": ("L",), "throughput": (math.nan,)}, "throughput of L"),
    ({"move_s": -1.0}, "move_s must be >= 0"),
    ({"move_s": math.inf}, "move_s must be >= 0"),
])
def test_bad_settings_name_the_key(changes: dict[str, Any], words: str) -> None:
    with pytest.raises(SimWheelConfigError) as error:
        SimWheelConfig(**changes)
    text = str(error.value)
    assert text.startswith("[wheel] ") and words in text and "\n" not in text
    assert isinstance(error.value, ValueError)


def test_throughput_of_each_slot_and_names_from_the_config() -> None:
    with SimulatedWheel(clock=SimulatedClock(0.0)) as wheel:
        assert wheel.filter_names == SimWheelConfig().filters
        assert wheel.info.slot_count == 7 and wheel.info.driver == "sim"
        assert wheel.position() == 0 and wheel.throughput() == 1.0
        for name, expected in zip(wheel.filter_names, DEFAULT_THROUGHPUT, strict=True):
            wheel.move_to_filter(name)
            assert wheel.throughput() == expected


def test_the_light_path_is_blocked_mid_move() -> None:
    seen: list[tuple[int | None, float]] = []
    clock = ProbeClock(lambda: seen.append((wheel.position(), wheel.throughput())))
    wheel = SimulatedWheel(clock=clock, poll_s=0.1)
    with wheel:
        wheel.move_to_filter("Ha")
    assert seen and all(s == (None, 0.0) for s in seen)
    assert wheel.config.throughput[4] == 0.012


def test_a_move_takes_move_s_on_the_clock_whatever_the_distance() -> None:
    clock = SimulatedClock(0.0)
    with SimulatedWheel(SimWheelConfig(move_s=2.0), clock=clock, poll_s=0.25) as wheel:
        start = clock.monotonic()
        wheel.move_to(6)
        assert 2.0 <= clock.monotonic() - start <= 2.25
        start = clock.monotonic()
        wheel.move_to(5)
        assert 2.0 <= clock.monotonic() - start <= 2.25
        start = clock.monotonic()
        wheel.move_to(5)  # already there
        assert clock.monotonic() == start


def test_fault_knobs() -> None:
    with SimulatedWheel(clock=SimulatedClock(0.0)) as wheel:
        wheel.fault_never_arrive = True
        with pytest.raises(FilterWheelTimeoutError,
                           match=r"did not reach slot 3 \(G\) within 5 s"):
            wheel.move_to(2, timeout_s=5)
        assert wheel.throughput() == 0.0
        wheel.fault_never_arrive = False
        assert wheel.move_to(2) == 2
        wheel.fault_disconnected = True
        with pytest.raises(FilterWheelDisconnectedError, match="went away"):
            wheel.throughput()
    with pytest.raises(FilterWheelDisconnectedError):
        wheel.open()

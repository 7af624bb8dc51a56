"""open_wheel and list_wheels: specs, errors, the EFW library present or not."""

from __future__ import annotations

import pytest

from drivers import efw_sdk
from drivers.clock import SimulatedClock
from drivers.efw import EfwWheel
from drivers.efw_sdk import EfwLibraryLoadError, EfwStatus
from drivers.errors import FilterWheelError
from drivers.wheel import FilterWheelValueError
from drivers.wheel_registry import list_wheels, open_wheel
from drivers.wheel_sim import SimulatedWheel, SimWheelConfig
from tests.wheels.conftest import FakeEfw

MISSING = EfwStatus(None, None, None, None, "EFW SDK not found (libEFWFilter); install it")


@pytest.fixture
def no_library(monkeypatch: pytest.MonkeyPatch) -> None:
    """The process found no libEFWFilter."""
    monkeypatch.setattr(efw_sdk, "_status", MISSING)


def test_sim_with_its_config_and_clock() -> None:
    config = SimWheelConfig(filters=("L", "Ha"), throughput=(1.0, 0.01), move_s=0.5)
    clock = SimulatedClock(0.0)
    wheel = open_wheel(" SIM ", sim_config=config, clock=clock)
    assert isinstance(wheel, SimulatedWheel)
    with wheel:
        assert wheel.filter_names == ("L", "Ha")
        wheel.move_to(1)
    assert clock.monotonic() >= 0.5


@pytest.mark.parametrize("spec", ["", "asi", "zwo:", "zwo:x", "efw:-1", "sim:1"])
def test_unknown_specs_list_the_accepted_forms(spec: str) -> None:
    with pytest.raises(FilterWheelValueError) as error:
        open_wheel(spec)
    text = str(error.value)
    assert repr(spec) in text and "sim, zwo (the only ZWO wheel), zwo:N or efw:N" in text
    assert "\n" not in text


def test_zwo_without_the_library_says_how_to_install(no_library: None) -> None:
    with pytest.raises(EfwLibraryLoadError, match="EFW SDK not found"):
        open_wheel("zwo")


def test_zwo_picks_the_only_wheel(fake_efw: FakeEfw) -> None:
    with efw_sdk.override_efw(fake_efw.library):
        wheel = open_wheel("zwo")
        assert isinstance(wheel, EfwWheel) and wheel.index == 0
        with wheel:
            assert wheel.info.slot_count == 7


def test_zwo_with_none_or_several(fake_efw: FakeEfw) -> None:
    with efw_sdk.override_efw(fake_efw.library):
        fake_efw.configure(count=0)
        with pytest.raises(FilterWheelError, match="no ZWO filter wheel found; plug it in"):
            open_wheel("zwo")
        fake_efw.configure(count=2)
        with pytest.raises(FilterWheelValueError) as error:
            open_wheel("zwo")
    assert str(error.value) == ("2 ZWO filter wheels found (zwo:0 ZWO EFW, zwo:1 ZWO EFW); "
                                "choose one with zwo:N")


@pytest.mark.parametrize("spec", ["zwo:1", "EFW:1"])
def test_the_nth_wheel(fake_efw: FakeEfw, spec: str) -> None:
    fake_efw.configure(count=2)
    with efw_sdk.override_efw(fake_efw.library):
        wheel = open_wheel(spec)
        assert isinstance(wheel, EfwWheel) and wheel.index == 1
        with wheel:
            assert wheel.wheel_id == 10


def test_listing_without_the_library(no_library: None) -> None:
    listing = list_wheels()
    assert [w.wheel_id for w in listing.wheels] == ["sim"]
    assert listing.wheels[0].slot_count == 7
    assert listing.notes == (MISSING.error,)
    assert list_wheels(hardware=False).notes == ()


def test_listing_with_wheels(fake_efw: FakeEfw) -> None:
    fake_efw.configure(count=2, slots=5)
    with efw_sdk.override_efw(fake_efw.library):
        listing = list_wheels(sim_config=SimWheelConfig(filters=("L",), throughput=(1.0,)))
    assert [(w.wheel_id, w.slot_count) for w in listing.wheels] == [
        ("sim", 1), ("efw:0", 5), ("efw:1", 5)]
    assert listing.notes == ()
    fake_efw.configure(count=0)
    with efw_sdk.override_efw(fake_efw.library):
        assert "no ZWO filter wheel found" in list_wheels().notes[0]

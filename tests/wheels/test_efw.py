"""EfwWheel and the EFW loader over the C fake libEFWFilter."""

from __future__ import annotations

import ctypes
import ctypes.util
import shutil
import subprocess
import threading
from pathlib import Path

import pytest

from drivers import efw_sdk
from drivers.clock import SystemClock
from drivers.efw import EfwWheel, list_efw_wheels
from drivers.efw_sdk import EfwError, EfwLibraryLoadError
from drivers.errors import (
    FilterWheelDisconnectedError,
    FilterWheelError,
    FilterWheelTimeoutError,
    LibraryLoadError,
)
from tests.wheels.conftest import (
    FAULT_ERROR_STATE,
    FAULT_NEVER_DETECTS,
    FAULT_REMOVED_MID_MOVE,
    LIB_NAME,
    FakeEfw,
)


def _wheel(fake: FakeEfw, index: int = 0, **kwargs: object) -> EfwWheel:
    return EfwWheel(index, efw=fake.library, poll_s=0.005, detect_timeout_s=30,
                    **kwargs)  # type: ignore[arg-type]


# -- the fake behaves like the real library ---------------------------------------------

def test_struct_layout_matches_the_header() -> None:
    assert ctypes.sizeof(efw_sdk.EFW_INFO) == 4 + 64 + 4
    assert efw_sdk.EFW_INFO.slotNum.offset == 68
    assert (efw_sdk.EFW_ERROR_REMOVED, efw_sdk.EFW_ERROR_MOVING,
            efw_sdk.EFW_ERROR_CLOSED) == (4, 5, 9)


def test_fake_ids_are_not_indices(fake_efw: FakeEfw) -> None:
    fake_efw.configure(count=2)
    lib = fake_efw.library
    assert [lib.wheel_id(0), lib.wheel_id(1)] == [3, 10]
    with pytest.raises(EfwError) as error:
        lib.open(1)  # an index where an ID belongs
    assert error.value.code == efw_sdk.EFW_ERROR_INVALID_ID
    assert lib.product_ids() == [0x1F01, 0x1F01]
    assert lib.sdk_version() == "1.7.1002"


# -- EfwWheel -----------------------------------------------------------------------------

def test_every_call_uses_the_id_not_the_index(fake_efw: FakeEfw) -> None:
    fake_efw.configure(count=2, slots=5)
    fake_efw.set_slots(1, 8)
    with _wheel(fake_efw, 1) as wheel:
        assert wheel.wheel_id == 10
        assert wheel.info.slot_count == 8 and wheel.info.driver == "zwo-efw"
        assert wheel.info.name == "ZWO EFW" and wheel.firmware_version == "3.0.8"
        assert wheel.move_to(6) == 6
        assert fake_efw.is_open(1) and not fake_efw.is_open(0)
    assert not fake_efw.is_open(1)


def test_open_waits_while_the_wheel_counts_its_slots(fake_efw: FakeEfw) -> None:
    fake_efw.configure(detect_ms=200)
    with _wheel(fake_efw) as wheel:
        assert wheel.info.slot_count == 7
        assert fake_efw.moving_answers(0) >= 1
        assert wheel.position() == 0


def test_position_answers_from_another_thread_during_a_move(fake_efw: FakeEfw) -> None:
    fake_efw.configure(move_ms_per_slot=100)
    with _wheel(fake_efw) as wheel:
        mover = threading.Thread(target=wheel.move_to, args=(3,))
        mover.start()
        seen = []
        while mover.is_alive():
            seen.append(wheel.position())  # does not wait for the move to end
        mover.join()
        assert None in seen and wheel.position() == 3


def test_a_wheel_that_never_counts_its_slots_times_out_and_is_closed(
        fake_efw: FakeEfw) -> None:
    fake_efw.set_fault(0, FAULT_NEVER_DETECTS)
    wheel = EfwWheel(0, efw=fake_efw.library, poll_s=0.01, detect_timeout_s=0.2)
    with pytest.raises(FilterWheelTimeoutError) as error:
        wheel.open()
    assert str(error.value) == ("the filter wheel efw:0 did not finish counting its slots "
                                "within 0.2 s; unplug it and plug it back in")
    assert not wheel.is_open and not fake_efw.is_open(0)


def test_removed_mid_move_is_a_disconnect(fake_efw: FakeEfw) -> None:
    fake_efw.configure(move_ms_per_slot=50)
    with _wheel(fake_efw) as wheel:
        fake_efw.set_fault(0, FAULT_REMOVED_MID_MOVE)
        with pytest.raises(FilterWheelDisconnectedError) as error:
            wheel.move_to(3)
        assert "efw:0 was removed" in str(error.value) and "USB cable" in str(error.value)


def test_error_state_says_to_calibrate(fake_efw: FakeEfw) -> None:
    with _wheel(fake_efw) as wheel:
        fake_efw.set_fault(0, FAULT_ERROR_STATE)
        with pytest.raises(FilterWheelError, match=r"error state.*calibrate") as error:
            wheel.move_to(2)
        assert not isinstance(error.value, FilterWheelDisconnectedError)


def test_direction(fake_efw: FakeEfw) -> None:
    with _wheel(fake_efw, unidirectional=True) as wheel:
        assert fake_efw.unidirectional(0) and wheel.is_unidirectional()
        wheel.set_unidirectional(False)
        assert not fake_efw.unidirectional(0) and not wheel.is_unidirectional()


def test_calibrate_waits_for_the_wheel(fake_efw: FakeEfw) -> None:
    fake_efw.configure(move_ms_per_slot=5)
    with _wheel(fake_efw) as wheel:
        wheel.move_to(4)
        assert wheel.calibrate(timeout_s=30) == 0
        assert fake_efw.calibrations(0) == 1 and wheel.position() == 0


def test_a_missing_wheel_index_is_named(fake_efw: FakeEfw) -> None:
    fake_efw.configure(count=2)
    with pytest.raises(FilterWheelError, match="no ZWO filter wheel efw:3: 2 connected"):
        _wheel(fake_efw, 3).open()


def test_listing_counts_slots_and_closes_again(fake_efw: FakeEfw) -> None:
    fake_efw.configure(count=2, slots=5)
    fake_efw.set_slots(1, 8)
    with _wheel(fake_efw, 1):
        entries = list_efw_wheels(fake_efw.library, poll_s=0.005)
        assert fake_efw.is_open(1)  # a wheel in use stays open
    assert [(e.wheel_id, e.name, e.slot_count) for e in entries] == [
        ("efw:0", "ZWO EFW", 5), ("efw:1", "ZWO EFW", 8)]
    assert not fake_efw.is_open(0)


def test_listing_notes_a_wheel_that_cannot_be_read(fake_efw: FakeEfw) -> None:
    fake_efw.configure(count=2)
    fake_efw.unplug(1)
    entries = list_efw_wheels(fake_efw.library, clock=SystemClock(), poll_s=0.005)
    assert entries[0].slot_count == 7
    assert entries[1].slot_count is None and "removed" in (entries[1].note or "")


# -- finding and loading the library ----------------------------------------------------

def test_zwo_efw_lib_is_used(fake_efw: FakeEfw, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(efw_sdk.ENV_VAR, str(fake_efw.path))
    status = efw_sdk.load_efw()
    assert status.library is not None and status.source == efw_sdk.ENV_VAR
    assert status.version == "1.7.1002" and status.configured


def test_a_wrong_zwo_efw_lib_is_reported(tmp_path: Path,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(efw_sdk.ENV_VAR, str(tmp_path / "nope.so"))
    status = efw_sdk.load_efw()
    assert status.library is None and status.configured
    assert status.error == (f"EFW SDK not found: ZWO_EFW_LIB points to {tmp_path / 'nope.so'}"
                            ", which does not exist; fix the path or unset it")


def test_a_library_that_is_not_the_efw_sdk_is_refused(tmp_path: Path) -> None:
    gcc = shutil.which("gcc")
    if gcc is None:
        pytest.skip("gcc not found: the test library is built from C")
    source = tmp_path / "other.c"
    source.write_text("int something(void) { return 1; }\n", encoding="ascii")
    out = tmp_path / LIB_NAME
    subprocess.run([gcc, "-shared", "-fPIC", "-o", str(out), str(source)], check=True,
                   timeout=120)
    status = efw_sdk.load_efw(out)
    assert status.library is None
    assert status.error is not None and "is not ZWO's EFW SDK (no EFWGetNum" in status.error


def test_nothing_found_says_how_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ctypes.util, "find_library", lambda name: None)
    monkeypatch.setattr(efw_sdk, "_system_dirs", lambda: [])
    status = efw_sdk.efw_status()
    assert status.library is None and not status.configured
    assert status.error == f"EFW SDK not found (libEFWFilter); {efw_sdk.INSTALL_HINT}"
    assert efw_sdk.efw_status() is status  # cached for the process
    with pytest.raises(EfwLibraryLoadError) as error:
        efw_sdk.get_efw()
    assert isinstance(error.value, LibraryLoadError)
    assert isinstance(error.value, FilterWheelError)
    assert "ZWO_EFW_LIB" in str(error.value)


def test_override_makes_a_library_the_process_one(fake_efw: FakeEfw) -> None:
    with efw_sdk.override_efw(fake_efw.library):
        assert efw_sdk.get_efw() is fake_efw.library
        with EfwWheel(0, poll_s=0.005) as wheel:
            assert wheel.info.slot_count == 7
    assert efw_sdk._override is None


def test_preloading_udev_never_raises() -> None:
    assert efw_sdk.preload_udev() in (True, False)

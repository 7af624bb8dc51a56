"""Fixtures for the filter wheel tests: the C fake libEFWFilter, a probing clock."""

from __future__ import annotations

import ctypes
import shutil
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from drivers import efw_sdk
from drivers.clock import SimulatedClock, SystemClock
from drivers.efw_sdk import EfwLibrary

FAKE_SOURCE = Path(__file__).resolve().parent / "fake_efw" / "fake_efwfilter.c"
LIB_NAME = "libEFWFilter.so"

# fake faults (FakeEFW_SetFault)
FAULT_NONE = 0
FAULT_REMOVED_MID_MOVE = 1
FAULT_STUCK = 2
FAULT_ERROR_STATE = 3
FAULT_NEVER_DETECTS = 4


@pytest.fixture(scope="session")
def fake_efw_build(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The fake libEFWFilter compiled once per session."""
    gcc = shutil.which("gcc")
    if gcc is None:
        pytest.skip("gcc not found: the fake libEFWFilter is built from C (apt install gcc)")
    out = tmp_path_factory.mktemp("fake_efw") / LIB_NAME
    subprocess.run([gcc, "-shared", "-fPIC", "-O1", "-Wall", "-o", str(out),
                    str(FAKE_SOURCE), "-lpthread"], check=True, timeout=120)
    return out


@dataclass
class FakeEfw:
    """The fake library loaded from its own file (fresh state), and its controls."""

    path: Path
    library: EfwLibrary
    raw: ctypes.CDLL = field(repr=False)

    def configure(self, count: int = 1, slots: int = 7, move_ms_per_slot: int = 10,
                  detect_ms: int = 30) -> None:
        """Reset every wheel: ``count`` wheels, timings in real milliseconds."""
        self.raw.FakeEFW_Configure(count, slots, move_ms_per_slot, detect_ms)

    def set_slots(self, index: int, slots: int) -> None:
        """Slot count of wheel ``index``."""
        self.raw.FakeEFW_SetSlots(index, slots)

    def set_fault(self, index: int, fault: int) -> None:
        """Inject a FAULT_... on wheel ``index``."""
        self.raw.FakeEFW_SetFault(index, fault)

    def unplug(self, index: int) -> None:
        """Wheel ``index`` is removed now."""
        self.raw.FakeEFW_Unplug(index)

    def moving_answers(self, index: int) -> int:
        """How often EFWGetProperty answered EFW_ERROR_MOVING."""
        return int(self.raw.FakeEFW_MovingAnswers(index))

    def is_open(self, index: int) -> bool:
        """Whether the library has wheel ``index`` open."""
        return bool(self.raw.FakeEFW_IsOpen(index))

    def unidirectional(self, index: int) -> bool:
        """The direction flag the library holds."""
        return bool(self.raw.FakeEFW_Unidirectional(index))

    def calibrations(self, index: int) -> int:
        """EFWCalibrate calls accepted."""
        return int(self.raw.FakeEFW_Calibrations(index))


@pytest.fixture
def fake_efw(fake_efw_build: Path, tmp_path: Path) -> FakeEfw:
    """A fresh copy of the fake, loaded through the real loader (load_efw)."""
    path = tmp_path / LIB_NAME
    shutil.copyfile(fake_efw_build, path)
    status = efw_sdk.load_efw(path)
    assert status.library is not None, status.error
    fake = FakeEfw(path, status.library, status.library.lib)
    fake.configure()
    return fake


@pytest.fixture(autouse=True)
def _no_env_efw(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Tests never pick up a developer's ZWO_EFW_LIB nor leave a cached status."""
    monkeypatch.delenv(efw_sdk.ENV_VAR, raising=False)
    monkeypatch.setattr(efw_sdk, "_status", None)
    yield


class ProbeClock:
    """A clock that calls ``probe`` on every sleep: a look at a wheel mid-move.

    Wraps simulated time (instant) or real time (``real=True``).
    """

    def __init__(self, probe: Callable[[], None], *, real: bool = False) -> None:
        """``probe`` runs before each sleep."""
        self.probe = probe
        self._inner: SimulatedClock | SystemClock = SystemClock() if real else SimulatedClock(0.0)

    def monotonic(self) -> float:
        """The wrapped clock's time."""
        return self._inner.monotonic()

    def sleep(self, seconds: float) -> None:
        """Probe, then sleep."""
        self.probe()
        self._inner.sleep(seconds)

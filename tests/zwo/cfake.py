"""Build the fake libASICamera2 (``fake_asi/fake_asicamera2.c``) and drive it from tests.

The library is compiled with gcc into pytest's temporary directory, loaded through a
private copy of zwoasi (:func:`drivers.zwo_sdk.load_isolated_sdk`) so it never meets
the SDK the process may have loaded, and configured through its own exported
functions (``FakeASI_Configure``, ``FakeASI_Fault``, ``FakeASI_Count``).
"""

from __future__ import annotations

import ctypes
import shutil
import subprocess
from pathlib import Path

from drivers.clock import Clock
from drivers.zwo import ZwoCamera
from drivers.zwo_sdk import ZwoasiSdk

SOURCE = Path(__file__).resolve().parent / "fake_asi" / "fake_asicamera2.c"
#: two cameras whose CameraIDs (3, 7) are not their indices (0, 1)
DEFAULT_SPEC = "model=mono12,id=3;model=color14,id=7"


def compiler() -> str | None:
    """The C compiler the fake is built with, if installed."""
    return shutil.which("gcc")


def build(out_dir: Path) -> Path:
    """Compile the fake into ``out_dir``; RuntimeError with gcc's output if it fails."""
    gcc = compiler()
    if gcc is None:
        raise RuntimeError("gcc not found")
    out = out_dir / "libASICamera2.so"
    command = [gcc, "-shared", "-fPIC", "-O1", "-std=c11", "-D_POSIX_C_SOURCE=200809L",
               "-Wall", "-Wextra", "-Werror", "-fvisibility=hidden", "-o", str(out),
               str(SOURCE), "-lm"]
    result = subprocess.run(command, capture_output=True, text=True, timeout=300,
                            check=False)
    if result.returncode != 0:
        raise RuntimeError(f"building the fake libASICamera2 failed: {result.stderr}")
    return out


class FakeAsi:
    """The built fake: its configuration functions and the SDK layer loaded over it."""

    def __init__(self, path: Path, sdk: ZwoasiSdk) -> None:
        self.path = path
        self.sdk = sdk
        self._lib = ctypes.CDLL(str(path))  # the same loaded copy zwoasi uses
        self._lib.FakeASI_Configure.argtypes = [ctypes.c_char_p]
        self._lib.FakeASI_Configure.restype = ctypes.c_int
        self._lib.FakeASI_LastError.argtypes = []
        self._lib.FakeASI_LastError.restype = ctypes.c_char_p
        self._lib.FakeASI_Fault.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int]
        self._lib.FakeASI_Fault.restype = ctypes.c_int
        self._lib.FakeASI_Count.argtypes = [ctypes.c_int, ctypes.c_char_p]
        self._lib.FakeASI_Count.restype = ctypes.c_int
        self._lib.FakeASI_SizeOf.argtypes = [ctypes.c_char_p]
        self._lib.FakeASI_SizeOf.restype = ctypes.c_long

    def configure(self, spec: str = DEFAULT_SPEC) -> int:
        """Replace every camera (see the C file's docstring); the number of cameras."""
        count = int(self._lib.FakeASI_Configure(spec.encode()))
        if count < 0:
            raise ValueError(f"bad fake spec {spec!r}: {self._lib.FakeASI_LastError()!r}")
        return count

    def fault(self, camera_id: int, kind: str, n: int = 1) -> None:
        """Inject a fault (fail, hang, read_timeout, remove, status_errors, start_errors)."""
        if self._lib.FakeASI_Fault(camera_id, kind.encode(), n) != 0:
            raise ValueError(f"cannot inject {kind} {n} on camera {camera_id}")

    def count(self, camera_id: int, what: str) -> int:
        """A call counter: starts, stops, status_reads, reads, start_calls, opens."""
        value = int(self._lib.FakeASI_Count(camera_id, what.encode()))
        if value < 0:
            raise ValueError(f"no counter {what!r} on camera {camera_id}")
        return value

    def sizeof(self, type_name: str) -> int:
        """sizeof an SDK struct as the fake was compiled."""
        return int(self._lib.FakeASI_SizeOf(type_name.encode()))

    def camera(self, index: int = 0, clock: Clock | None = None) -> ZwoCamera:
        """The driver for the camera at ``index`` (not yet opened)."""
        return ZwoCamera(index, sdk=self.sdk, clock=clock)

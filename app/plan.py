"""A run's plan: settings checked against one camera, and the output folder checked,
before anything is exposed or written. The CLI and the GUI call these first so bad
input is refused up front; the session calls them again."""

from __future__ import annotations

import shutil
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from app.adu import AduScale
from app.settings import FlatSettings, SettingsError
from drivers.base import CameraControls, CameraInfo, binned_shape


class CameraLike(Protocol):
    """What planning needs of a camera: a Camera, or facts read from one earlier."""

    @property
    def info(self) -> CameraInfo: ...

    @property
    def controls(self) -> CameraControls: ...

    @property
    def gain(self) -> int: ...

    @property
    def offset(self) -> int: ...


#: free space kept in reserve beyond the planned flats
DISK_RESERVE_BYTES = 50 * 1024 * 1024
#: FITS adds a header and pads to 2880-byte blocks
FITS_OVERHEAD_BYTES = 2880 * 4


@dataclass(frozen=True, slots=True)
class SessionPlan:
    """Settings resolved against one camera: every value the run will use."""

    gain: int
    offset: int
    binning: int
    target_native: float
    tolerance_native: float
    min_exposure_s: float
    max_exposure_s: float
    frame_bytes: int


def plan_session(camera: CameraLike, settings: FlatSettings) -> SessionPlan:
    """Check ``settings`` against ``camera``; raises SettingsError saying what to change."""
    info = camera.info
    controls = camera.controls
    scale = AduScale(info.bit_depth)
    gain = settings.gain if settings.gain is not None else camera.gain
    offset = settings.offset if settings.offset is not None else camera.offset
    for name, value, limits in (("gain", gain, controls.gain),
                                ("offset", offset, controls.offset)):
        if not limits.contains(value):
            raise SettingsError(
                f"{name} {value} is out of range for {info.name}; use "
                f"{int(limits.minimum)}..{int(limits.maximum)}"
            )
    if settings.binning not in info.supported_bins:
        raise SettingsError(
            f"bin {settings.binning} is not supported by {info.name}; use one of "
            f"{', '.join(map(str, info.supported_bins))}"
        )
    try:
        target_native = settings.target.native(scale)
    except ValueError as error:
        raise SettingsError(str(error)) from None
    full_native: float = scale.full_scale_native
    if info.white_level is not None:
        # Raw black and white levels (a DSLR's, from LibRaw) define full scale.
        full_native = info.white_level
        if settings.target.is_percent:
            target_native = info.level_at_share(settings.target.value / 100)
    tolerance = target_native * settings.tolerance_percent / 100
    if target_native + tolerance >= full_native:
        raise SettingsError(
            f"target {settings.target} plus tolerance reaches full scale; lower the target"
        )
    min_s = max(controls.exposure_s.minimum, settings.min_exposure_s or 0.0)
    max_s = min(controls.exposure_s.maximum, settings.max_exposure_s)
    if min_s > max_s:
        raise SettingsError(
            f"min exposure {min_s:g} s is above the longest allowed {max_s:g} s; lower it"
        )
    height, width = binned_shape(info, settings.binning)
    return SessionPlan(gain, offset, settings.binning, target_native, tolerance, min_s,
                       max_s, height * width * 2 + FITS_OVERHEAD_BYTES)


def check_output_folder(out_dir: Path, needed_bytes: int) -> None:
    """Create ``out_dir`` if needed and check it is writable with room for the flats."""
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except FileExistsError:
        raise SettingsError(f"output {str(out_dir)!r} is a file; choose a folder") from None
    except OSError as error:
        raise SettingsError(
            f"cannot create output folder {str(out_dir)!r} ({error.strerror}); "
            "choose another folder"
        ) from None
    probe = out_dir / f".autoflats-write-test-{threading.get_ident()}"
    try:
        probe.write_bytes(b"ok")
        probe.unlink()
    except OSError as error:
        raise SettingsError(
            f"output folder {str(out_dir)!r} is not writable ({error.strerror}); "
            "choose another folder or fix its permissions"
        ) from None
    free = shutil.disk_usage(out_dir).free
    if free < needed_bytes + DISK_RESERVE_BYTES:
        raise SettingsError(
            f"not enough free space in {str(out_dir)!r}: the flats need "
            f"{(needed_bytes + DISK_RESERVE_BYTES) / 1e9:.2f} GB, {free / 1e9:.2f} GB is "
            "free; free some space or choose another folder"
        )



"""Every camera autoflats can drive: the simulator always, ZWO cameras when the SDK is
present. Camera ids: 'sim', 'sim-color', 'zwo:<index>' or a ZWO camera's name."""

from __future__ import annotations

import importlib
import os
from collections.abc import Callable
from dataclasses import dataclass
from types import ModuleType

from drivers.base import Camera, CameraEntry
from drivers.errors import CameraError, InvalidValueError
from drivers.simulator import PRESETS, SimulatedCamera, load_sim_config


@dataclass(frozen=True, slots=True)
class CameraListing:
    """Cameras found, plus one-line notes on drivers that found none or failed."""

    cameras: tuple[CameraEntry, ...]
    notes: tuple[str, ...]


def _sim_entries(sim_config_path: str | os.PathLike[str] | None) -> list[CameraEntry]:
    entries = []
    for preset in PRESETS:
        cfg = load_sim_config(sim_config_path, preset=preset)
        kind = f"colour {cfg.bayer}" if cfg.bayer else "mono"
        name = "Simulator" if preset == "sim" else "Simulator (colour)"
        entries.append(CameraEntry(
            preset, name, "sim",
            f"{cfg.model}: {cfg.width}x{cfg.height}, {cfg.bit_depth}-bit, {kind}, "
            f"{cfg.pixel_size_um:g} um",
        ))
    return entries


def list_cameras(
    sim_config_path: str | os.PathLike[str] | None = None,
    *,
    hardware: bool = True,
) -> CameraListing:
    """Cameras from every driver; the simulator is always listed.

    ``hardware=False`` lists only the simulators: instant, no SDK call (a GUI shows
    those at once and asks the SDK on a worker thread).
    """
    cameras = _sim_entries(sim_config_path)
    notes: list[str] = []
    zwo = _zwo_module() if hardware else None
    if zwo is not None:
        try:
            found, note = zwo.list_zwo_cameras()
            cameras.extend(found)
            if note:
                notes.append(note)
        except CameraError as error:
            notes.append(str(error))
    return CameraListing(tuple(cameras), tuple(notes))


def open_camera(
    camera_id: str,
    *,
    sim_config_path: str | os.PathLike[str] | None = None,
) -> Camera:
    """A camera object for ``camera_id`` (not yet opened: use ``with``)."""
    if camera_id in PRESETS:
        config = load_sim_config(sim_config_path, preset=camera_id)
        name = "Simulator" if camera_id == "sim" else "Simulator (colour)"
        return SimulatedCamera(config, name=name)
    zwo = _zwo_module()
    if zwo is not None:
        opener: Callable[[str], Camera | None] = zwo.open_zwo_camera
        camera = opener(camera_id)
        if camera is not None:
            return camera
    known = ", ".join(entry.camera_id for entry in list_cameras(sim_config_path).cameras)
    raise InvalidValueError(f"no camera {camera_id!r}; use one of: {known}")


def _zwo_module() -> ModuleType | None:
    """The ZWO driver module, or None while it is not part of this build."""
    try:
        return importlib.import_module("drivers.zwo")
    except ModuleNotFoundError as error:
        if error.name == "drivers.zwo":
            return None
        raise

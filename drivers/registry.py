"""Every camera autoflats can drive: the simulators always, ZWO cameras when the SDK is
present, QHY cameras with ``autoflats[qhy]``, DSLRs with ``autoflats[dslr]``. Camera
ids: 'sim', 'sim-color', 'sim-dslr', 'zwo:<index>' or a ZWO camera's name, 'qhy:<index>',
'gphoto:<port>'."""

from __future__ import annotations

import importlib
import os
from collections.abc import Callable
from dataclasses import dataclass
from types import ModuleType

from drivers.base import Camera, CameraEntry
from drivers.errors import CameraError, InvalidValueError
from drivers.sim_dslr import PRESET_ID as DSLR_PRESET_ID
from drivers.sim_dslr import SimulatedDslr, load_dslr_config
from drivers.simulator import PRESETS, SimulatedCamera, load_sim_config

#: optional drivers: (module, lister, opener); a missing module is simply not listed
_OPTIONAL = (("drivers.zwo", "list_zwo_cameras", "open_zwo_camera"),
             ("drivers.qhy", "list_qhy_cameras", "open_qhy_camera"),
             ("drivers.gphoto", "list_gphoto_cameras", "open_gphoto_camera"))


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
    dslr = load_dslr_config(sim_config_path)
    entries.append(CameraEntry(
        DSLR_PRESET_ID, "Simulated DSLR", "sim",
        f"{dslr.model}: {dslr.width}x{dslr.height}, {dslr.bit_depth}-bit raw, colour "
        f"{dslr.bayer}, 1/3-stop speeds 1/4000-30 s, ISO"))
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
    for module_name, lister, _ in _OPTIONAL if hardware else ():
        module = _module(module_name)
        if module is None:
            continue
        try:
            found, note = getattr(module, lister)()
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
    if camera_id == DSLR_PRESET_ID:
        return SimulatedDslr(load_dslr_config(sim_config_path))
    for module_name, _, open_name in _OPTIONAL:
        module = _module(module_name)
        if module is None:
            continue
        opener: Callable[[str], Camera | None] = getattr(module, open_name)
        camera = opener(camera_id)
        if camera is not None:
            return camera
    known = ", ".join(entry.camera_id for entry in list_cameras(sim_config_path).cameras)
    raise InvalidValueError(f"no camera {camera_id!r}; use one of: {known}")


def _module(name: str) -> ModuleType | None:
    """An optional driver module, or None while it is not part of this build."""
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as error:
        if error.name == name:
            return None
        raise


def _zwo_module() -> ModuleType | None:
    """The ZWO driver module, or None while it is not part of this build."""
    return _module("drivers.zwo")

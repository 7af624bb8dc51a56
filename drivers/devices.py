"""One registry table of device kinds, and opening a rig's devices together.

| kind   | listing          | opening       | ids                                     |
|--------|------------------|---------------|-----------------------------------------|
| camera | list_cameras     | open_camera   | sim, sim-color, zwo:N                   |
| panel  | list_panels      | open_panel    | sim, alnitak[:PORT], pegasus[:PORT] ... |
| wheel  | list_wheels      | open_wheel    | sim, zwo[:N]                            |

:func:`open_devices` opens a camera with its panel and wheel; with the simulated
camera, a simulated panel and wheel share its clock and become its light
(drivers.sim_rig).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any

from drivers.base import Camera
from drivers.panel import LightPanel
from drivers.panel_registry import list_panels, open_panel
from drivers.panel_sim import SimulatedPanel
from drivers.registry import list_cameras, open_camera
from drivers.sim_rig import RigLight, load_rig_tables
from drivers.sim_sky import SkyLight, load_sky_table
from drivers.simulator import SimulatedCamera
from drivers.wheel import FilterWheel
from drivers.wheel_registry import list_wheels, open_wheel
from drivers.wheel_sim import SimulatedWheel


@dataclass(frozen=True, slots=True)
class DeviceKind:
    """One kind of device: how to list and open it."""

    name: str
    list: Callable[..., Any]
    open: Callable[..., Any]


KINDS: dict[str, DeviceKind] = {
    "camera": DeviceKind("camera", list_cameras, open_camera),
    "panel": DeviceKind("panel", list_panels, open_panel),
    "wheel": DeviceKind("wheel", list_wheels, open_wheel),
}


@dataclass(slots=True)
class Devices:
    """A camera with its optional panel and wheel; ``with`` opens and closes them all."""

    camera: Camera
    panel: LightPanel | None = None
    wheel: FilterWheel | None = None
    _opened: list[Any] = field(default_factory=list)

    def __enter__(self) -> Devices:
        try:
            for device in (self.camera, self.panel, self.wheel):
                if device is not None:
                    device.open()
                    self._opened.append(device)
        except BaseException:
            self._close()
            raise
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self._close()

    def _close(self) -> None:
        while self._opened:
            device = self._opened.pop()
            try:
                device.close()
            except Exception:  # closing must go on for the others
                pass


def open_devices(camera_id: str, *, panel: str | None = None, wheel: str | None = None,
                 sim_config_path: str | os.PathLike[str] | None = None) -> Devices:
    """The devices of a rig (not yet opened: use ``with``)."""
    camera = open_camera(camera_id, sim_config_path=sim_config_path)
    panel_config, wheel_config = load_rig_tables(sim_config_path)
    clock = camera.clock if isinstance(camera, SimulatedCamera) else None
    panel_device = (open_panel(panel, sim_config=panel_config, clock=clock)
                    if panel else None)
    wheel_device = (open_wheel(wheel, sim_config=wheel_config, clock=clock)
                    if wheel else None)
    sky = load_sky_table(sim_config_path) if isinstance(camera, SimulatedCamera) else None
    if isinstance(camera, SimulatedCamera) and sky is not None:  # the twilight sky
        sim_wheel = wheel_device if isinstance(wheel_device, SimulatedWheel) else None
        camera.set_light(SkyLight(sky, camera.clock, sim_wheel))
    elif isinstance(camera, SimulatedCamera):
        sim_panel = panel_device if isinstance(panel_device, SimulatedPanel) else None
        sim_wheel = wheel_device if isinstance(wheel_device, SimulatedWheel) else None
        if sim_panel is not None or sim_wheel is not None:
            camera.set_light(RigLight(camera.config.flux_e_s, sim_panel, sim_wheel))
    return Devices(camera, panel_device, wheel_device)

"""The simulated rig: the simulated camera's light comes from the simulated panel and
filter wheel, as at the scope.

flux reaching a pixel = panel flux at its brightness (0 with the light off, or its
light leak; a Flip-Flat only when closed over the scope) x the filter's throughput
(0 while the wheel moves) x the camera's channel response. Without a simulated panel
the camera's own ``flux_e_s`` is the light (an undimmable light that is always on).

The pinned TOML tables ``[panel]`` and ``[wheel]`` of a sim config file are read
here (the camera's keys are read by drivers.sim_config, which leaves these tables).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from drivers.panel_sim import SimPanelConfig, SimulatedPanel
from drivers.screen_panel import SCREEN_LEVEL_MAX, ScreenPanel
from drivers.sim_config import SIM_CONFIG_ENV, SimConfigError
from drivers.tomlload import load_toml
from drivers.wheel_sim import SimulatedWheel, SimWheelConfig

#: the sim config tables that describe the rig around the camera
RIG_TABLES = ("panel", "wheel")


class RigLight:
    """The light the simulated camera sees: panel x filter (see the module docstring)."""

    def __init__(self, base_flux_e_s: float, panel: SimulatedPanel | None,
                 wheel: SimulatedWheel | None) -> None:
        self._base = base_flux_e_s
        self._panel = panel
        self._wheel = wheel

    def flux_e_s(self) -> float:
        """e-/s/pixel at the field centre (mono or green), right now."""
        flux = self._panel.flux_e_s() if self._panel is not None else self._base
        return flux * (self._wheel.throughput() if self._wheel is not None else 1.0)


class ScreenLight:
    """The light of a (tintable) screen panel on the simulated camera, behind the wheel.

    A screen's light per colour goes as (level x multiplier / 255)^gamma:
    :meth:`flux_e_s` is the white level's (green or mono pixel), and
    :meth:`channel_flux_factors` the tint's share per colour, which a colour camera
    applies on top of its ``channel_ratio``. The simulated screen is ideal (no 8-bit
    steps), so a balanced tint stays balanced at every level.
    """

    def __init__(self, screen: ScreenPanel, wheel: SimulatedWheel | None = None, *,
                 flux_e_s_at_max: float = 40000.0, gamma: float = 2.2) -> None:
        self._screen = screen
        self._wheel = wheel
        self._flux_at_max = flux_e_s_at_max
        self._gamma = gamma

    def flux_e_s(self) -> float:
        """e-/s/pixel of the white level right now (0 with the light off or hidden)."""
        state = self._screen.state()
        if not (state.shown and state.light_on):
            return 0.0
        flux = self._flux_at_max * (state.level / SCREEN_LEVEL_MAX) ** self._gamma
        return float(flux * (self._wheel.throughput() if self._wheel is not None else 1.0))

    def channel_flux_factors(self) -> tuple[float, float, float]:
        """(r, g, b): each colour's light as a share of the white level's."""
        r, g, b = (t ** self._gamma for t in self._screen.tint)
        return (r, g, b)


def load_rig_tables(path: str | os.PathLike[str] | None = None, *, use_env: bool = True
                    ) -> tuple[SimPanelConfig | None, SimWheelConfig | None]:
    """The ``[panel]`` and ``[wheel]`` tables: $AUTOFLATS_SIM_CONFIG, then ``path``."""
    tables: dict[str, dict[str, Any]] = {}
    env_path = os.environ.get(SIM_CONFIG_ENV) if use_env else None
    for source in (env_path, path):
        if not source:
            continue
        data = load_toml(Path(source), "sim config")
        for name in RIG_TABLES:
            if name in data:
                if not isinstance(data[name], dict):
                    raise SimConfigError(f"sim config: [{name}] must be a table")
                tables[name] = tables.get(name, {}) | data[name]
    panel = _build(SimPanelConfig, tables["panel"], "panel") if "panel" in tables else None
    wheel = _build(SimWheelConfig, tables["wheel"], "wheel") if "wheel" in tables else None
    return panel, wheel


def _build(kind: Any, values: dict[str, Any], table: str) -> Any:
    known = set(kind.__dataclass_fields__)
    unknown = sorted(set(values) - known)
    if unknown:
        raise SimConfigError(f"sim config: unknown key {unknown[0]!r} in [{table}]; known "
                             f"keys: {', '.join(sorted(known))}")
    converted = {k: tuple(v) if isinstance(v, list) else v for k, v in values.items()}
    return kind(**converted)

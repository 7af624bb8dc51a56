"""The twilight sky as the simulated camera's light (the pinned ``[sky]`` TOML table).

    [sky]
    kind = "dusk"              # or "dawn"
    halving_s = 180            # the light halves (dusk) or doubles (dawn) this often
    flux_e_s_at_start = 2e6    # e-/s/pixel when the run starts, before any filter

flux(t) = flux_e_s_at_start * 2^(-+ t / halving_s) x the current filter's throughput
(0 while the wheel moves), t on the camera's clock since the light was made. A frame
integrates it over its exposure window (:meth:`SkyLight.mean_flux_e_s`: the exact
integral of the exponential, not a sample at one instant). Every window served is
logged (:attr:`SkyLight.served`) so tests and benchmarks can judge against the truth.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from drivers.clock import Clock
from drivers.sim_config import SIM_CONFIG_ENV, SimConfigError
from drivers.tomlload import load_toml
from drivers.wheel_sim import SimulatedWheel


@dataclass(frozen=True, slots=True)
class SimSkyConfig:
    """The ``[sky]`` table."""

    kind: str = "dusk"
    halving_s: float = 180.0
    flux_e_s_at_start: float = 2e6

    def __post_init__(self) -> None:
        """Check every key."""
        if self.kind not in ("dusk", "dawn"):
            raise SimConfigError(f"sim config [sky]: kind = {self.kind!r}; use dusk or dawn")
        for name in ("halving_s", "flux_e_s_at_start"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | float) or not (
                    math.isfinite(value) and 0 < value < 1e12):
                raise SimConfigError(f"sim config [sky]: {name} = {value!r}; use a positive "
                                     "number")

    @property
    def growth_per_s(self) -> float:
        """d ln(flux)/dt: negative at dusk, positive at dawn."""
        rate = math.log(2) / self.halving_s
        return -rate if self.kind == "dusk" else rate


@dataclass(frozen=True, slots=True)
class Served:
    """One exposure window the sky lit (truth for tests)."""

    start_s: float
    duration_s: float
    mean_flux_e_s: float


@dataclass(slots=True)
class SkyLight:
    """The sky through the current filter, on ``clock`` (see the module docstring)."""

    config: SimSkyConfig
    clock: Clock
    wheel: SimulatedWheel | None = None
    start_s: float | None = None
    served: list[Served] = field(default_factory=list)

    def __post_init__(self) -> None:
        """Time starts now on the clock unless given."""
        if self.start_s is None:
            self.start_s = self.clock.monotonic()

    def sky_flux_e_s(self, at_s: float) -> float:
        """The sky alone (no filter) at clock time ``at_s``."""
        assert self.start_s is not None
        t = at_s - self.start_s
        return self.config.flux_e_s_at_start * math.exp(self.config.growth_per_s * t)

    def _throughput(self) -> float:
        return self.wheel.throughput() if self.wheel is not None else 1.0

    def flux_e_s(self) -> float:
        """e-/s/pixel at the field centre, right now."""
        return self.sky_flux_e_s(self.clock.monotonic()) * self._throughput()

    def mean_flux_e_s(self, start_s: float, duration_s: float) -> float:
        """The mean flux over [start_s, start_s + duration_s] (clock seconds), exactly."""
        g = self.config.growth_per_s
        u = g * duration_s
        factor = 1.0 if abs(u) < 1e-12 else math.expm1(u) / u
        mean = self.sky_flux_e_s(start_s) * factor * self._throughput()
        self.served.append(Served(start_s, duration_s, mean))
        return mean


def load_sky_table(path: str | os.PathLike[str] | None = None, *, use_env: bool = True
                   ) -> SimSkyConfig | None:
    """The ``[sky]`` table: $AUTOFLATS_SIM_CONFIG, then ``path`` (None: no sky)."""
    values: dict[str, Any] | None = None
    env_path = os.environ.get(SIM_CONFIG_ENV) if use_env else None
    for source in (env_path, path):
        if not source:
            continue
        data = load_toml(Path(source), "sim config")
        if "sky" in data:
            if not isinstance(data["sky"], dict):
                raise SimConfigError("sim config: [sky] must be a table")
            values = (values or {}) | data["sky"]
    if values is None:
        return None
    known = set(SimSkyConfig.__dataclass_fields__)
    unknown = sorted(set(values) - known)
    if unknown:
        raise SimConfigError(f"sim config: unknown key {unknown[0]!r} in [sky]; known keys: "
                             f"{', '.join(sorted(known))}")
    return SimSkyConfig(**values)

"""Every filter wheel autoflats can drive: the simulator, and ZWO EFW wheels.

ZWO wheels need libEFWFilter (:mod:`drivers.efw_sdk`).

Specs: ``sim``; ``zwo`` (the only ZWO wheel connected); ``zwo:N`` or ``efw:N`` (the
N-th ZWO wheel, 0-based, as ``list_wheels`` shows it).
"""

from __future__ import annotations

from dataclasses import dataclass

from drivers import efw_sdk
from drivers.clock import Clock
from drivers.efw import ID_PREFIX, EfwWheel, list_efw_wheels
from drivers.errors import FilterWheelError
from drivers.wheel import FilterWheel, FilterWheelValueError, WheelEntry
from drivers.wheel_sim import SimulatedWheel, SimWheelConfig

ACCEPTED = "sim, zwo (the only ZWO wheel), zwo:N or efw:N (the N-th ZWO wheel, from 0)"


@dataclass(frozen=True, slots=True)
class WheelListing:
    """Wheels found, plus one-line notes on drivers that found none or failed."""

    wheels: tuple[WheelEntry, ...]
    notes: tuple[str, ...]


def _sim_entry(sim_config: SimWheelConfig | None) -> WheelEntry:
    config = sim_config if sim_config is not None else SimWheelConfig()
    return WheelEntry("sim", "Simulated wheel", "sim", len(config.filters))


def list_wheels(*, sim_config: SimWheelConfig | None = None,
                hardware: bool = True) -> WheelListing:
    """Wheels from every driver; the simulator is always listed first.

    ``hardware=False`` lists only the simulator (no SDK call).
    """
    wheels = [_sim_entry(sim_config)]
    notes: list[str] = []
    if hardware:
        try:
            found = list_efw_wheels()
        except efw_sdk.EfwLibraryLoadError as error:
            notes.append(str(error))
        else:
            wheels += found
            if not found:
                notes.append("no ZWO filter wheel found; check its USB cable (run "
                             "'autoflats doctor' to check the setup)")
    return WheelListing(tuple(wheels), tuple(notes))


def open_wheel(spec: str, *, sim_config: SimWheelConfig | None = None,
               clock: Clock | None = None) -> FilterWheel:
    """A filter wheel for ``spec`` (not yet opened: use ``with``)."""
    text = str(spec).strip().lower()
    if text == "sim":
        return SimulatedWheel(sim_config, clock=clock)
    if text == "zwo":
        found = list_efw_wheels()
        if not found:
            raise FilterWheelError(
                "no ZWO filter wheel found; plug it in and check its USB cable, or use "
                "'sim' (run 'autoflats doctor' to check the setup)")
        if len(found) > 1:
            listed = ", ".join(f"{e.wheel_id.replace(ID_PREFIX, 'zwo:')} {e.name}"
                               for e in found)
            raise FilterWheelValueError(
                f"{len(found)} ZWO filter wheels found ({listed}); choose one with zwo:N")
        return EfwWheel(0, clock=clock)
    for prefix in ("zwo:", ID_PREFIX):
        if text.startswith(prefix):
            number = text[len(prefix):]
            if not number.isdigit():
                raise FilterWheelValueError(
                    f"bad filter wheel {spec!r}; use one of: {ACCEPTED}")
            return EfwWheel(int(number), clock=clock)
    raise FilterWheelValueError(f"unknown filter wheel {spec!r}; use one of: {ACCEPTED}")

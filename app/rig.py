"""The devices one job drives: a camera, and optionally a light panel and a filter wheel.

The engine talks to the panel and the wheel only through these small protocols (the
light-panel and filter-wheel interfaces in ``drivers`` satisfy them), so the core
needs no particular driver.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from drivers.base import Camera


class PanelFacts(Protocol):
    """What a job needs to know of a light panel."""

    @property
    def brightness_min(self) -> int: ...

    @property
    def brightness_max(self) -> int: ...

    @property
    def has_cover(self) -> bool: ...

    @property
    def has_light(self) -> bool: ...

    @property
    def lights_only_when_closed(self) -> bool: ...


class PanelLike(Protocol):
    """A light panel (and its cover), as the engine drives it."""

    @property
    def info(self) -> PanelFacts: ...

    def set_brightness(self, level: int) -> int: ...

    def light_on(self) -> None: ...

    def light_off(self) -> None: ...

    def open_cover(self, timeout_s: float = ...) -> None: ...

    def close_cover(self, timeout_s: float = ...) -> None: ...

    def close(self) -> None: ...


@runtime_checkable
class TintablePanel(Protocol):
    """A panel whose light's colour can be balanced (the screen): r, g, b multipliers."""

    @property
    def info(self) -> PanelFacts: ...

    @property
    def tint(self) -> tuple[float, float, float]: ...

    def set_tint(self, r: float, g: float, b: float) -> tuple[float, float, float]: ...


def can_tint(panel: PanelFacts | None) -> bool:
    """Whether a panel's facts say it can tint its light (``has_tint``, off if absent)."""
    return bool(getattr(panel, "has_tint", False))


def shown_tint(panel: object) -> tuple[float, float, float]:
    """The tint a panel shows now (white for a panel that cannot tint)."""
    if isinstance(panel, TintablePanel):
        r, g, b = panel.tint
        return (r, g, b)
    return (1.0, 1.0, 1.0)


class WheelLike(Protocol):
    """A filter wheel, as the engine drives it."""

    @property
    def filter_names(self) -> tuple[str, ...]: ...

    def move_to_filter(self, name: str, timeout_s: float = ...) -> int: ...

    def close(self) -> None: ...


@dataclass(slots=True)
class Rig:
    """The devices of one job (the engine owns them while it runs)."""

    camera: Camera
    panel: PanelLike | None = None
    wheel: WheelLike | None = None

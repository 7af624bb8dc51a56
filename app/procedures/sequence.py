"""The whole job at the scope: every filter in wheel order, then the dark flats.

For each filter: move the wheel, find the exposure (or, with a dimmable panel and
``brightness='auto'``, the brightness and exposure), take N flats. A filter that
cannot be done (too dark even at full brightness and the longest exposure) is
reported and the others go on; a device fault ends the job. Then, with the light
off, M dark flats at every distinct flat exposure.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

from app.actions import MoveFilter, Procedure, SessionFailure, SetTint
from app.events import Notice
from app.procedures.brightness import choose_brightness
from app.procedures.context import FilterRun
from app.procedures.dark_flats import dark_flats
from app.procedures.lighting import finish_lighting, light_up
from app.procedures.panel_flats import capture_flats
from app.procedures.search import find_exposure
from app.procedures.tint import WHITE, normalised, tint_flats
from app.rig import PanelFacts, can_tint


@dataclass(frozen=True, slots=True)
class SequencePlan:
    """What the job does, beyond one filter's settings."""

    #: filter names in the order to take them; (None,) = one run without a wheel
    filters: tuple[str | None, ...]
    #: None = leave the panel as it is; an int = that level for every filter; 'auto'
    brightness: int | str | None
    dark_count: int
    window_s: tuple[float, float]
    open_cover_at_end: bool = False
    #: exposures of the dark flats already on disk (a resumed job)
    darks_done: tuple[float, ...] = ()
    #: balance R, G and B with the panel's tint (a tintable panel, a colour camera)
    tint: bool = True
    #: the tint the balance starts from
    start_tint: tuple[float, float, float] = WHITE


@dataclass(slots=True)
class FilterOutcome:
    """How one filter went."""

    name: str | None
    exposure_s: float | None
    brightness: int | None
    error: str | None = None


def filter_sequence(plan: SequencePlan, panel: PanelFacts | None,
                    filter_run: Callable[[str | None], FilterRun],
                    remembered_level: Callable[[str | None], int | None]) -> Procedure:
    """Run the job; returns the outcomes per filter (raises when every filter failed)."""
    fixed = plan.brightness if isinstance(plan.brightness, int) else None
    yield from light_up(panel, fixed)
    outcomes: list[FilterOutcome] = []
    bias: float | None = None
    level_native = 0.0  # the brightest flats' level (how dark a dark must be)
    min_exposure_s: float | None = None  # the camera's shortest (a bias reference)
    tint: tuple[float, float, float] | None = None  # None: not set by the job
    for name in plan.filters:
        run = filter_run(name)
        if run.done_before >= run.settings.count and run.exposure_s is not None:
            outcomes.append(FilterOutcome(name, run.exposure_s, run.brightness))
            level_native = max(level_native, run.steering.aim.target_native)
            min_exposure_s = run.plan.min_exposure_s
            continue  # done before the job was resumed
        run.record.update_section(run.section, status="running")
        if name is not None:
            yield Notice(f"filter {name}")
            yield MoveFilter(name)
        run.brightness = fixed
        tinting = plan.tint and can_tint(panel) and run.camera.info.bayer_pattern is not None
        try:
            if tinting:  # from the tint at hand; a resumed filter from its own
                recorded = run.record.section(run.section).get("tint")
                wanted = (normalised((recorded[0], recorded[1], recorded[2])) if recorded
                          else tint or normalised(plan.start_tint))
                if wanted != tint:
                    applied = yield SetTint(*wanted)
                    tint = (float(applied[0]), float(applied[1]), float(applied[2]))
            if plan.brightness == "auto" and panel is not None and panel.has_light:
                shot, level = yield from choose_brightness(run, panel, plan.window_s,
                                                           remembered_level(name))
            else:
                shot, level = (yield from find_exposure(run)), fixed
            if tinting and tint is not None:
                shot, level, tint = yield from tint_flats(
                    run, shot, level, tint, partial(_resolve, run, plan, panel))
            exposure_s = yield from capture_flats(run, shot)
        except SessionFailure as failure:
            if name is None:
                raise
            run.record.update_section(run.section, status="failed", error=str(failure))
            yield run.warn(f"{name}: {failure}")
            outcomes.append(FilterOutcome(name, None, None, str(failure)))
            continue
        if name is not None:
            run.record.update_section(run.section, status="completed", exposure_s=exposure_s,
                                      brightness=level)
        else:
            run.record.update(brightness=level)
        outcomes.append(FilterOutcome(name, exposure_s, level))
        bias = run.bias_native if run.bias_native is not None else bias
        level_native = max(level_native, run.steering.aim.target_native)
        min_exposure_s = run.plan.min_exposure_s
    done = [o for o in outcomes if o.exposure_s is not None]
    if not done:
        raise SessionFailure("no filter could be done: " + "; ".join(
            f"{o.name}: {o.error}" for o in outcomes))
    if plan.dark_count and min_exposure_s is not None:
        yield from dark_flats(panel, [o.exposure_s for o in done if o.exposure_s],
                              plan.dark_count, already=plan.darks_done, bias_native=bias,
                              flat_level_native=level_native,
                              min_exposure_s=min_exposure_s)
    yield from finish_lighting(panel, plan.open_cover_at_end)
    failed = [o for o in outcomes if o.exposure_s is None]
    if failed:
        raise SessionFailure(
            f"{len(failed)} of {len(outcomes)} filters failed ("
            + "; ".join(f"{o.name}: {o.error}" for o in failed) + "); the others are done")
    return outcomes


def _resolve(run: FilterRun, plan: SequencePlan, panel: PanelFacts | None,
             level: int | None) -> Procedure:
    """The search again, as the filter's first search was done; returns (shot, level)."""
    if plan.brightness == "auto" and panel is not None and panel.has_light:
        return (yield from choose_brightness(run, panel, plan.window_s, level))
    return (yield from find_exposure(run)), level

"""One filter's flats at a steady light: find the exposure, then N flats at it.

Flats that leave the tolerance are dropped; the exposure changes only for a
persistent trend (app.drift), so jitter does not move it and all flats of a steady
light share one exposure (one set of dark flats matches them).
"""

from __future__ import annotations

import time

from app import defaults
from app.actions import Expose, FrameKind, Procedure, SaveFrame, SessionFailure, Shot
from app.drift import LevelTracker
from app.events import FlatCaptured, FlatRejected, Phase, Progress
from app.linearity import departure_from_line
from app.procedures.context import FilterRun
from app.procedures.search import check_flicker, find_exposure
from app.record import channels_entry
from app.solver import SATURATED_FRACTION
from app.stats import preview
from app.steering import Aim, Level, Steering


def panel_flats(run: FilterRun) -> Procedure:
    """Search, then capture up to the run's count; returns the flats' exposure."""
    shot = yield from find_exposure(run)
    return (yield from capture_flats(run, shot))


def capture_flats(run: FilterRun, shot: Shot) -> Procedure:
    """N flats at ``shot``'s exposure (``shot`` is flat number done_before + 1)."""
    settings, plan = run.settings, run.plan
    bayer = run.camera.info.bayer_pattern
    aim = run.steering.aim
    tracker = LevelTracker(aim.target_native, aim.tolerance_native)
    exposure_s = shot.exposure_s
    captured = run.done_before
    rejected_in_a_row = 0
    flat_wall_s: list[float] = []
    kept_levels = [Steering.level_of(shot.stats, aim).mean_native]
    while True:
        captured += 1
        yield FlatCaptured(captured, settings.count, exposure_s, shot.stats,
                           shot.display_histogram(bayer), preview(shot.frame, bayer))
        yield SaveFrame(shot, FrameKind.FLAT, captured, run.filter_name, run.section,
                        run.subdir)
        if captured >= settings.count:
            warning = _linearity_warning(run, exposure_s, kept_levels)
            if warning is not None:
                yield run.warn(warning)
            return exposure_s
        while True:
            per_flat_s = (sum(flat_wall_s) / len(flat_wall_s) if flat_wall_s
                          else exposure_s + run.camera.readout_s)
            yield Progress(Phase.CAPTURING, captured, settings.count, 0.0,
                           (settings.count - captured) * per_flat_s)
            began = time.monotonic()
            # The next flat exposes while this one is checked and saved.
            more = captured + 1 < settings.count
            shot = yield Expose(exposure_s, next_exposure_s=exposure_s if more else None)
            flat_wall_s.append(time.monotonic() - began)
            flicker = check_flicker(run, shot, run.bias_native or 0.0)
            if flicker is not None:
                yield flicker[0]
            stats = shot.stats
            level = Steering.level_of(stats, aim)
            decision = tracker.add(level.mean_native,
                                   level.clipped_fraction > SATURATED_FRACTION)
            new_exposure = exposure_s
            if decision.resolve_from is not None:
                new_exposure = _resolve(exposure_s, decision.resolve_from, level, aim,
                                        run.bias_native)
            if decision.keep:
                rejected_in_a_row = 0
                kept_levels.append(level.mean_native)
            else:
                rejected_in_a_row += 1
                run.record.count_rejected_flat(run.section)
                run.record.add_test_exposure(exposure_s, stats.mean_native, stats.mean_16bit,
                                             section=run.section, rejected=True,
                                             **channels_entry(stats.channel_means_16bit))
                change = (f"; exposure {exposure_s:.4g} s -> {new_exposure:.4g} s"
                          if new_exposure != exposure_s else "")
                yield FlatRejected(
                    exposure_s, stats,
                    f"flat mean {level.mean_native:.1f} ADU is outside the tolerance "
                    f"(target {aim.target_native:.1f} ± {aim.tolerance_native:.1f})"
                    f"{change}")
                if rejected_in_a_row > settings.max_rejected_flats:
                    raise SessionFailure(
                        f"{rejected_in_a_row} flats in a row left the tolerance: the light "
                        "is drifting or flickering too much; steady the light source or "
                        "widen --tolerance, and try again")
            if new_exposure != exposure_s:
                if not plan.min_exposure_s <= new_exposure <= plan.max_exposure_s:
                    raise SessionFailure(
                        "the light changed beyond what the exposure range can follow "
                        f"({plan.min_exposure_s:g}..{plan.max_exposure_s:g} s); adjust the "
                        "panel and start again")
                exposure_s = run.camera.clamp_exposure(new_exposure)
                tracker.reset()
                run.exposure_s = exposure_s
                run.record.update_section(run.section, exposure_s=exposure_s)
            if decision.keep:
                break


def _linearity_warning(run: FilterRun, exposure_s: float, levels: list[float]) -> str | None:
    """A warning when the frames taken show a response off a straight line by > 1 %.

    The search frames and the flats (their mean level, at the flats' exposure) give
    three or more exposures; the brightest is compared with the line through the two
    dimmest. The light's own frame-to-frame wobble, measured from the flats, raises
    the bar so a noisy panel is not mistaken for a non-linear sensor.
    """
    if not levels:
        return None
    mean = sum(levels) / len(levels)
    spread = (sum((x - mean) ** 2 for x in levels) / max(len(levels) - 1, 1)) ** 0.5
    wobble = spread / mean if mean > 0 else 0.0
    found = departure_from_line([*run.search_points, (exposure_s, mean)], run.known_bias)
    if found is None:
        return None
    departure, level = found
    if departure <= max(defaults.NONLINEAR_DEPARTURE, 4 * wobble):
        return None
    full = run.scale.full_scale_native
    return (f"the sensor's response departs from linear by {departure:.1%} at "
            f"{level / full:.0%} of full scale across the frames taken: flats there may "
            "calibrate badly; run 'autoflats linearity' to measure its limit, then use "
            "--lower-target (or a lower --target)")


def _resolve(exposure_s: float, level_native: float, level: Level, aim: Aim,
             bias: float | None) -> float:
    """One proportional step back onto the target after the light drifted."""
    base = bias if bias is not None and bias < level_native else 0.0
    signal = level_native - base
    if level.clipped_fraction > SATURATED_FRACTION or signal <= 0:
        return exposure_s / 2
    return exposure_s * (aim.target_native - base) / signal

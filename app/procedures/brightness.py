"""Brightness mode: choose a dimmable panel's level so the flat exposure falls inside
a window (default 1-10 s: long enough to beat PWM flicker and shutter effects, short
enough to be quick).

At one level the exposure search runs as usual; if the exposure found lies outside
the window, the light must change by the ratio (found ÷ the window's geometric
middle). Panels are not linear in their level (gamma, LED drivers), so the next
level comes from the measured levels on a log-log line (gamma 1 until two levels
are known); the search at the new level starts from the exposure the light ratio
predicts with the bias already known, so it usually needs one frame. Narrowband
filters that need more than the window at full brightness take the longer exposure
(and say so); a panel still too bright at its dimmest level takes a shorter one.
"""

from __future__ import annotations

import math

from app.actions import Expose, Procedure, SessionFailure, SetBrightness, Shot
from app.events import Notice, Phase, Progress
from app.history import HistoryKey
from app.procedures.context import FilterRun
from app.procedures.search import (
    _test_event,
    accept_shot,
    find_exposure,
    history_key,
    known_bias,
    level_miss_text,
    speed_choices,
)
from app.record import channels_entry
from app.rig import PanelFacts
from app.solver import FULLY_CLIPPED_FRACTION, SATURATED_FRACTION
from app.steering import Aim
from drivers.base import nearest_choice
from drivers.shutter import speed_text

#: brightness changes tried before the window is given up for this filter
MAX_LEVEL_CHANGES = 5
#: frames the fine adjustment on a discrete exposure list may take
MAX_FINE_FRAMES = 8


def choose_brightness(run: FilterRun, panel: PanelFacts, window_s: tuple[float, float],
                      start_level: int | None) -> Procedure:
    """Search exposure and level; returns (accepted shot, level)."""
    if run.camera.exposure_choices_s():
        return (yield from _choose_on_speeds(run, panel, window_s, start_level))
    low_s, high_s = window_s
    middle_s = math.sqrt(low_s * high_s)
    lo_level, hi_level = max(panel.brightness_min, 1), panel.brightness_max
    level = min(max(start_level if start_level is not None else hi_level, lo_level), hi_level)
    measured: list[tuple[int, float]] = []  # (level, exposure that hit the target)
    for _ in range(MAX_LEVEL_CHANGES + 1):
        level = int((yield SetBrightness(level)))
        run.brightness = level
        run.record.update_section(run.section, brightness=level)
        try:
            shot: Shot = yield from find_exposure(run)
        except SessionFailure as failure:
            text = str(failure)
            if "too bright" in text and level > lo_level:
                next_level = max(lo_level, level // 8)
            elif "too dark" in text and level < hi_level:
                next_level = hi_level
            else:
                raise
            yield Notice(f"brightness {level}: {text.split(':')[0]}; trying {next_level}")
            level = next_level
            run.first_exposure_s = None
            continue
        exposure_s = shot.exposure_s
        measured.append((level, exposure_s))
        if low_s <= exposure_s <= high_s:
            return shot, level
        if exposure_s > high_s and level >= hi_level:
            yield run.warn(f"{run.filter_name or 'this filter'} needs {exposure_s:.3g} s even "
                           f"at full brightness (more than {high_s:g} s); flats taken at it")
            return shot, level
        if exposure_s < low_s and level <= lo_level:
            yield run.warn(f"the panel is too bright for {run.filter_name or 'this filter'} "
                           f"even at its dimmest level ({level}): flats of {exposure_s:.3g} s "
                           f"(under {low_s:g} s); add a diffuser")
            return shot, level
        next_level = _next_level(measured, middle_s, lo_level, hi_level)
        if next_level == level:
            return shot, level
        yield Notice(f"brightness {level} gives {exposure_s:.3g} s, outside {low_s:g}-"
                     f"{high_s:g} s; trying brightness {next_level}")
        # The light scales by the level's law: predict the exposure at the next level.
        run.first_exposure_s = middle_s
        run.bias_hint_native = run.bias_native
        level = next_level
    raise SessionFailure(
        f"no brightness puts {run.filter_name or 'the'} flats inside {low_s:g}-{high_s:g} s "
        f"in {MAX_LEVEL_CHANGES} tries; set --brightness to a level by hand")


def _next_level(measured: list[tuple[int, float]], wanted_s: float, lo: int, hi: int) -> int:
    """The level whose light gives ``wanted_s``: a log-log line through the last two."""
    level, exposure_s = measured[-1]
    gamma = 1.0
    if len(measured) >= 2:
        (l1, t1), (l2, t2) = measured[-2], measured[-1]
        if l1 != l2 and t1 > 0 and t2 > 0:
            slope = -math.log(t2 / t1) / math.log(l2 / l1)
            if 0.2 <= slope <= 5:
                gamma = slope
    # light ∝ level^gamma and exposure ∝ 1/light
    wanted = level * (exposure_s / wanted_s) ** (1 / gamma)
    return int(min(max(round(wanted), lo), hi))


def _choose_on_speeds(run: FilterRun, panel: PanelFacts, window_s: tuple[float, float],
                      start_level: int | None) -> Procedure:
    """Discrete exposures (a DSLR's speeds): fix a speed inside the window, let the
    brightness do the fine adjustment; returns (accepted shot, level).

    The signal is measured above the known bias (the raw black level); the light is
    taken as level^gamma (gamma 1 until two levels at one speed are known), so the
    second frame usually lands on the target. When the panel cannot give the light
    the speed needs, the speed moves to the nearest one the panel can serve.
    """
    choices = speed_choices(run)
    low_s, high_s = window_s
    in_window = tuple(c for c in choices if low_s <= c <= high_s) or choices
    key = history_key(run)
    remembered = run.history.lookup(key) if run.history is not None else None
    wanted_s = run.first_exposure_s
    if wanted_s is None and remembered is not None and start_level is not None:
        wanted_s = remembered.exposure_s  # last time's speed with last time's level
    # Otherwise the first frame at the window's short end: a bright panel clips less often, a
    # dim one still measures (the bias is known), and the speed then moves up.
    speed = nearest_choice(in_window, wanted_s if wanted_s is not None else low_s)
    lo_level, hi_level = max(panel.brightness_min, 1), panel.brightness_max
    level = min(max(start_level if start_level is not None else hi_level, lo_level), hi_level)
    bias = known_bias(run)
    aim = run.steering.aim
    rates: list[tuple[int, float, float]] = []  # (level, speed, signal rate ADU/s)
    tried: set[tuple[int, float]] = set()
    for tests in range(MAX_FINE_FRAMES):
        level = int((yield SetBrightness(level)))
        run.brightness = level
        run.record.update_section(run.section, brightness=level)
        tried.add((level, speed))
        yield Progress(Phase.FINDING_EXPOSURE, tests, MAX_FINE_FRAMES, 0.0, None)
        shot: Shot = yield Expose(speed, shot_signal=True)
        speed = shot.exposure_s
        stats = shot.stats
        seen = run.steering.level(stats)
        aim = run.steering.aim
        clipped = seen.clipped_fraction > SATURATED_FRACTION
        # Only a mostly clipped frame says nothing but "less light"; a partly clipped
        # one still measures (its mean understates the signal by about the share).
        blind = seen.clipped_fraction > FULLY_CLIPPED_FRACTION
        if not clipped and abs(seen.mean_native - aim.target_native) <= aim.tolerance_native:
            yield from _window_notes(run, speed, level, window_s, lo_level, hi_level)
            yield from accept_shot(run, shot, tests, key, bias, bias)
            return shot, level
        base = bias
        if base is None and shot.shot_signal_native is not None:
            base = stats.mean_native - shot.shot_signal_native
        base = base or 0.0
        signal = (seen.mean_native - base) * (1 + seen.clipped_fraction)
        next_level, next_speed, why = level, speed, ""
        if blind or signal <= 0:
            # Speeds are exact, panel levels are not: move the speed first.
            factor = 1 / 32 if blind else 8.0
            next_speed = nearest_choice(in_window, speed * factor)
            rest = factor * speed / next_speed
            next_level = int(min(max(round(level * rest), lo_level), hi_level))
            if (next_level, next_speed) == (level, speed):
                next_speed = _step_speed(choices, speed, -9 if clipped else 9)
            why = "clipped: less light" if blind else "no signal: more light"
        else:
            rates.append((level, speed, signal / speed))
            wanted = aim.target_native - base
            next_level, next_speed = _next_setting(rates, wanted, in_window, choices, lo_level,
                                                   hi_level, aim.tolerance_native / wanted)
            why = (f"brightness {level}: {seen.mean_native:.0f} ADU at {speed_text(speed)}; "
                   f"the panel gives the fine adjustment")
        if (next_level, next_speed) in tried:
            darker = seen.mean_native < aim.target_native
            if darker and level >= hi_level and speed >= choices[-1]:
                raise SessionFailure(
                    f"too dark even at full brightness and the longest speed "
                    f"({speed_text(speed)}): {seen.mean_native:.0f} ADU for a target of "
                    f"{aim.target_native:.0f}; brighten the panel or raise the ISO")
            if not darker and level <= lo_level and speed <= choices[0]:
                raise SessionFailure(
                    f"too bright even at the dimmest level and the shortest speed "
                    f"({speed_text(speed)}); add a diffuser or lower the ISO")
            # Level steps are too coarse here: nudge by one step towards the target.
            step = 1 if seen.mean_native < aim.target_native else -1
            nudged = min(max(level + step, lo_level), hi_level)
            if (nudged, speed) in tried or blind:
                return (yield from _settle_on_level(run, shot, level, key, bias))
            next_level, next_speed = nudged, speed
        tests_done = tests + 1
        run.record.add_test_exposure(speed, stats.mean_native, stats.mean_16bit,
                                     section=run.section,
                                     **channels_entry(stats.channel_means_16bit))
        yield _test_event(run, tests_done, shot, next_speed, why, None)
        if next_speed not in in_window and next_speed != speed:
            yield Notice(f"no speed within {low_s:g}-{high_s:g} s suits the panel's range; "
                         f"trying {speed_text(next_speed)} at brightness {next_level}")
        level, speed = next_level, next_speed
    raise SessionFailure(
        f"no brightness put {run.filter_name or 'the'} flats on target in {MAX_FINE_FRAMES} "
        "frames: the light may be unsteady; set --brightness to a level by hand")


def _step_speed(choices: tuple[float, ...], speed: float, steps: int) -> float:
    index = min(range(len(choices)), key=lambda i: abs(choices[i] - speed))
    return choices[min(max(index + steps, 0), len(choices) - 1)]


def _gamma(rates: list[tuple[int, float, float]]) -> float:
    """The panel's light law exponent from the last two levels measured (1 until then)."""
    l2, _, r2 = rates[-1]
    for l1, _, r1 in reversed(rates[:-1]):
        if l1 != l2 and r1 > 0 and r2 > 0:
            slope = math.log(r2 / r1) / math.log(l2 / l1)
            return slope if 0.2 <= slope <= 5 else 1.0
    return 1.0


def _next_setting(rates: list[tuple[int, float, float]], wanted_signal: float,
                  in_window: tuple[float, ...], choices: tuple[float, ...], lo: int,
                  hi: int, tolerance_share: float) -> tuple[int, float]:
    """(level, speed) whose predicted signal is nearest ``wanted_signal``.

    Every listed speed with the whole levels around the one it needs is a candidate.
    Among those predicted within half the tolerance, speeds inside the window come
    first, with the smallest level change (the panel's law is the uncertain part,
    speeds are exact); then those outside it, nearest the window; then the nearest
    prediction.
    """
    level, _, rate = rates[-1]
    gamma = _gamma(rates)
    best: tuple[tuple[float, float], int, float] | None = None
    for speed in choices:
        ideal = level * (wanted_signal / speed / rate) ** (1 / gamma)
        for candidate in {math.floor(ideal), math.ceil(ideal)}:
            new_level = int(min(max(candidate, lo), hi))
            predicted = rate * (new_level / level) ** gamma * speed
            error = abs(predicted - wanted_signal) / wanted_signal
            if error > tolerance_share / 2:
                key = (2.0, error)  # the panel cannot serve this speed well
            elif speed in in_window:
                key = (0.0, abs(math.log(new_level / level)))
            else:  # outside the window: as close to it as will do
                key = (1.0, abs(math.log(speed / nearest_choice(in_window, speed))))
            if best is None or key < best[0]:
                best = (key, new_level, speed)
    assert best is not None
    return best[1], best[2]


def _window_notes(run: FilterRun, speed: float, level: int, window_s: tuple[float, float],
                  lo: int, hi: int) -> Procedure:
    """Say so when the speed had to leave the window."""
    low_s, high_s = window_s
    name = run.filter_name or "this filter"
    if speed > high_s and level >= hi:
        yield run.warn(f"{name} needs {speed_text(speed)} even at full brightness (more "
                       f"than {high_s:g} s); flats taken at it")
    elif speed < low_s and level <= lo:
        yield run.warn(f"the panel is too bright for {name} even at its dimmest level "
                       f"({level}): flats of {speed_text(speed)} (under {low_s:g} s); add a "
                       "diffuser")


def _settle_on_level(run: FilterRun, shot: Shot, level: int, key: HistoryKey,
                     bias: float | None) -> Procedure:
    """The panel's steps are too coarse to reach the tolerance: flats at the nearest."""
    aim = run.steering.aim
    seen = run.steering.level(shot.stats).mean_native
    miss, share = level_miss_text(run, seen)
    yield run.warn(
        f"brightness {level} at {speed_text(shot.exposure_s)} gives {seen:.0f} ADU ({share}), "
        f"{miss:+.1%} from the target: the panel's steps are too coarse here; flats taken "
        "at it (a diffuser, or a wider --tolerance, helps)")
    run.record.update_section(run.section, level_miss={
        "exposure_s": shot.exposure_s, "level_native": round(seen, 3),
        "target_native": round(aim.target_native, 3), "miss": round(miss, 4)})
    run.steering.aim = Aim(aim.channel, seen, aim.tolerance_native)
    yield from accept_shot(run, shot, 0, key, bias, bias)
    return shot, level

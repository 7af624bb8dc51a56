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

from app.actions import Procedure, SessionFailure, SetBrightness, Shot
from app.events import Notice
from app.procedures.context import FilterRun
from app.procedures.search import find_exposure
from app.rig import PanelFacts

#: brightness changes tried before the window is given up for this filter
MAX_LEVEL_CHANGES = 5


def choose_brightness(run: FilterRun, panel: PanelFacts, window_s: tuple[float, float],
                      start_level: int | None) -> Procedure:
    """Search exposure and level; returns (accepted shot, level)."""
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

"""Find the exposure that puts the steered level on target (see app.solver, app.steering).

Test frames until one lands within tolerance; that frame is returned (it becomes the
first flat). The exposure the camera applied is what the solver sees. The search
stops with a clear reason when the target is out of reach, when the camera's
exposure grid skips the target, or when flicker needs longer flats than allowed.
"""

from __future__ import annotations

import math
from dataclasses import replace

from app import defaults
from app.actions import Expose, Procedure, SessionFailure, Shot
from app.adu import AduScale
from app.events import ExposureSolved, Notice, Phase, Progress, TestFrame
from app.fits_store import utc_now
from app.flicker import BANDING_LIMIT, min_flicker_safe_exposure_s, row_banding
from app.history import HistoryEntry, HistoryKey, sensor_key
from app.procedures.context import FilterRun
from app.record import channels_entry
from app.solver import (
    ExposureSolver,
    LinearFit,
    SolverConfig,
    Step,
    Verdict,
    choose_from_list,
)
from app.stats import FrameStats, preview
from app.steering import Aim, Steering
from drivers.base import nearest_choice
from drivers.shutter import speed_text

_WEAK_ADVICE = {
    "R": "the light is poor in red (a cold/blue panel); a warmer light or a longer exposure "
         "helps",
    "G": "the light is poor in green; use a whiter light",
    "B": "the light is poor in blue (a warm panel or an incandescent source); a daylight-"
         "balanced panel or a blue-boosting filter on the panel helps",
}


def history_key(run: FilterRun) -> HistoryKey:
    """What a remembered exposure is stored under for this filter."""
    info, plan = run.camera.info, run.plan
    return HistoryKey(info.name, plan.gain, plan.offset, plan.binning, run.filter_name,
                      plan.target_native, sensor_key(info))


def find_exposure(run: FilterRun) -> Procedure:
    """The search; returns the accepted :class:`Shot` (it becomes a flat)."""
    if run.camera.exposure_choices_s():
        return (yield from find_speed(run))
    cam, settings, plan = run.camera, run.settings, run.plan
    e_per_adu = cam.reported_e_per_adu()
    first_s = run.first_exposure_s or settings.first_exposure_s
    bias_hint = run.bias_hint_native if run.bias_hint_native is not None else (
        settings.bias_hint_native)
    key = history_key(run)
    remembered = run.history.lookup(key) if run.history is not None else None
    if remembered is not None:
        first_s = first_s if first_s is not None else remembered.exposure_s
        bias_hint = bias_hint if bias_hint is not None else remembered.bias_native
        yield Notice(f"starting from last time's exposure, {remembered.exposure_s:.4g} s "
                     f"({remembered.when_utc[:10]})")
    steering = run.steering
    run.known_bias = bias_hint
    solver = _new_solver(run, steering.aim, first_s, bias_hint, e_per_adu)
    taken: list[tuple[float, FrameStats, float | None]] = []  # (applied s, stats, shot)
    exposure_s = cam.clamp_exposure(solver.first_exposure())
    tests = 0
    bisected = False
    while True:
        yield Progress(Phase.FINDING_EXPOSURE, tests, settings.max_test_frames, 0.0, None)
        shot: Shot = yield Expose(exposure_s, shot_signal=True)
        stats, signal = shot.stats, shot.shot_signal_native
        repeated = any(math.isclose(shot.exposure_s, t, rel_tol=1e-9) for t, _, _ in taken)
        taken.append((shot.exposure_s, stats, signal))
        bias_guess = stats.mean_native - signal if signal is not None else 0.0
        flicker = check_flicker(run, shot, bias_guess)
        if flicker is not None:
            yield flicker[0]
        safe_s = flicker[1] if flicker is not None else 0.0
        if shot.exposure_s < safe_s:
            # Banded frames mislead the search: start again above the safe time.
            step = Step(Verdict.NEXT, safe_s, "flicker: restarting above the safe exposure")
            if safe_s > plan.max_exposure_s:
                step = Step(Verdict.GAVE_UP, shot.exposure_s,
                            f"the light flickers and needs flats of at least {safe_s:g} s, "
                            f"longer than the longest allowed {plan.max_exposure_s:g} s; "
                            "use a steady light or allow longer flats")
            solver = ExposureSolver(replace(solver.config, min_exposure_s=safe_s,
                                            first_exposure_s=safe_s))
        else:
            step = _observe(solver, steering, shot.exposure_s, stats, signal)
            fit = solver.fit()
            switch = steering.channel_over_ceiling(stats, fit.bias_native if fit else None)
            if switch is not None:
                yield run.warn(switch)
            if solver.config.target_native != steering.aim.target_native or switch:
                # The aim moved (a channel chosen or capped under the linear ceiling):
                # a solver for it, fed every frame so far.
                solver = _new_solver(run, steering.aim, None, bias_hint, e_per_adu)
                for applied_s, old_stats, old_signal in taken:
                    step = _observe(solver, steering, applied_s, old_stats, old_signal)
            if step.verdict is Verdict.ACCEPT:
                run.search_points = _linear_points(taken, steering.aim)
                yield from _accept(run, solver, shot, tests, key, bias_hint)
                return shot
            if step.verdict is Verdict.NEXT and repeated:
                # The camera rounded the request onto an exposure already taken. Once,
                # bisect the bracket (the prediction may just sit too close to one end);
                # if that lands on a known exposure too, the grid skips the target.
                low, high = solver.bracket()
                if low is not None and high is not None and not bisected:
                    bisected = True
                    step = Step(Verdict.NEXT, math.sqrt(low * high),
                                "the camera rounded the exposure: bisecting the bracket")
                else:
                    step = Step(Verdict.GAVE_UP, shot.exposure_s,
                                _quantised_message(exposure_s, taken, steering, run.scale))
        tests += 1
        run.record.add_test_exposure(shot.exposure_s, stats.mean_native, stats.mean_16bit,
                                     section=run.section,
                                     **channels_entry(stats.channel_means_16bit))
        yield _test_event(run, tests, shot,
                          step.exposure_s if step.verdict is Verdict.NEXT else None,
                          step.reason, solver.fit())
        if step.verdict is not Verdict.NEXT:
            raise SessionFailure(step.reason)
        exposure_s = cam.clamp_exposure(step.exposure_s)


def _new_solver(run: FilterRun, aim: Aim, first_s: float | None, bias_hint: float | None,
                e_per_adu: float | None) -> ExposureSolver:
    plan = run.plan
    return ExposureSolver(SolverConfig(
        target_native=aim.target_native,
        tolerance_native=aim.tolerance_native,
        full_scale_native=run.scale.full_scale_native,
        min_exposure_s=plan.min_exposure_s,
        max_exposure_s=plan.max_exposure_s,
        first_exposure_s=first_s,
        bias_hint_native=bias_hint,
        e_per_adu_native=e_per_adu,
        max_frames=run.settings.max_test_frames,
        linear_ceiling_native=run.steering.ceiling_native,
    ))


def _accept(run: FilterRun, solver: ExposureSolver, shot: Shot, tests: int, key: HistoryKey,
            bias_hint: float | None) -> Procedure:
    """The frame on target: warnings, history, the solved event."""
    fit = solver.fit()
    bias = fit.bias_native if fit is not None else bias_hint
    # Only a bias measured from two frames (or known before) is kept.
    measured = bias if fit is not None and fit.fitted else bias_hint
    yield from accept_shot(run, shot, tests, key, bias, measured)


def accept_shot(run: FilterRun, shot: Shot, tests: int, key: HistoryKey, bias: float | None,
                measured_bias: float | None) -> Procedure:
    """The accepted frame: warnings, record, history, the solved event."""
    stats, exposure_s = shot.stats, shot.exposure_s
    for warning in channel_warnings(stats, run.scale):
        yield run.warn(warning)
    run.exposure_s = exposure_s
    run.record.update_section(run.section, exposure_s=exposure_s, aim={
        "channel": run.steering.aim.channel,
        "target_native": round(run.steering.aim.target_native, 3)})
    run.bias_native = bias
    if run.history is not None:
        measured = measured_bias
        run.history.remember(key, HistoryEntry(
            exposure_s, measured, utc_now().isoformat(timespec="seconds"), run.brightness))
    yield ExposureSolved(exposure_s, stats.mean_native, stats.mean_16bit, tests, bias)


def _test_event(run: FilterRun, index: int, shot: Shot, next_s: float | None, reason: str,
                fit: LinearFit | None) -> TestFrame:
    bayer = run.camera.info.bayer_pattern
    return TestFrame(index, shot.exposure_s, shot.stats, shot.display_histogram(bayer),
                     preview(shot.frame, bayer), next_s, reason,
                     fit.bias_native if fit else None,
                     fit.rate_native_per_s if fit else None)


def check_flicker(run: FilterRun, shot: Shot, bias_native: float) -> tuple[Notice, float] | None:
    """Report banding from a flickering light once, with a safe exposure."""
    if run.flicker_reported:
        return None
    info = run.camera.info
    banding = row_banding(shot.frame, info.bayer_pattern, max(bias_native, 0.0),
                          info.bit_depth)
    if banding <= BANDING_LIMIT:
        return None
    run.flicker_reported = True
    safe_s = min_flicker_safe_exposure_s(shot.exposure_s, banding)
    run.record.update(flicker={"banding": round(banding, 4), "at_exposure_s": shot.exposure_s,
                               "min_safe_exposure_s": safe_s})
    return run.warn(
        f"the light flickers: rows show {banding:.1%} banding at {shot.exposure_s:.4g} s; "
        f"flats will be at least {safe_s:g} s (dim the panel if that is too bright)"
    ), safe_s


def channel_warnings(stats: FrameStats, scale: AduScale) -> list[str]:
    """Colour flats: channels so weak that their flat will be noisy."""
    warnings = []
    for channel, level in stats.channel_means_native.items():
        share = level / scale.full_scale_native
        if share < defaults.WEAK_CHANNEL_SHARE:
            warnings.append(
                f"the {channel} channel is only at {share:.0%} of full scale: its flat will "
                f"be noisy; {_WEAK_ADVICE.get(channel, 'use a whiter light')}")
    return warnings


def _linear_points(taken: list[tuple[float, FrameStats, float | None]], aim: Aim
                   ) -> list[tuple[float, float]]:
    """(exposure, level) of this search's unclipped frames, all under the final aim."""
    levels = ((t, Steering.level_of(stats, aim)) for t, stats, _ in taken)
    return [(t, level.mean_native) for t, level in levels
            if level.clipped_fraction <= defaults.CLIPPED_SHARE_MAX]


def _observe(solver: ExposureSolver, steering: Steering, exposure_s: float,
             stats: FrameStats, shot_signal: float | None) -> Step:
    """Feed one frame to the solver as the steered level."""
    level = steering.level(stats)
    if shot_signal is not None:
        # The shot-noise estimate measures signal above one bias for every channel.
        shot_signal += level.mean_native - stats.mean_native
    return solver.observe(exposure_s, level.mean_native, level.clipped_fraction, shot_signal)


def _quantised_message(requested_s: float, taken: list[tuple[float, FrameStats, float | None]],
                       steering: Steering, scale: AduScale) -> str:
    """Why the search stops when the camera's exposure grid skips the target."""
    aim = steering.aim
    applied_s, stats, _ = taken[-1]
    full = scale.full_scale_native
    level = Steering.level_of(stats, aim).mean_native
    return (f"the camera's exposures are quantised and skip the target: asked for "
            f"{requested_s:.6g} s, it applied {applied_s:.6g} s again ({level / full:.1%} of "
            f"full scale; the target is {aim.target_native / full:.1%} ± "
            f"{aim.tolerance_native / full:.1%}), its step there being at least "
            f"{2 * abs(requested_s - applied_s):.3g} s; dim the panel so flats take longer, "
            "or widen --tolerance")


# -- cameras with a discrete list of exposures (DSLR shutter speeds) ---------------------
def speed_choices(run: FilterRun) -> tuple[float, ...]:
    """The camera's listed exposures inside the plan's range (at least one)."""
    plan, cam = run.plan, run.camera
    listed = cam.exposure_choices_s() or ()
    inside = tuple(c for c in listed
                   if plan.min_exposure_s * (1 - 1e-9) <= c <= plan.max_exposure_s * (1 + 1e-9))
    return inside or (cam.clamp_exposure(plan.min_exposure_s),)


def known_bias(run: FilterRun) -> float | None:
    """The bias known before any frame: a hint, else the raw black level (DSLR)."""
    if run.bias_hint_native is not None:
        return run.bias_hint_native
    if run.settings.bias_hint_native is not None:
        return run.settings.bias_hint_native
    return run.camera.info.black_level


def find_speed(run: FilterRun, *, settle: bool = True) -> Procedure:
    """The search over a discrete list of exposures; returns a :class:`Shot`.

    The linear model chooses from the list: the speed whose predicted level is
    nearest the target. When the target falls between two speeds (1/3 stops are
    26 % apart, wider than any tolerance), the frame at the nearest speed is the
    answer: with ``settle`` the flats are taken there and a warning says by how much
    the level misses and how to fix it; without, the shot is returned as it is (the
    brightness mode then fine-tunes the light).
    """
    cam, settings = run.camera, run.settings
    choices = speed_choices(run)
    e_per_adu = cam.reported_e_per_adu()
    first_s = run.first_exposure_s or settings.first_exposure_s
    bias_hint = known_bias(run)
    key = history_key(run)
    remembered = run.history.lookup(key) if run.history is not None else None
    if remembered is not None and first_s is None:
        first_s = remembered.exposure_s
        yield Notice(f"starting from last time's exposure, {remembered.exposure_s:.4g} s "
                     f"({remembered.when_utc[:10]})")
    steering = run.steering
    narrowed = replace(run.plan, min_exposure_s=choices[0], max_exposure_s=choices[-1])
    solver = _new_solver(replace(run, plan=narrowed), steering.aim, first_s, bias_hint,
                         e_per_adu)
    exposure_s = nearest_choice(choices, solver.first_exposure())
    tests = 0
    while True:
        yield Progress(Phase.FINDING_EXPOSURE, tests, settings.max_test_frames, 0.0, None)
        shot: Shot = yield Expose(exposure_s, shot_signal=True)
        stats = shot.stats
        step = _observe(solver, steering, shot.exposure_s, stats, shot.shot_signal_native)
        fit = solver.fit()
        switch = steering.channel_over_ceiling(stats, fit.bias_native if fit else None)
        if switch is not None:
            yield run.warn(switch)
        if solver.config.target_native != steering.aim.target_native or switch:
            # the aim moved (a channel chosen or capped): a solver for it
            solver = _new_solver(replace(run, plan=narrowed), steering.aim, None, bias_hint,
                                 e_per_adu)
            step = _observe(solver, steering, shot.exposure_s, stats, shot.shot_signal_native)
            fit = solver.fit()
        if step.verdict is Verdict.ACCEPT:
            measured = fit.bias_native if fit is not None and fit.fitted else bias_hint
            yield from accept_shot(run, shot, tests, key,
                                   fit.bias_native if fit else bias_hint, measured)
            return shot
        next_s: float | None = None
        between = False
        if step.verdict is Verdict.NEXT:
            aim = steering.aim
            choice = (choose_from_list(fit, choices, aim.target_native, aim.tolerance_native,
                                       steering.ceiling_native)
                      if fit is not None else None)
            if choice is None:
                next_s = _neighbour(choices, shot.exposure_s, step.exposure_s)
            elif math.isclose(choice.exposure_s, shot.exposure_s, rel_tol=1e-9):
                between = True
            else:
                next_s = choice.exposure_s
        if between and not settle:
            return shot
        if between:
            yield from _settle(run, shot, tests, key, fit, bias_hint, choices)
            return shot
        tests += 1
        run.record.add_test_exposure(shot.exposure_s, stats.mean_native, stats.mean_16bit,
                                     section=run.section,
                                     **channels_entry(stats.channel_means_16bit))
        yield _test_event(run, tests, shot, next_s, step.reason, fit)
        if next_s is None:
            raise SessionFailure(step.reason)
        exposure_s = next_s


def _neighbour(choices: tuple[float, ...], taken_s: float, wanted_s: float) -> float:
    """The nearest listed exposure to ``wanted_s``, never ``taken_s`` again."""
    nearest = nearest_choice(choices, wanted_s)
    if not math.isclose(nearest, taken_s, rel_tol=1e-9):
        return nearest
    index = min(range(len(choices)), key=lambda i: abs(choices[i] - taken_s))
    index += 1 if wanted_s > taken_s else -1
    return choices[min(max(index, 0), len(choices) - 1)]


def level_miss_text(run: FilterRun, level_native: float) -> tuple[float, str]:
    """(relative miss of the signal, the level as a share of full scale, as text)."""
    aim = run.steering.aim
    info = run.camera.info
    black = known_bias(run) or 0.0
    miss = (level_native - aim.target_native) / max(aim.target_native - black, 1e-9)
    full = info.white_level if info.white_level is not None else run.scale.full_scale_native
    share = (level_native - (info.black_level or 0.0)) / (full - (info.black_level or 0.0))
    return miss, f"{share:.1%} of full scale"


def _settle(run: FilterRun, shot: Shot, tests: int, key: HistoryKey, fit: LinearFit | None,
            bias_hint: float | None, choices: tuple[float, ...]) -> Procedure:
    """Flats at the nearest speed when the target falls between two: warn, re-aim."""
    aim = run.steering.aim
    level = Steering.level_of(shot.stats, aim).mean_native
    miss, share = level_miss_text(run, level)
    index = choices.index(min(choices, key=lambda c: abs(c - shot.exposure_s)))
    other = choices[index + (1 if miss < 0 else -1)] if 0 < index + (
        1 if miss < 0 else -1) < len(choices) else None
    side = (f"between {speed_text(min(shot.exposure_s, other))} and "
            f"{speed_text(max(shot.exposure_s, other))}" if other is not None
            else "beyond the camera's speeds")
    wider = math.ceil(abs(miss) * 100 + 1)
    message = (
        f"the target falls {side}: flats are taken at the nearest speed, "
        f"{speed_text(shot.exposure_s)}, where the level is {level:.0f} ADU ({share}), "
        f"{miss:+.1%} from the target {aim.target_native:.0f} ADU; to hit the target use a "
        "dimmable panel (--panel ... --brightness auto), dim or brighten the light, or "
        f"change ISO; or accept it with --tolerance {wider}")
    yield run.warn(message)
    run.record.update_section(run.section, level_miss={
        "exposure_s": shot.exposure_s, "level_native": round(level, 3),
        "target_native": round(aim.target_native, 3), "miss": round(miss, 4)})
    # The flats are kept around the level reached, with the same tolerance.
    run.steering.aim = Aim(aim.channel, level, aim.tolerance_native)
    measured = fit.bias_native if fit is not None and fit.fitted else bias_hint
    yield from accept_shot(run, shot, tests, key, fit.bias_native if fit else bias_hint,
                           measured)

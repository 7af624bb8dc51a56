"""Sky flats at dusk or dawn: every frame's exposure predicted from a model of the sky.

The twilight sky halves (dusk) or doubles (dawn) every few minutes, so the exposure
that was right for one frame is wrong for the next. Instead of reacting after each
frame (Ekos) or following a fixed recurrence (N.I.N.A., after Tyson & Gal), each
frame's exposure is chosen so that the light *integrated* over it hits the target,
from :class:`app.sky_model.TwilightModel` (exponential in time, or in the sun's
altitude when the site is known), refitted after every frame from what it measured
(measured / predicted), with the frame's start predicted from the last one plus the
measured gap (readout and overheads) and any wait.

- Limits: a flat shorter than the shortest allowed exposure or longer than the
  longest ends that filter (dawn: the sky is too bright; dusk: too dark).
- Waiting: at dusk a sky still too bright for the shortest exposure is waited for
  (a countdown from the model), likewise a dawn sky still too dark for the longest.
  Frames taken only to measure the sky while waiting (probes, possibly shorter than
  the shortest flat) are never kept.
- Filters: ordered by throughput so the twilight is used well (dusk: least
  sensitive first, while the sky is bright; dawn: most sensitive first), throughput
  from the wheel's table when known, else guessed from the names (narrowband <
  colour < luminance); a filter that is done or out of sky hands over to the next,
  whose first exposure the model predicts from the throughput ratio. When the
  twilight is too short for every filter's count (windows that overlap, a slow
  readout), the filters share it: each takes a common cap that maximises the fewest
  flats any filter gets, played forward on the model (:class:`_Planner`).
- session.json: every frame's predicted and measured level in ``sky_frames`` and
  the model in ``sky_model`` (the filter's section, or the top level for one filter).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from app.actions import Expose, FrameKind, MoveFilter, Procedure, SaveFrame, SessionFailure, Shot
from app.actions import Wait as WaitAction
from app.events import FlatCaptured, FlatRejected, Notice, Phase, Progress
from app.procedures.context import FilterRun
from app.sky_model import (
    Site,
    TwilightModel,
    collected_per_rate,
    pair_sample,
    pair_signal_native,
)
from app.solver import SATURATED_FRACTION
from app.stats import histogram, preview

#: below this signal (share of full scale) a frame says too little about the sky
MIN_MEASURABLE_SHARE = 0.01
#: a probe too dim (or clipped) grows (shrinks) by this factor
PROBE_STEP = 10.0
#: a wait is taken in steps of at most this many seconds (a countdown between)
WAIT_STEP_S = 30.0
#: aim this far inside the exposure limits when a wait ends
INSIDE_LIMITS = 1.03
#: a wait longer than this with the trend not yet measured is split by a probe
PROBE_WAIT_S = 60.0
#: the trend counts as measured once frames span this many seconds
TREND_SPAN_S = 20.0
#: below this signal (share of full scale) one frame's shot noise gives the bias
LOW_SIGNAL_SHARE = 0.15
#: the bias is the mean of this many pair estimates (photon transfer)
BIAS_PAIRS = 6
#: throughput guessed from a filter's name (only the order and a first frame use it)
_NARROWBAND = ("ha", "h-a", "halpha", "oiii", "o3", "sii", "s2", "nii", "hb", "nb")


@dataclass(frozen=True, slots=True)
class SkyPlan:
    """What a sky-flats job does."""

    dusk: bool
    #: filters as asked (wheel order); (None,) = one filter without a wheel
    filters: tuple[str | None, ...]
    #: relative throughput by filter name (the simulated wheel's table), None = guess
    throughput: Mapping[str, float] | None = None
    site: Site | None = None
    #: the longest wait for the sky per filter, s
    max_wait_s: float = 2 * 3600.0


@dataclass(slots=True)
class SkyOutcome:
    """How one filter went."""

    name: str | None
    flats: int
    wanted: int
    exposure_s: float | None
    reason: str | None = None


def guess_throughput(name: str) -> float:
    """A rough relative throughput from a filter's name."""
    key = name.strip().casefold()
    if any(key.startswith(n) for n in _NARROWBAND):
        return 0.012
    if key in ("l", "lum", "luminance", "clear", "c", "uv/ir", "uvir", "none", "", "sky"):
        return 1.0
    return 0.33


def order_filters(plan: SkyPlan) -> tuple[str | None, ...]:
    """Dusk: least sensitive first; dawn: most sensitive first (stable for ties)."""
    if len(plan.filters) <= 1:
        return plan.filters
    table = {k.casefold(): v for k, v in (plan.throughput or {}).items()}

    def throughput(name: str | None) -> float:
        key = (name or "").casefold()
        return table.get(key, guess_throughput(key))

    return tuple(sorted(plan.filters, key=throughput, reverse=not plan.dusk))


@dataclass(slots=True)
class _Timeline:
    """When the next frame will start, from the last one and the measured gaps."""

    default_gap_s: float
    last_start: datetime | None = None
    last_exposure_s: float = 0.0
    pending_s: float = 0.0
    moved: bool = False
    gaps: list[float] = field(default_factory=list)
    move_extra: list[float] = field(default_factory=list)

    def gap_s(self) -> float:
        """The usual gap between frames (readout, saving, polling)."""
        recent = sorted(self.gaps[-8:])
        return recent[len(recent) // 2] if recent else self.default_gap_s

    def next_start(self) -> datetime | None:
        """The predicted start of the next exposure."""
        if self.last_start is None:
            return None
        extra = self.pending_s + (self.move_extra[-1] if self.moved and self.move_extra
                                  else 0.0)
        return self.last_start + timedelta(
            seconds=self.last_exposure_s + self.gap_s() + extra)

    def shot(self, shot: Shot) -> None:
        """Measure the gap from the last frame's end to this frame's start."""
        if self.last_start is not None:
            gap = (shot.start_utc - self.last_start).total_seconds() - self.last_exposure_s
            gap -= self.pending_s
            if self.moved:
                self.move_extra.append(max(gap - self.gap_s(), 0.0))
            elif gap >= 0:
                self.gaps.append(gap)
        self.last_start, self.last_exposure_s = shot.start_utc, shot.exposure_s
        self.pending_s, self.moved = 0.0, False


def sky_sequence(plan: SkyPlan, count: int,
                 filter_run: Callable[[str | None], FilterRun]) -> Procedure:
    """Take ``count`` sky flats per filter; returns the outcomes (raises when short)."""
    order = order_filters(plan)
    table = {k.casefold(): v for k, v in (plan.throughput or {}).items()}
    keys = {name: _key(name) for name in order}
    throughput = {keys[n]: table.get(keys[n], guess_throughput(keys[n])) for n in order}
    model = TwilightModel(dusk=plan.dusk, site=plan.site, throughput=throughput)
    timeline: _Timeline | None = None
    outcomes: list[SkyOutcome] = []
    if len(order) > 1:
        source = "the wheel's table" if plan.throughput else "guessed from their names"
        yield Notice(f"{'dusk' if plan.dusk else 'dawn'} sky flats, filters in the order "
                     f"{', '.join(str(n) for n in order)} (throughput {source})")
    for name in order:
        run = filter_run(name)
        if timeline is None:
            timeline = _Timeline(run.camera.readout_s + 0.05)
            if run.settings.bias_hint_native is not None:
                model.bias_native = run.settings.bias_hint_native
        run.record.update_section(run.section, status="running")
        if name is not None:
            yield Notice(f"filter {name}")
            yield MoveFilter(name)
            timeline.moved = True
        later = [keys[n] for n in order[order.index(name) + 1:]]
        planner = _Planner(model, later, plan, run, timeline) if later else None
        outcome = yield from _filter_flats(run, keys[name], plan, count, model, timeline,
                                           planner)
        outcome.name = name
        outcomes.append(outcome)
        status = "completed" if outcome.reason is None else "out of sky"
        run.record.update_section(run.section, status=status, error=outcome.reason,
                                  exposure_s=outcome.exposure_s)
        if outcome.reason is not None:
            yield run.warn(f"{name or 'sky flats'}: {outcome.flats} of {count} flats; "
                           f"{outcome.reason}")
    short = [o for o in outcomes if o.reason is not None]
    if short:
        raise SessionFailure("; ".join(
            f"{o.name + ': ' if o.name else ''}{o.flats} of {o.wanted} flats, {o.reason}"
            for o in short))
    yield Notice(SKY_CALIBRATION)
    return outcomes


#: sky flats' exposures change every frame: no set of dark flats matches them
SKY_CALIBRATION = ("calibrate these flats with a master bias at the same gain and offset: "
                   "their exposure changed every frame, so dark flats cannot match them")


def _key(name: str | None) -> str:
    return (name or "sky").casefold()


@dataclass(slots=True)
class _Planner:
    """How many flats the current filter should take so that the later ones get as many.

    When the twilight is too short for ``count`` flats of every filter (their windows
    overlap: three narrowband filters at dusk), the filters share it: a common cap
    that maximises the smallest number of flats any filter gets, found by playing the
    rest of the twilight forward on the model (exposures, gaps, waits, moves).
    """

    model: TwilightModel
    later: list[str]
    plan: SkyPlan
    run: FilterRun
    timeline: _Timeline

    def cap(self, key: str, start: datetime, count: int, done: int) -> int:
        """The flats ``key`` should end with (at most ``count``)."""
        keys = [key, *self.later]
        if not all(self.model.knows(k) for k in keys):
            return count
        best_cap, best_min = count, -1
        for cap in range(count, done - 1, -1):
            got = self._play(keys, start, cap, done)
            if min(got) > best_min:
                best_cap, best_min = cap, min(got)
            if best_min >= cap:
                break  # nobody does better with a lower cap
        return max(best_cap, done)

    def _play(self, keys: list[str], start: datetime, cap: int, done: int) -> list[int]:
        model, e_min, e_max = self.model, self.run.plan.min_exposure_s, self.run.plan.max_exposure_s
        wanted = self.run.steering.aim.target_native - model.bias_native
        gap = self.timeline.gap_s()
        move = self.timeline.move_extra[-1] if self.timeline.move_extra else gap
        t, got = start, []
        for index, key in enumerate(keys):
            n = done if index == 0 else 0
            if index:
                t += timedelta(seconds=move)
            waited = 0.0
            while n < cap:
                e = model.exposure(key, t, wanted)
                if e is None:
                    break
                if e_min <= e <= e_max:
                    t += timedelta(seconds=e + gap)
                    n += 1
                    continue
                if (e < e_min) != self.plan.dusk:
                    break  # out of sky for good
                limit = e_min * INSIDE_LIMITS if e < e_min else e_max / INSIDE_LIMITS
                rate = wanted / collected_per_rate(model.kappa(t), limit)
                seconds = model.seconds_until_rate(key, t, rate)
                if seconds is None or waited + seconds > self.plan.max_wait_s:
                    break
                waited += max(seconds, 1.0)
                t += timedelta(seconds=max(seconds, 1.0))
            got.append(n)
        return got


def _filter_flats(run: FilterRun, key: str, plan: SkyPlan, count: int,
                  model: TwilightModel, timeline: _Timeline,
                  planner: _Planner | None = None) -> Procedure:
    """One filter's flats; returns its :class:`SkyOutcome`."""
    e_min, e_max = run.plan.min_exposure_s, run.plan.max_exposure_s
    camera_min = run.camera.controls.exposure_s.minimum
    aim = run.steering.aim
    target, tolerance = aim.target_native, aim.tolerance_native
    full = run.scale.full_scale_native
    bayer = run.camera.info.bayer_pattern
    label = run.filter_name or "flats"
    saved = run.done_before
    frames: list[dict[str, object]] = []
    probe_s: float | None = None
    waited_s = 0.0
    last_exposure: float | None = None
    e_per_adu = run.camera.reported_e_per_adu()
    bias_known = (run.settings.bias_hint_native is not None
                  or len(model.bias_pairs) >= BIAS_PAIRS)
    previous: tuple[object, float, float] | None = None  # (sample, mean, exposure)
    cap: int | None = None
    while saved < (count if cap is None else cap):
        start = timeline.next_start()
        if planner is not None and cap is None and saved > run.done_before and start:
            cap = planner.cap(key, start, count, saved)  # the model knows this filter now
            if cap < count:
                yield Notice(f"the twilight is too short for {count} flats of every filter: "
                             f"{label} takes {cap} so the filters after it get as many")
        wanted = target - model.bias_native
        predicted: float | None = None
        exposure = None
        if probe_s is None and start is not None and model.knows(key):
            exposure = model.exposure(key, start, wanted)
        if exposure is None:  # nothing known of this filter yet: measure first
            exposure = probe_s if probe_s is not None else e_min
            is_probe = True
        else:
            is_probe = False
            too_bright, too_dark = exposure < e_min, exposure > e_max
            if (too_bright and not plan.dusk) or (too_dark and plan.dusk):
                need = f"{exposure:.3g} s" if math.isfinite(exposure) else "more than any"
                limit = "shortest" if too_bright else "longest"
                what = "bright" if too_bright else "dark"
                return SkyOutcome(None, saved - run.done_before, count, last_exposure,
                                  f"the sky is too {what}: flats would need {need} "
                                  f"(the {limit} allowed is "
                                  f"{e_min if too_bright else e_max:g} s)")
            if too_bright or too_dark:
                limit_s = e_min * INSIDE_LIMITS if too_bright else e_max / INSIDE_LIMITS
                assert start is not None
                kappa = model.kappa(start)
                seconds = model.seconds_until_rate(
                    key, start, wanted / collected_per_rate(kappa, limit_s))
                # never a zero wait (no busy loop), never beyond the model's reach
                seconds = PROBE_WAIT_S if seconds is None else max(seconds, 1.0)
                if not _trend_measured(model) and seconds > PROBE_WAIT_S:
                    last = model.points[-1].start if model.points else start
                    if (start - last).total_seconds() > TREND_SPAN_S:
                        # a frame to measure the trend (not a flat): the wait is then exact
                        exposure = min(max(exposure, camera_min), e_max)
                        is_probe = True
                    else:
                        seconds /= 2
                if not is_probe:
                    if waited_s + seconds > plan.max_wait_s:
                        what = "bright" if too_bright else "dark"
                        return SkyOutcome(None, saved - run.done_before, count,
                                          last_exposure,
                                          f"the sky stays too {what} for "
                                          f"{plan.max_wait_s / 60:.0f} min more")
                    waited_s += seconds
                    why = (f"the sky is still too {'bright' if too_bright else 'dark'} "
                           f"for {label} (flats would need {exposure:.3g} s)")
                    yield from _wait(seconds, why, saved, count)
                    timeline.pending_s += seconds
                    continue
            if not is_probe:
                signal = model.signal(key, start, exposure) if start is not None else None
                predicted = model.bias_native + signal if signal is not None else None
        yield Progress(Phase.CAPTURING, saved, count, 0.0,
                       (count - saved) * (exposure + timeline.gap_s()))
        shot: Shot = yield Expose(exposure, shot_signal=not bias_known and e_per_adu is not None)
        timeline.shot(shot)
        last_level = run.steering.level(shot.stats)
        level = last_level.mean_native
        clipped = last_level.clipped_fraction > SATURATED_FRACTION
        one_frame = shot.shot_signal_native
        if (not bias_known and one_frame is not None and not clipped and not model.bias_pairs
                and 0 < one_frame < LOW_SIGNAL_SHARE * full):
            # a dim frame: its own shot noise gives the bias (PRNU adds little there)
            model.bias_native = max(shot.stats.mean_native - one_frame, 0.0)
            model.refit()
        if not bias_known and e_per_adu and not clipped:
            previous = yield from _bias_from_pair(run, model, shot, previous, e_per_adu)
            bias_known = len(model.bias_pairs) >= BIAS_PAIRS
        measurable = not clipped and level - model.bias_native >= MIN_MEASURABLE_SHARE * full
        if measurable:
            had_site = model.site is not None
            model.add(key, shot.start_utc, shot.exposure_s, level,
                      probe=is_probe or abs(level - target) > 0.3 * target)
            if had_site and model.site_rejected is not None:
                yield run.warn(model.site_rejected)
            probe_s = None
        else:
            probe_s = _next_probe(shot.exposure_s, clipped, camera_min, e_max)
        flat_ok = e_min * (1 - 1e-9) <= shot.exposure_s <= e_max * (1 + 1e-9)
        kept = not clipped and abs(level - target) <= tolerance and flat_ok
        origin = model.origin or shot.start_utc
        frames.append({
            "t_s": round((shot.start_utc - origin).total_seconds(), 3),
            "start_utc": shot.start_utc.isoformat(),
            "exposure_s": shot.exposure_s,
            "predicted_native": None if predicted is None else round(predicted, 3),
            "measured_native": round(level, 3),
            "kept": kept,
            **({"probe": True} if is_probe else {}),
            **({"clipped": True} if clipped else {}),
        })
        run.record.update_section(run.section, sky_frames=frames,
                                  sky_model=model.parameters(shot.start_utc))
        if kept:
            saved += 1
            last_exposure = shot.exposure_s
            run.exposure_s = shot.exposure_s
            yield FlatCaptured(saved, count, shot.exposure_s, shot.stats,
                               histogram(shot.frame, bayer), preview(shot.frame, bayer))
            yield SaveFrame(shot, FrameKind.FLAT, saved, run.filter_name, run.section,
                            run.subdir)
            continue
        run.record.count_rejected_flat(run.section)
        why = ("a probe of the sky" if is_probe else
               f"predicted {predicted:.1f}" if predicted is not None else "not predicted")
        yield FlatRejected(shot.exposure_s, shot.stats,
                           f"mean {level:.1f} ADU ({'clipped, ' if clipped else ''}{why}; "
                           f"target {target:.1f} ± {tolerance:.1f})")
        if not measurable:
            at_limit = (shot.exposure_s <= camera_min * (1 + 1e-9) if clipped
                        else shot.exposure_s >= e_max * (1 - 1e-9))
            if at_limit:
                if clipped and not plan.dusk:
                    return SkyOutcome(None, saved - run.done_before, count, last_exposure,
                                      "the sky is too bright: clipped even at the "
                                      f"shortest exposure {camera_min:g} s")
                if not clipped and plan.dusk:
                    return SkyOutcome(None, saved - run.done_before, count, last_exposure,
                                      f"the sky is too dark: under {MIN_MEASURABLE_SHARE:.0%}"
                                      f" of full scale even at {e_max:g} s")
                seconds = math.log(PROBE_STEP) / abs(model.kappa(shot.start_utc))
                if waited_s + seconds > plan.max_wait_s:
                    return SkyOutcome(None, saved - run.done_before, count, last_exposure,
                                      "the sky did not come into range in "
                                      f"{plan.max_wait_s / 60:.0f} min")
                waited_s += seconds
                yield from _wait(seconds, f"the sky is out of range for {label}", saved, count)
                timeline.pending_s += seconds
    reason = (None if cap is None or cap >= count else
              f"the twilight is too short for {count} flats of every filter (shared)")
    return SkyOutcome(None, saved - run.done_before, count, last_exposure, reason)


def _bias_from_pair(run: FilterRun, model: TwilightModel, shot: Shot,
                    previous: tuple[object, float, float] | None, e_per_adu: float
                    ) -> Procedure:
    """Measure the bias from two frames of nearly the same level (photon transfer)."""
    mean = shot.stats.mean_native
    sample = pair_sample(shot.frame, run.scale.shift)
    if previous is not None:
        before, before_mean, before_s = previous
        if (abs(mean / before_mean - 1) < 0.1 and abs(shot.exposure_s / before_s - 1) < 0.1
                and mean > 0.05 * run.scale.full_scale_native):
            signal = pair_signal_native(sample, before, e_per_adu)  # type: ignore[arg-type]
            bias = (mean + before_mean) / 2 - signal
            if -0.1 * mean < bias < 0.5 * mean:
                model.add_bias_estimate(max(bias, 0.0))
                if len(model.bias_pairs) == BIAS_PAIRS:
                    yield Notice(f"bias {model.bias_native:.1f} ADU (photon transfer on "
                                 f"{BIAS_PAIRS} pairs of frames)")
    return (sample, mean, shot.exposure_s)


def _trend_measured(model: TwilightModel) -> bool:
    if len(model.points) < 2:
        return False
    span = (model.points[-1].start - model.points[0].start).total_seconds()
    return span >= TREND_SPAN_S


def _next_probe(exposure_s: float, clipped: bool, shortest_s: float, longest_s: float
                ) -> float:
    if clipped:
        return max(exposure_s / PROBE_STEP, shortest_s)
    return min(exposure_s * PROBE_STEP, longest_s)


def _wait(seconds: float, why: str, done: int, total: int) -> Procedure:
    """Wait on the camera's clock with a countdown (Notice each minute, Progress each step)."""
    yield Notice(f"{why}: waiting {_duration(seconds)} (from the sky model)")
    left = seconds
    while left > 0:
        step = min(WAIT_STEP_S, left)
        yield Progress(Phase.CAPTURING, done, total, 0.0, left)
        yield WaitAction(step, why)
        before, left = left, left - step
        if left > 0 and int(before // 60) != int(left // 60):
            yield Notice(f"waiting for the sky: {_duration(left)} left")


def _duration(seconds: float) -> str:
    minutes, secs = divmod(round(seconds), 60)
    return f"{minutes} min {secs:02d} s" if minutes else f"{secs} s"

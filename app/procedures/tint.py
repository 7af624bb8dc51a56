"""The tint: a colour camera's R, G and B brought together by the panel's colour.

A tintable panel (the computer's screen) multiplies its white level per colour. Once
the brightness and exposure are found, a frame's R, G and B means above the bias the
search measured say how far apart the channels are; :func:`balanced_tint` gives the
multipliers that bring them together (the weakest channel's light stays, the others
are dimmed; the largest multiplier is 1). The frame is taken again at the same
exposure and the step repeated until the channels agree within 1 % (at most
``MAX_TINT_STEPS`` steps). The light the exposure was solved for has then gone down,
so the caller re-solves the exposure once.

A channel the light cannot reach (no signal above the bias, or so little that
balancing would dim the others more than ``REACH_MIN`` allows) is a warning: the
flats are taken with the tint as it is.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from app.actions import Expose, Procedure, SetTint, Shot
from app.events import Notice
from app.procedures.context import FilterRun
from app.procedures.search import known_bias
from app.record import channels_entry
from app.solver import SATURATED_FRACTION
from app.steering import Steering
from drivers.screen_panel import TINT_MIN, balanced_tint

#: the channels agree when the strongest signal is within this share of the weakest
TINT_TOLERANCE = 0.01
#: tint changes (each one frame) before the balance is given up
MAX_TINT_STEPS = 4
#: a channel below this share of the strongest is out of the light's reach: balancing
#: it would throw away more than 1 / REACH_MIN of the light
REACH_MIN = 0.1
#: the screen's light law for the step (err high: too high converges, too low diverges)
TINT_GAMMA = 2.4
WHITE = (1.0, 1.0, 1.0)


@dataclass(frozen=True, slots=True)
class TintOutcome:
    """How the balance went: the last shot, the tint applied, the channels' spread."""

    shot: Shot
    tint: tuple[float, float, float]
    spread: float
    balanced: bool
    changed: bool


def channel_signals(means: Mapping[str, float], bias: float) -> tuple[float, float, float]:
    """The R, G and B means above ``bias``."""
    r, g, b = (means[c] - bias for c in "RGB")
    return (r, g, b)


def spread(signals: tuple[float, float, float]) -> float:
    """How far apart the channels are: strongest ÷ weakest - 1 (inf without signal)."""
    weakest = min(signals)
    return max(signals) / weakest - 1 if weakest > 0 else float("inf")


def tint_text(tint: tuple[float, float, float]) -> str:
    """A tint in a few characters: 'r 1 g 0.58 b 1'."""
    return " ".join(f"{c} {t:.3g}" for c, t in zip("rgb", tint, strict=True))


def balance_tint(run: FilterRun, shot: Shot, tint: tuple[float, float, float]) -> Procedure:
    """Tint steps at ``shot``'s exposure until R, G and B agree; returns a TintOutcome."""
    bias = run.bias_native if run.bias_native is not None else known_bias(run) or 0.0
    name = run.filter_name or "this filter"
    changed = False
    for step in range(MAX_TINT_STEPS + 1):
        means = shot.stats.channel_means_native
        signals = channel_signals(means, bias)
        apart = spread(signals)
        if apart <= TINT_TOLERANCE:
            return TintOutcome(shot, tint, apart, True, changed)
        strongest = max(signals)
        weakest_index = min(range(3), key=lambda i: signals[i])
        if signals[weakest_index] <= REACH_MIN * strongest:
            share = max(signals[weakest_index], 0.0) / strongest
            colour = "RGB"[weakest_index]
            yield run.warn(
                f"{name}: the light hardly reaches {colour} ({share:.1%} of the strongest "
                f"channel); the tint cannot balance it, flats taken with tint "
                f"{tint_text(tint)} (R, G, B {apart:.0%} apart)")
            return TintOutcome(shot, tint, apart, False, changed)
        if step == MAX_TINT_STEPS:
            break
        wanted = balanced_tint(tint, means, bias, gamma=TINT_GAMMA)
        if wanted == tint:
            break  # at the panel's limit: no step left
        applied = yield SetTint(*wanted)
        tint = (float(applied[0]), float(applied[1]), float(applied[2]))
        changed = True
        yield Notice(f"tint {tint_text(tint)}: R, G, B were {apart:.1%} apart")
        shot = yield Expose(shot.exposure_s)
        run.record.add_test_exposure(shot.exposure_s, shot.stats.mean_native,
                                     shot.stats.mean_16bit, section=run.section,
                                     tint=[round(t, 4) for t in tint],
                                     **channels_entry(shot.stats.channel_means_16bit))
    yield run.warn(f"{name}: the tint did not bring R, G and B within {TINT_TOLERANCE:.0%} "
                   f"in {MAX_TINT_STEPS} steps ({apart:.1%} apart); flats taken with tint "
                   f"{tint_text(tint)}")
    return TintOutcome(shot, tint, apart, False, changed)


def normalised(tint: tuple[float, float, float]) -> tuple[float, float, float]:
    """A tint as SetTint takes it: the largest multiplier 1, none below one 8-bit step."""
    top = max(tint)
    if not top > 0:
        return WHITE
    r, g, b = (min(1.0, max(TINT_MIN, t / top)) for t in tint)
    return (r, g, b)


def tint_flats(run: FilterRun, shot: Shot, level: int | None,
               tint: tuple[float, float, float],
               resolve: Callable[[int | None], Procedure]) -> Procedure:
    """Balance the tint after the search, re-solve once if the level moved.

    ``resolve(level)`` searches again (the brightness mode, or the exposure alone) and
    returns (accepted shot, level). Returns (accepted shot, level, tint); the tint is
    recorded in the filter's section.
    """
    outcome = yield from balance_tint(run, shot, tint)
    shot, tint, apart, balanced = outcome.shot, outcome.tint, outcome.spread, outcome.balanced
    aim = run.steering.aim
    seen = Steering.level_of(shot.stats, aim)
    off_target = (abs(seen.mean_native - aim.target_native) > aim.tolerance_native
                  or seen.clipped_fraction > SATURATED_FRACTION)
    if outcome.changed and off_target:
        bias = run.bias_native or 0.0
        signal = seen.mean_native - bias
        if signal > 0 and seen.clipped_fraction <= SATURATED_FRACTION:
            run.first_exposure_s = shot.exposure_s * (aim.target_native - bias) / signal
        run.bias_hint_native = run.bias_native
        yield Notice(f"the tint moved the level to {seen.mean_native:.0f} ADU: solving "
                     "the exposure again")
        shot, level = yield from resolve(level)
        apart = spread(channel_signals(shot.stats.channel_means_native,
                                       run.bias_native or 0.0))
        if balanced and apart > 2 * TINT_TOLERANCE:
            balanced = False
            yield run.warn(f"{run.filter_name or 'this filter'}: R, G and B drifted "
                           f"{apart:.1%} apart after the exposure was solved again (an "
                           "unsteady light?); flats taken with tint " + tint_text(tint))
    run.record.update_section(run.section, tint=[round(t, 4) for t in tint],
                              tint_spread=round(apart, 4), tint_balanced=balanced)
    return shot, level, tint

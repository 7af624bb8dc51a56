"""Telling a drifting light from a noisy one, while flats are taken.

A panel's light wobbles from frame to frame (a few % is common) and drifts as it
warms, or as the sky darkens. A flat out of tolerance is always dropped (no flat off
target is kept), but the exposure is changed only for a persistent trend: the mean
of the last few flats off target in one direction, or a single flat so far off that
chance cannot explain it. Re-solving on every outlier would turn jitter into a
random walk of the exposure and drop far more flats than chance predicts.
"""

from __future__ import annotations

import itertools
from collections import deque
from dataclasses import dataclass

#: flats whose levels are averaged to see a trend
WINDOW = 3
#: a window of flats all off target by this share of the tolerance, on one side, is a trend
TREND_SHARE = 0.5
#: a single flat off target by this many tolerances is a change, not jitter
JUMP_TOLERANCES = 3.0


@dataclass(frozen=True, slots=True)
class Decision:
    """Keep the flat or not; ``resolve_from``: the level to re-solve the exposure from."""

    keep: bool
    resolve_from: float | None = None


class LevelTracker:
    """Flat levels at one exposure; :meth:`reset` after the exposure changes."""

    def __init__(self, target_native: float, tolerance_native: float) -> None:
        self.target_native = target_native
        self.tolerance_native = tolerance_native
        self._levels: deque[float] = deque(maxlen=WINDOW)

    def reset(self) -> None:
        """Forget the levels (the exposure changed)."""
        self._levels.clear()

    def add(self, level_native: float, clipped: bool = False) -> Decision:
        """Take in one flat's level and decide.

        Flats inside the tolerance are kept and never move the exposure (all flats of
        a steady light share one exposure, so one set of dark flats matches them).
        """
        self._levels.append(level_native)
        error = level_native - self.target_native
        if not clipped and abs(error) <= self.tolerance_native:
            return Decision(True)
        if clipped or abs(error) > JUMP_TOLERANCES * self.tolerance_native:
            return Decision(False, level_native)
        if len(self._levels) == WINDOW:
            levels = list(self._levels)
            errors = [level - self.target_native for level in levels]
            mean_error = sum(errors) / WINDOW
            bound = TREND_SHARE * self.tolerance_native
            one_side = all(e > bound for e in errors) or all(e < -bound for e in errors)
            if one_side:
                steps = [b - a for a, b in itertools.pairwise(levels)]
                drifting = all(d * error > 0 for d in steps)
                # A drift keeps going: follow it from the newest level; otherwise the
                # window's mean is the less noisy estimate.
                return Decision(False, level_native if drifting
                                else self.target_native + mean_error)
        return Decision(False)

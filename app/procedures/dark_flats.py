"""Dark flats: M darks at every distinct flat exposure, with no light on the sensor.

First the light goes off (app.procedures.lighting); the first dark at the longest
exposure is checked to really be dark (its mean near the bias the searches
measured, or a shortest-exposure frame's mean): otherwise the run stops with
"light leak" rather than writing darks that would ruin the calibration. Darks are
reused across filters that share an exposure; their EXPTIME is the flats' exposure
as the camera applied it.
"""

from __future__ import annotations

from collections.abc import Sequence

from app.actions import Expose, FrameKind, Procedure, SaveFrame, SessionFailure, Shot
from app.events import Notice, Phase, Progress
from app.procedures.lighting import darken
from app.record import DARK_SECTION
from app.rig import PanelFacts

#: a dark frame brighter than the bias by this share of the flats' signal leaks light
LEAK_SHARE = 0.02
#: ...or by this many native ADU, whichever is larger (dark current, bias wander)
LEAK_MIN_ADU = 2.0
SUBDIR = "darkflats"


def distinct_exposures(exposures: Sequence[float]) -> list[float]:
    """The flat exposures, each once (equal to 1e-9 relative), longest first."""
    kept: list[float] = []
    for exposure in sorted(exposures, reverse=True):
        if not any(abs(exposure - k) <= 1e-9 * k for k in kept):
            kept.append(exposure)
    return kept


def dark_flats(panel: PanelFacts | None, exposures: Sequence[float], count: int, *,
               bias_native: float | None, flat_level_native: float,
               min_exposure_s: float, already: Sequence[float] = ()) -> Procedure:
    """Take ``count`` darks at each of ``exposures`` (less those ``already`` taken at it);
    returns how many were saved."""
    def missing(exposure_s: float) -> int:
        return count - sum(1 for t in already if abs(t - exposure_s) <= 1e-9 * exposure_s)

    times = [t for t in distinct_exposures(exposures) if missing(t) > 0]
    if not times or count <= 0:
        return 0
    yield Notice(f"dark flats: {count} at each of {', '.join(f'{t:.4g} s' for t in times)}")
    yield from darken(panel)
    if bias_native is None:
        reference: Shot = yield Expose(min_exposure_s)
        bias_native = reference.stats.mean_native
    index = len(already)
    every_s = [t for t in times for _ in range(missing(t))]
    total = index + len(every_s)
    for number, exposure_s in enumerate(every_s):
        yield Progress(Phase.CAPTURING, index, total, 0.0, None)
        # The next dark exposes while this one is checked and saved.
        following = every_s[number + 1] if number + 1 < len(every_s) else None
        shot: Shot = yield Expose(exposure_s, next_exposure_s=following)
        if index == len(already):
            _check_dark(shot, bias_native, flat_level_native)
        index += 1
        yield SaveFrame(shot, FrameKind.DARK, index, "", DARK_SECTION, SUBDIR)
    return index


def _check_dark(shot: Shot, bias_native: float, flat_level_native: float) -> None:
    excess = shot.stats.mean_native - bias_native
    allowed = max(LEAK_SHARE * max(flat_level_native - bias_native, 0.0), LEAK_MIN_ADU)
    if excess > allowed:
        raise SessionFailure(
            f"light leak: a dark frame of {shot.exposure_s:.4g} s reads "
            f"{shot.stats.mean_native:.1f} ADU, {excess:.1f} ADU above the bias "
            f"{bias_native:.1f} ADU; make sure the panel is off and the scope covered "
            "(cap it, close the cover), then take the dark flats again")

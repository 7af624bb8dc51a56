"""Which mean the exposure search steers: the whole frame, or the brightest CFA channel.

A colour sensor under a tinted light (a warm panel, narrowband filters) can put one
channel far above the others: the whole-frame mean lands on target while that
channel clips or leaves the linear range, and the flat is ruined for it. The search
therefore steers the whole-frame mean only while the brightest channel stays below
the linear ceiling at the target; as soon as a frame shows (or predicts) otherwise,
it steers the brightest channel to just under the ceiling instead. ``per_channel``
steers the brightest channel at the target from the first frame.

The solver sees one level per frame either way: the steered mean and the worst
channel's clipped share, so no channel may clip in an accepted flat.
"""

from __future__ import annotations

from dataclasses import dataclass

from app import defaults
from app.stats import FrameStats

#: a frame with more than this share clipped says nothing of its channels' levels
MOSTLY_CLIPPED = 0.5
#: a channel clipping below the ADC maximum (its full well) is aimed this far below it
CLIP_MARGIN = 0.9


@dataclass(frozen=True, slots=True)
class Level:
    """What the solver sees of one frame."""

    mean_native: float
    clipped_fraction: float


@dataclass(frozen=True, slots=True)
class Aim:
    """The steered mean and its target: ``channel`` None = the whole frame."""

    channel: str | None
    target_native: float
    tolerance_native: float


def worst_clipped(stats: FrameStats) -> float:
    """The largest clipped share over the colour channels (the whole frame for mono)."""
    if not stats.channel_clipped_fraction:
        return stats.clipped_fraction
    return max(stats.clipped_fraction, *stats.channel_clipped_fraction.values())


def brightest_channel(stats: FrameStats) -> tuple[str, float] | None:
    """(name, native mean) of the brightest channel, None for mono."""
    if not stats.channel_means_native:
        return None
    return max(stats.channel_means_native.items(), key=lambda item: item[1])


class Steering:
    """Decides what the solver steers, frame by frame."""

    def __init__(self, target_native: float, tolerance_native: float, ceiling_native: float,
                 *, per_channel: bool = False) -> None:
        self.ceiling_native = ceiling_native
        self._per_channel = per_channel
        self._user = Aim(None, target_native, tolerance_native)
        self.aim = self._user

    def _channel_target(self) -> float:
        """The channel's target: the user's, but never above the ceiling less tolerance."""
        return min(self._user.target_native,
                   self.ceiling_native - self._user.tolerance_native)

    def level(self, stats: FrameStats) -> Level:
        """The steered mean of ``stats`` (choosing the channel on the first colour frame)."""
        if self._per_channel and self.aim.channel is None:
            bright = brightest_channel(stats)
            if bright is not None:
                self.aim = Aim(bright[0], self._channel_target(), self._user.tolerance_native)
        return self.level_of(stats, self.aim)

    @staticmethod
    def level_of(stats: FrameStats, aim: Aim) -> Level:
        """``stats``' mean under ``aim``."""
        mean = (stats.mean_native if aim.channel is None
                else stats.channel_means_native[aim.channel])
        return Level(mean, worst_clipped(stats))

    def channel_over_ceiling(self, stats: FrameStats, bias_native: float | None) -> str | None:
        """The notice when steering the whole mean would push a channel over the ceiling.

        Switches the aim to that channel (just under the ceiling) and says so; None when
        nothing changes. ``bias_native`` (the solver's estimate) lets one frame predict
        the channel's mean at the target; without it only a frame on target tells.
        """
        if self.aim.channel is not None:
            return None
        bright = brightest_channel(stats)
        if bright is None or stats.clipped_fraction > MOSTLY_CLIPPED:
            return None  # mono, or a frame that only says "shorter"
        target = self._user.target_native
        tolerance = self._user.tolerance_native
        clipping = {ch: share for ch, share in stats.channel_clipped_fraction.items()
                    if share > defaults.CLIPPED_SHARE_MAX}
        if clipping:
            if stats.mean_native >= target - tolerance:
                return None  # brighter than the target: the search goes shorter anyway
            # A channel clips (its full well) below the whole-frame target.
            name = max(clipping, key=lambda ch: clipping[ch])
            self.ceiling_native = min(self.ceiling_native,
                                      CLIP_MARGIN * stats.clip_level_native)
            self.aim = Aim(name, self.ceiling_native - tolerance, tolerance)
            return (f"the {name} channel clips at {stats.clip_level_native:.0f} ADU, below "
                    f"where the whole-frame target puts it; aiming {name} at "
                    f"{self.aim.target_native:.0f} ADU instead (the other channels get less)")
        name, channel_mean = bright
        bias = min(bias_native if bias_native is not None else 0.0, stats.mean_native)
        signal = stats.mean_native - bias
        if signal <= 0:
            return None
        at_target = bias + (channel_mean - bias) * (target - bias) / signal
        if at_target <= self.ceiling_native and channel_mean <= self.ceiling_native:
            return None
        self.aim = Aim(name, self.ceiling_native - tolerance, tolerance)
        return (f"the {name} channel would sit at {at_target:.0f} ADU, above the linear "
                f"ceiling {self.ceiling_native:.0f} ADU, with the whole frame on target; "
                f"aiming {name} at {self.aim.target_native:.0f} ADU instead (the other "
                "channels get less)")

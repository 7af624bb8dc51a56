"""The clip threshold: from which RAW16 value a pixel counts as clipped.

Split in two steps so a fused pass can share it: :func:`plan_clip` needs only the
maximum of the clip sample (``frame[::3, ::3]``); when that maximum sits between 30 %
of full scale and the ADC's top code, :func:`decide_clip` also needs two counts over
the same sample (pixels near the top and just below it), which the fused pass takes
while it reads the frame anyway.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from app.adu import AduScale

#: a pile-up of this share of pixels at the very top marks full-well saturation
PILE_UP_FRACTION = 0.002
#: every CLIP_SAMPLE_STEP-th row and column form the clip sample
CLIP_SAMPLE_STEP = 3


@dataclass(frozen=True, slots=True)
class ClipPlan:
    """What the clip sample's maximum says about the threshold."""

    adc_clip_raw: int
    #: the full-well threshold to test, or None when the ADC's top code is the answer
    pile_threshold_raw: int | None = None
    #: pile-up test: sample pixels >= pile_high_raw are "near the top", those in
    #: [pile_low_raw, pile_high_raw) are "just below"
    pile_low_raw: int = 0
    pile_high_raw: int = 0


def plan_clip(sample_top_raw: int, scale: AduScale) -> ClipPlan:
    """The candidate thresholds, given the clip sample's maximum."""
    adc_clip = scale.max_raw16 - scale.factor  # native full scale - 1
    if sample_top_raw >= adc_clip:
        return ClipPlan(adc_clip)
    if sample_top_raw < 0.3 * scale.max_raw16:
        return ClipPlan(adc_clip)  # too dark to be saturated
    window = max(int(0.005 * scale.max_raw16), 4 * scale.factor)
    return ClipPlan(adc_clip, max(sample_top_raw - window, 1),
                    sample_top_raw - 2 * window, sample_top_raw - window)


def decide_clip(plan: ClipPlan, near_top: int, just_below: int, sample_size: int) -> int:
    """The threshold: a full-well pile-up if the counts show one, else the ADC's top.

    A noise tail thins out towards its maximum; a saturation pile-up does not.
    """
    if plan.pile_threshold_raw is None:
        return plan.adc_clip_raw
    if near_top >= max(PILE_UP_FRACTION * sample_size, 20) and near_top > just_below:
        return plan.pile_threshold_raw
    return plan.adc_clip_raw


def sample_size(shape: tuple[int, int]) -> int:
    """Pixels in the clip sample of a frame of ``shape``."""
    step = CLIP_SAMPLE_STEP
    return -(-shape[0] // step) * -(-shape[1] // step)


def clip_threshold_raw(frame: npt.NDArray[np.uint16], scale: AduScale) -> int:
    """The RAW16 value from which pixels count as clipped.

    The ADC's top native code, or lower when the full well saturates first: then
    many pixels pile up just under the frame's maximum (Ekos stalls on this case).
    """
    sample = frame[::CLIP_SAMPLE_STEP, ::CLIP_SAMPLE_STEP]
    plan = plan_clip(int(sample.max()), scale)
    if plan.pile_threshold_raw is None:
        return plan.adc_clip_raw
    near_top = int(np.count_nonzero(sample >= plan.pile_high_raw))
    just_below = int(np.count_nonzero((sample >= plan.pile_low_raw)
                                      & (sample < plan.pile_high_raw)))
    return decide_clip(plan, near_top, just_below, sample.size)

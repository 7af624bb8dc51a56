"""The pre-existing, separate-pass frame statistics, kept verbatim as the reference.

Tests check the fused pass (:func:`app.stats.analyse_frame`) against these
functions value for value, and ``python -m bench.stats`` reports their cost as
``naive_ratio``. Nothing in the app calls them.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

from app.adu import AduScale
from app.stats import (
    HISTOGRAM_BINS,
    HISTOGRAM_SAMPLE,
    PILE_UP_FRACTION,
    SHOT_NOISE_SAMPLES,
    Frame,
    FrameStats,
    Histogram,
)


def _planes(frame: Frame, bayer: str | None, step: int = 1) -> list[tuple[str, Frame]]:
    """(channel, view) pairs: the four CFA planes, or the whole mono frame."""
    if bayer is None:
        return [("L", frame[::step, ::step])]
    stride = 2 * step
    return [
        (bayer[2 * dy + dx], frame[dy::stride, dx::stride]) for dy in (0, 1) for dx in (0, 1)
    ]


def frame_stats(frame: Frame, scale: AduScale, bayer: str | None = None) -> FrameStats:
    """Whole-frame mean (both scales), per-channel means, clipped share."""
    if frame.dtype != np.uint16 or frame.ndim != 2 or frame.size == 0:
        raise ValueError(f"expected a 2-D uint16 frame, got {frame.dtype} {frame.shape}")
    total = 0
    channel_sums: dict[str, int] = {}
    channel_counts: dict[str, int] = {}
    for channel, plane in _planes(frame, bayer):
        plane_sum = int(plane.sum(dtype=np.uint64))
        total += plane_sum
        channel_sums[channel] = channel_sums.get(channel, 0) + plane_sum
        channel_counts[channel] = channel_counts.get(channel, 0) + plane.size
    mean_16bit = total / frame.size
    channel_means = (
        {
            ch: scale.to_native(channel_sums[ch] / channel_counts[ch])
            for ch in sorted(channel_sums, key="RGB".index)
        }
        if bayer is not None
        else {}
    )
    clip_raw = clip_threshold_raw(frame, scale)
    clipped = int(np.count_nonzero(frame >= clip_raw)) / frame.size
    return FrameStats(
        mean_16bit=mean_16bit,
        mean_native=scale.to_native(mean_16bit),
        channel_means_native=channel_means,
        clipped_fraction=clipped,
        clip_level_native=scale.to_native(clip_raw),
    )


def clip_threshold_raw(frame: Frame, scale: AduScale) -> int:
    """The RAW16 value from which pixels count as clipped.

    The ADC's top native code, or lower when the full well saturates first: then
    many pixels pile up just under the frame's maximum (Ekos stalls on this case).
    """
    adc_clip = scale.max_raw16 - scale.factor  # native full scale - 1
    sample = frame[::3, ::3]
    top = int(sample.max())
    if top >= adc_clip:
        return adc_clip
    if top < 0.3 * scale.max_raw16:
        return adc_clip  # too dark to be saturated
    window = max(int(0.005 * scale.max_raw16), 4 * scale.factor)
    near_top = int(np.count_nonzero(sample >= top - window))
    # A noise tail thins out towards its maximum; a saturation pile-up does not.
    just_below = int(np.count_nonzero((sample >= top - 2 * window) & (sample < top - window)))
    if near_top >= max(PILE_UP_FRACTION * sample.size, 20) and near_top > just_below:
        return max(top - window, 1)
    return adc_clip


def histogram(frame: Frame, bayer: str | None = None, step: int | None = None) -> Histogram:
    """Per-channel counts in 256 bins over 0..65535 from a strided subsample.

    ``step`` (per axis, within each colour plane) defaults to one that samples about
    HISTOGRAM_SAMPLE pixels: plenty for display, and short enough not to stall a GUI.
    """
    if step is None:
        step = max(1, math.ceil(math.sqrt(frame.size / HISTOGRAM_SAMPLE)))
        if bayer is not None:
            step = max(1, math.ceil(step / 2))
    shift = 16 - int(math.log2(HISTOGRAM_BINS))
    counts: dict[str, npt.NDArray[np.int64]] = {}
    for channel, plane in _planes(frame, bayer, step):
        binned = np.bincount((plane >> shift).ravel(), minlength=HISTOGRAM_BINS)
        counts[channel] = counts[channel] + binned if channel in counts else binned
    edges = np.linspace(0, 65536, HISTOGRAM_BINS + 1)
    return Histogram(bin_edges_16bit=edges, counts=counts)


def shot_noise_signal_native(
    frame: Frame, scale: AduScale, e_per_adu_native: float, bayer: str | None = None,
    row_step: int | None = None,
) -> float:
    """The mean signal (native ADU above bias) implied by the frame's shot noise.

    Photon transfer on one frame: same-colour neighbours along a row see the same
    light, so half the variance of their difference is the per-pixel noise,
    sigma^2 = signal / (e-/ADU) + read noise^2. Hence signal ~= e-/ADU x sigma^2,
    independent of the bias. A robust spread (interquartile range) ignores hot
    pixels and dust edges; its quartiles are interpolated inside the integer codes,
    so a dim frame's few distinct differences do not quantise the estimate. Read
    noise and pixel-response non-uniformity inflate the estimate slightly (the
    solver bounds both). Works on every ``row_step``-th row (by default enough rows
    for about a million differences): no full-frame copy.
    """
    height, width = frame.shape
    if row_step is None:
        row_step = max(1, (height * width) // SHOT_NOISE_SAMPLES)
    # Colour: each CFA plane on its own (their noise differs; a pooled robust spread
    # of the mixture would understate the mean variance).
    if bayer is None:
        planes = [frame[::row_step]]
    else:
        planes = [frame[dy :: 2 * row_step, dx::2] for dy in (0, 1) for dx in (0, 1)]
    variances = []
    for rows in planes:
        diff = (rows[:, 1:] >> scale.shift).astype(np.int32)
        diff -= rows[:, :-1] >> scale.shift
        q1, q3 = _integer_quantiles(diff, (0.25, 0.75))
        sigma_diff = (q3 - q1) / 1.3489795
        if sigma_diff <= 0:
            sigma_diff = float(np.std(diff))
        variances.append(sigma_diff**2 / 2)
    return float(e_per_adu_native * sum(variances) / len(variances))


def _integer_quantiles(
    values: npt.NDArray[np.int32], probabilities: tuple[float, ...]
) -> list[float]:
    """Quantiles of integer data read as a continuous law (each code spans +-0.5)."""
    flat = values.ravel()
    low = int(flat.min())
    counts = np.bincount(flat - low)
    cumulative = np.cumsum(counts)
    total = int(cumulative[-1])
    result = []
    for p in probabilities:
        rank = p * total
        index = int(np.searchsorted(cumulative, rank, side="left"))
        before = int(cumulative[index - 1]) if index else 0
        inside = int(counts[index])
        fraction = (rank - before) / inside if inside else 0.5
        result.append(low + index - 0.5 + fraction)
    return result

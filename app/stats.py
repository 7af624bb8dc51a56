"""Frame statistics without full-frame float copies.

Sums run in exact uint64 arithmetic on strided views; the clipped count makes one
boolean pass; the histogram works on a subsample. Frames are RAW16, MSB-aligned.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from app.adu import AduScale

Frame = npt.NDArray[np.uint16]
HISTOGRAM_BINS = 256
#: a pile-up of this share of pixels at the very top marks full-well saturation
PILE_UP_FRACTION = 0.002
#: differences the shot-noise estimate samples by default (rows are skipped to fit)
SHOT_NOISE_SAMPLES = 1_000_000


@dataclass(frozen=True, slots=True)
class FrameStats:
    """What the solver and the user need to know about one frame."""

    mean_16bit: float
    mean_native: float
    channel_means_native: Mapping[str, float]
    clipped_fraction: float
    clip_level_native: float
    channel_clipped_fraction: Mapping[str, float] = field(default_factory=dict)
    channel_means_16bit: Mapping[str, float] = field(default_factory=dict)

    @property
    def brightest_channel_native(self) -> float:
        """The highest per-channel mean (the whole-frame mean for mono)."""
        if not self.channel_means_native:
            return self.mean_native
        return max(self.channel_means_native.values())


@dataclass(frozen=True, slots=True)
class Histogram:
    """Pixel counts per channel over 16-bit bins (a subsample, for display)."""

    bin_edges_16bit: npt.NDArray[np.float64]
    counts: Mapping[str, npt.NDArray[np.int64]]


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
    channel_clipped: dict[str, int] = {}
    if bayer is None:
        clipped_count = int(np.count_nonzero(frame >= clip_raw))
    else:
        for channel, plane in _planes(frame, bayer):
            channel_clipped[channel] = (channel_clipped.get(channel, 0)
                                        + int(np.count_nonzero(plane >= clip_raw)))
        clipped_count = sum(channel_clipped.values())
    return FrameStats(
        mean_16bit=mean_16bit,
        mean_native=scale.to_native(mean_16bit),
        channel_means_native=channel_means,
        clipped_fraction=clipped_count / frame.size,
        clip_level_native=scale.to_native(clip_raw),
        channel_clipped_fraction={ch: channel_clipped[ch] / channel_counts[ch]
                                  for ch in sorted(channel_clipped, key="RGB".index)},
        channel_means_16bit={ch: scale.to_16bit(m) for ch, m in channel_means.items()},
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


#: pixels the display histogram samples at most (bincount holds the GIL: keep it short)
HISTOGRAM_SAMPLE = 1_000_000


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


def preview(frame: Frame, bayer: str | None = None, max_side: int = 1024) -> Frame:
    """A small copy for display: every k-th pixel, on one green plane for colour."""
    step = max(1, math.ceil(max(frame.shape) / max_side))
    if bayer is None:
        return frame[::step, ::step].copy()
    step += step % 2  # stay on one CFA colour
    green = bayer.index("G")
    return frame[green // 2 :: step, green % 2 :: step].copy()


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

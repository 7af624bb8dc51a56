"""Frame statistics: one fused pass per frame, exact integer sums and clipped counts.

:func:`analyse_frame` gives everything a session needs per frame — the statistics
(whole-frame and per-channel means, clipped shares), the display histogram and the
shot-noise signal estimate — from one read of the frame (plus every third row for
the clip sample), computed by :mod:`app.stats_fused` (numba, or numpy while numba is
compiling or missing). :func:`frame_stats`, :func:`histogram` and
:func:`shot_noise_signal_native` still work on their own. Results equal the
pre-existing separate passes (:mod:`app.stats_reference`) exactly: sums and counts
are integers, and the histogram and noise sub-samples are the same pixels.
Frames are RAW16, MSB-aligned.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from app.adu import AduScale
from app.stats_clip import PILE_UP_FRACTION, clip_threshold_raw
from app.stats_fused import Backend, FrameTotals, SubSamples, frame_totals, numba_kernels

__all__ = [
    "HISTOGRAM_BINS", "HISTOGRAM_SAMPLE", "PILE_UP_FRACTION", "SHOT_NOISE_SAMPLES",
    "Frame", "FrameAnalysis", "FrameStats", "Histogram", "analyse_frame", "clip_threshold_raw",
    "frame_stats", "histogram", "preview", "shot_noise_signal_native", "warm_up",
]

Frame = npt.NDArray[np.uint16]
HISTOGRAM_BINS = 256
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
    #: colour: the clipped share of each channel's own pixels ("R", "G" = both green
    #: sites, "B"); a saturated green hides in the whole-frame share. Empty for mono.
    channel_clipped_fraction: Mapping[str, float] = field(default_factory=dict)
    #: colour: per-channel means in 16-bit scaled ADU (same keys); empty for mono
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


@dataclass(frozen=True, slots=True)
class FrameAnalysis:
    """Everything a session computes per frame, from one pass."""

    stats: FrameStats
    histogram: Histogram
    #: the shot-noise signal estimate (native ADU above bias); None without e-/ADU
    #: or on a frame too small for it
    shot_noise_signal_native: float | None


def frame_stats(frame: Frame, scale: AduScale, bayer: str | None = None) -> FrameStats:
    """Whole-frame mean (both scales), per-channel means, clipped shares."""
    return _stats_of(frame_totals(frame, scale), frame, scale, bayer)


def analyse_frame(frame: Frame, scale: AduScale, bayer: str | None = None,
                  e_per_adu_native: float | None = None, *,
                  backend: Backend = "auto") -> FrameAnalysis:
    """Statistics, display histogram and shot-noise estimate in one pass.

    Equal to :func:`frame_stats`, :func:`histogram` (default step) and
    :func:`shot_noise_signal_native` (default rows) called one after the other. The
    shot-noise estimate is None without ``e_per_adu_native`` (None or 0) and on a
    frame too small for one pair of neighbours per colour plane.
    """
    height, width = frame.shape if frame.ndim == 2 else (0, 0)
    sites = 1 if bayer is None else 2
    hist_step = _histogram_step(frame.size, bayer)
    noise_rows = _noise_row_step(height, width)
    subsamples = SubSamples(
        hist_period=sites * hist_step, hist_sites=sites,
        hist_shift=16 - int(math.log2(HISTOGRAM_BINS)),
        noise_period=sites * noise_rows if e_per_adu_native else 0, noise_sites=sites,
        noise_shift=scale.shift)
    totals = frame_totals(frame, scale, subsamples, backend)
    stats = _stats_of(totals, frame, scale, bayer)
    if totals.hist_counts is None:
        hist = histogram(frame, bayer)
    else:
        hist = _histogram_of(totals.hist_counts, bayer)
    signal: float | None = None
    if e_per_adu_native and width >= 2 * sites and height >= sites:  # else: no pairs
        if totals.noise_counts is None:
            signal = shot_noise_signal_native(frame, scale, e_per_adu_native, bayer)
        else:
            signal = _shot_noise_of(totals.noise_counts, totals.noise_offset, sites,
                                    e_per_adu_native)
    return FrameAnalysis(stats, hist, signal)


def warm_up(wait: bool = False) -> bool:
    """Start compiling the fused kernels now (``wait``: until done); True when ready.

    Optional: without it the first frame starts the compilation and frames use the
    numpy path (same results, ~2-3x slower) until it is done.
    """
    return numba_kernels(wait) is not None


def _stats_of(totals: FrameTotals, frame: Frame, scale: AduScale,
              bayer: str | None) -> FrameStats:
    """FrameStats from exact per-site totals (the same float arithmetic as before)."""
    mean_16bit = sum(totals.site_sums) / frame.size
    channel_means: dict[str, float] = {}
    channel_means_16: dict[str, float] = {}
    channel_clipped: dict[str, float] = {}
    if bayer is not None:
        sums: dict[str, int] = {}
        pixels: dict[str, int] = {}
        clipped: dict[str, int] = {}
        for site, channel in enumerate(bayer):
            sums[channel] = sums.get(channel, 0) + totals.site_sums[site]
            pixels[channel] = pixels.get(channel, 0) + totals.site_pixels[site]
            clipped[channel] = clipped.get(channel, 0) + totals.site_clipped[site]
        for channel in sorted(sums, key="RGB".index):
            if not pixels[channel]:
                continue  # a frame one pixel wide or high has no such sites
            channel_means_16[channel] = sums[channel] / pixels[channel]
            channel_means[channel] = scale.to_native(channel_means_16[channel])
            channel_clipped[channel] = clipped[channel] / pixels[channel]
    return FrameStats(
        mean_16bit=mean_16bit,
        mean_native=scale.to_native(mean_16bit),
        channel_means_native=channel_means,
        clipped_fraction=sum(totals.site_clipped) / frame.size,
        clip_level_native=scale.to_native(totals.clip_raw),
        channel_clipped_fraction=channel_clipped,
        channel_means_16bit=channel_means_16,
    )


def _histogram_of(site_counts: npt.NDArray[np.int64], bayer: str | None) -> Histogram:
    counts: dict[str, npt.NDArray[np.int64]] = {}
    if bayer is None:
        counts["L"] = site_counts.sum(axis=(0, 1))
    else:
        for site, channel in enumerate(bayer):
            binned = site_counts[site // 2, site % 2]
            counts[channel] = counts[channel] + binned if channel in counts else binned.copy()
    return Histogram(bin_edges_16bit=np.linspace(0, 65536, HISTOGRAM_BINS + 1), counts=counts)


def _shot_noise_of(plane_counts: npt.NDArray[np.int64], offset: int, sites: int,
                   e_per_adu_native: float) -> float | None:
    variances = []
    for plane in range(sites * sites):
        counts = plane_counts[plane]
        nonzero = np.flatnonzero(counts)
        if nonzero.size == 0:
            return None  # too narrow for a single difference
        first, last = int(nonzero[0]), int(nonzero[-1])
        variances.append(_variance_of_differences(counts[first:last + 1], first - offset))
    return float(e_per_adu_native * sum(variances) / len(variances))


def _histogram_step(size: int, bayer: str | None) -> int:
    step = max(1, math.ceil(math.sqrt(size / HISTOGRAM_SAMPLE)))
    if bayer is not None:
        step = max(1, math.ceil(step / 2))
    return step


def _noise_row_step(height: int, width: int) -> int:
    return max(1, (height * width) // SHOT_NOISE_SAMPLES)


#: pixels the display histogram samples at most (bincount holds the GIL: keep it short)
HISTOGRAM_SAMPLE = 1_000_000


def histogram(frame: Frame, bayer: str | None = None, step: int | None = None) -> Histogram:
    """Per-channel counts in 256 bins over 0..65535 from a strided subsample.

    ``step`` (per axis, within each colour plane) defaults to one that samples about
    HISTOGRAM_SAMPLE pixels: plenty for display, and short enough not to stall a GUI.
    """
    if step is None:
        step = _histogram_step(frame.size, bayer)
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
        row_step = _noise_row_step(height, width)
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
        flat = diff.ravel()
        low = int(flat.min())
        variances.append(_variance_of_differences(np.bincount(flat - low), low))
    return float(e_per_adu_native * sum(variances) / len(variances))


def _variance_of_differences(counts: npt.NDArray[np.int64], low: int) -> float:
    """Per-pixel noise variance from the counts of neighbour differences low, low+1, ...

    Half the variance of the differences, from their interquartile range (robust to
    hot pixels and dust edges); the plain standard deviation if that range is 0.
    """
    q1, q3 = _quantiles_of_counts(counts, low, (0.25, 0.75))
    sigma_diff = (q3 - q1) / 1.3489795
    if sigma_diff <= 0:
        values = np.arange(low, low + counts.size, dtype=np.float64)
        total = float(counts.sum())
        mean = float(np.dot(counts, values)) / total
        sigma_diff = math.sqrt(float(np.dot(counts, (values - mean) ** 2)) / total)
    return float(sigma_diff**2 / 2)


def _quantiles_of_counts(
    counts: npt.NDArray[np.int64], low: int, probabilities: tuple[float, ...]
) -> list[float]:
    """Quantiles of integer data (counts of low, low+1, ...) read as a continuous law.

    Each code spans +-0.5, so a dim frame's few distinct differences do not
    quantise the quantiles.
    """
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

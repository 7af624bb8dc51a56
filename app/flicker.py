"""Flicker: PWM-driven panels and screens band the frame through a rolling shutter."""

from __future__ import annotations

import math

import numpy as np

from app.stats import Frame

#: row banding above this (relative std of detrended row means) means flicker
BANDING_LIMIT = 0.01
#: frames with less signal than this share of full scale are not judged
MIN_SIGNAL_SHARE = 0.01
#: columns per half-row read to measure banding
COLUMNS_PER_HALF = 512
#: banding considered harmless when choosing a minimum safe exposure
BANDING_SAFE = 0.003


def row_banding(frame: Frame, bayer: str | None = None, bias_native: float = 0.0,
                bit_depth: int = 16) -> float:
    """Relative amplitude of row-to-row banding: the signature of a flickering light.

    A PWM-driven panel or screen seen through a rolling shutter lights rows unevenly.
    The left and right halves of a row are exposed at the same moment, so flicker
    bands are common to both, while pixel noise is not: the covariance of the two
    halves' detrended row means measures the banding alone. Vignetting is removed by
    a low-order fit. Returned relative to the signal above ``bias_native``.
    """
    height, width = frame.shape
    half = width // 2
    if height < 32 or half < 8:
        return 0.0
    residuals = []
    level = 0.0
    # Bands are whole rows: a few hundred contiguous columns per half measure a row's
    # mean far better than the 1 % that counts, and contiguous columns read only their
    # own memory (every n-th column would touch every cache line of the frame).
    columns = min(half, COLUMNS_PER_HALF)
    columns -= columns % 2  # whole CFA periods
    for part in (frame[:, :columns], frame[:, half : half + columns]):
        rows = part.mean(axis=1, dtype=np.float64)
        if bayer is not None:
            rows = rows[: rows.size // 2 * 2].reshape(-1, 2).mean(axis=1)
        x = np.linspace(-1.0, 1.0, rows.size)
        trend = np.polyval(np.polyfit(x, rows, 4), x)
        residuals.append(rows - trend)
        level += float(trend.mean()) / 2
    signal = level / float(1 << (16 - bit_depth)) - bias_native
    if signal < MIN_SIGNAL_SHARE * (2**bit_depth - 1):
        return 0.0  # too little light to tell bands from noise
    common = float(np.mean(residuals[0] * residuals[1]))
    scale = float(1 << (16 - bit_depth))
    return math.sqrt(max(common, 0.0)) / scale / signal


def min_flicker_safe_exposure_s(exposure_s: float, banding: float) -> float:
    """The exposure at which banding (falling as 1/t) would drop to BANDING_SAFE."""
    if banding <= BANDING_SAFE:
        return exposure_s
    needed = exposure_s * banding / BANDING_SAFE
    magnitude = 10 ** math.floor(math.log10(needed))
    return float(math.ceil(needed / magnitude) * magnitude)

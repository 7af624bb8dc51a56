"""Exact per-frame totals in (about) one read of the frame: numba when ready, else numpy.

What a session needs per frame — whole and per-CFA-site sums (exact integers), the
clip threshold and clipped counts per site, and optionally the display histogram's
and the shot-noise estimate's sub-samples — comes from :func:`frame_totals`.

Why two back ends (``python -m bench.stats``, 61 MP uint16 frame on the 2-core dev
box, ratio to a memcpy of the same frame): the numba pass (:mod:`app.stats_numba`)
reads the frame once plus every third row for the clip sample's maximum, histogram
and shot-noise differences included: 0.97x mono, 1.11x colour at load ~1 (1.2-1.46x
at load ~2). The numpy path below sums and counts row blocks that stay in L2
(uint16 rows added into uint32 block accumulators, one comparison per block) after
a separate clip-sample pass, and leaves the histogram and noise estimate to their
own passes: 3.0-4.4x mono, 3.9-5.1x colour (the separate calls it replaces: 3.1-4.7x
and 5.4-7.0x). So numpy is the fallback: numba missing or failing
(``AUTOFLATS_NO_NUMBA=1`` forces it), frames that are not plain C-contiguous
writable arrays (each would need its own compilation), and the first frames on a
fresh machine while the kernels compile in a background thread (6-9 s; a session
never waits for it).
"""

from __future__ import annotations

import logging
import os
import sys
import threading
from dataclasses import dataclass
from types import ModuleType
from typing import Literal

import numpy as np
import numpy.typing as npt

from app.adu import AduScale
from app.stats_clip import (
    CLIP_SAMPLE_STEP,
    ClipPlan,
    decide_clip,
    plan_clip,
    sample_size,
)

log = logging.getLogger(__name__)

Frame = npt.NDArray[np.uint16]
Backend = Literal["auto", "numba", "numpy"]
#: set to 1 to never use numba (the numpy path gives the same results)
NO_NUMBA_ENV = "AUTOFLATS_NO_NUMBA"
#: rows per block of the numpy path: a block of a 9576-wide frame stays in L2
_BLOCK_BYTES = 512 * 1024


@dataclass(frozen=True, slots=True)
class SubSamples:
    """Which pixels the histogram and the shot-noise estimate read (0 = skip).

    Histogram: rows and columns whose index modulo ``hist_period`` is below
    ``hist_sites`` (1 mono, 2 colour), binned as ``value >> hist_shift``. Shot noise:
    rows whose index modulo ``noise_period`` is below ``noise_sites``; differences
    of neighbours ``noise_sites`` apart, each value shifted right by ``noise_shift``.
    """

    hist_period: int = 0
    hist_sites: int = 1
    hist_shift: int = 8
    noise_period: int = 0
    noise_sites: int = 1
    noise_shift: int = 0


@dataclass(frozen=True, slots=True)
class FrameTotals:
    """Exact integer totals per CFA site, indexed 2 x row parity + column parity."""

    site_sums: tuple[int, int, int, int]
    site_pixels: tuple[int, int, int, int]
    site_clipped: tuple[int, int, int, int]
    clip_raw: int
    #: [row parity, column parity, bin] counts, when the pass took the histogram
    hist_counts: npt.NDArray[np.int64] | None = None
    #: [plane, difference + noise_offset] counts, when the pass took the differences
    noise_counts: npt.NDArray[np.int64] | None = None
    noise_offset: int = 0
    backend: str = "numpy"


def site_pixels(shape: tuple[int, int]) -> tuple[int, int, int, int]:
    """Pixels per CFA site (row parity, column parity) of a frame of ``shape``."""
    rows = ((shape[0] + 1) // 2, shape[0] // 2)
    cols = ((shape[1] + 1) // 2, shape[1] // 2)
    return (rows[0] * cols[0], rows[0] * cols[1], rows[1] * cols[0], rows[1] * cols[1])


def frame_totals(frame: Frame, scale: AduScale, subsamples: SubSamples | None = None,
                 backend: Backend = "auto") -> FrameTotals:
    """Sums, clip threshold and clipped counts per CFA site (and sub-samples).

    ``backend="auto"`` takes numba once its kernels are compiled, numpy until then;
    the numpy path leaves the histogram and noise counts to the caller (None).
    """
    if frame.dtype != np.uint16 or frame.ndim != 2 or frame.size == 0:
        raise ValueError(f"expected a 2-D uint16 frame, got {frame.dtype} {frame.shape}")
    kernels = None
    if backend != "numpy" and frame.flags.c_contiguous and frame.flags.writeable:
        kernels = numba_kernels(wait=backend == "numba")
    if kernels is None:
        if backend == "numba":
            raise RuntimeError("the numba kernels are not available (numba missing, or "
                               "the frame is not a C-contiguous writable array)")
        return _numpy_totals(frame, scale)
    return _numba_totals(kernels, frame, scale, subsamples or SubSamples())


# -- numba ---------------------------------------------------------------------------
_lock = threading.Lock()
_ready = threading.Event()
_started = False
_kernels: ModuleType | None = None


def numba_kernels(wait: bool = False) -> ModuleType | None:
    """The compiled kernels module, or None while compiling / when numba is missing.

    The first call starts compiling (or loading from numba's disk cache) in a
    background thread; ``wait=True`` blocks until that is done.
    """
    global _started
    if not _ready.is_set():
        with _lock:
            if not _started:
                _started = True
                threading.Thread(target=_compile, name="autoflats-stats-jit",
                                 daemon=True).start()
        if wait:
            _ready.wait()
    return _kernels if _ready.is_set() else None


def _compile() -> None:
    global _kernels
    try:
        if os.environ.get(NO_NUMBA_ENV, "") not in ("", "0"):
            return
        from app import stats_numba

        stats_numba.warm_up()
        _kernels = stats_numba
    except Exception as exc:  # ImportError, or a numba/LLVM failure: numpy serves
        log.info("frame statistics without numba (%s: %s)", type(exc).__name__, exc)
    finally:
        _ready.set()


def _numba_totals(kernels: ModuleType, frame: Frame, scale: AduScale,
                  sub: SubSamples) -> FrameTotals:
    plan = plan_clip(int(kernels.sample_top_raw(frame)), scale)
    count_pile = plan.pile_threshold_raw is not None
    pile_raw = plan.pile_threshold_raw if plan.pile_threshold_raw is not None else 0
    sums = np.zeros((2, 2), np.uint64)
    clipped_adc = np.zeros((2, 2), np.int64)
    clipped_pile = np.zeros((2, 2), np.int64)
    pile_counts = np.zeros(2, np.int64)
    hist = np.zeros((2, 2, 4, 65536 >> sub.hist_shift) if sub.hist_period else (1, 1, 1, 1),
                    np.int64)
    noise_offset = 65535 >> sub.noise_shift
    planes = sub.noise_sites * sub.noise_sites
    noise = np.zeros((planes, 2 * noise_offset + 1) if sub.noise_period else (1, 1), np.int64)
    swar = (frame.shape[1] % 4 == 0 and frame.ctypes.data % 8 == 0
            and sys.byteorder == "little")
    words = frame.view(np.uint64) if swar else np.zeros((0, 0), np.uint64)
    kernels.fused_pass(
        frame, words, int(plan.adc_clip_raw), int(pile_raw), int(plan.pile_low_raw),
        int(plan.pile_high_raw), count_pile, int(sub.hist_period), int(sub.hist_sites),
        int(sub.hist_shift), int(sub.noise_period), int(sub.noise_sites),
        int(sub.noise_shift), int(noise_offset),
        sums, clipped_adc, clipped_pile, pile_counts, hist, noise)
    near_top, at_least_low = int(pile_counts[0]), int(pile_counts[1])
    clip_raw = decide_clip(plan, near_top, at_least_low - near_top, sample_size(frame.shape))
    clipped = clipped_pile if count_pile and clip_raw == plan.pile_threshold_raw else clipped_adc
    return FrameTotals(
        site_sums=_four(sums), site_pixels=site_pixels(frame.shape),
        site_clipped=_four(clipped), clip_raw=clip_raw,
        hist_counts=hist.sum(axis=2) if sub.hist_period else None,
        noise_counts=noise if sub.noise_period else None,
        noise_offset=noise_offset, backend="numba")


def _four(values: npt.NDArray[np.generic]) -> tuple[int, int, int, int]:
    flat = [int(v) for v in values.ravel()]
    return (flat[0], flat[1], flat[2], flat[3])


# -- numpy ---------------------------------------------------------------------------
def _numpy_totals(frame: Frame, scale: AduScale) -> FrameTotals:
    """Row blocks that fit in L2: sums and clipped counts per CFA site, exact."""
    clip_raw = _numpy_clip_threshold(frame, scale)
    height, width = frame.shape
    # even (row parity in a block = in the frame), <= 32768 (uint32 / uint16 block sums)
    block_rows = min(32768, max(2, (_BLOCK_BYTES // (2 * width)) // 2 * 2), height + height % 2)
    column_sums = np.zeros((2, width), np.uint64)
    column_clipped = np.zeros((2, width), np.int64)
    block_sum = np.empty(width, np.uint32)  # <= 16384 rows x 65535 fits
    block_clipped = np.empty(width, np.uint16)  # <= 16384 rows per parity fits
    mask = np.empty((block_rows, width), bool)
    for top in range(0, height, block_rows):
        block = frame[top:top + block_rows]
        block_mask = mask[:block.shape[0]]
        np.greater_equal(block, clip_raw, out=block_mask)
        for parity in (0, 1):  # block_rows is even: parity within the block = in the frame
            rows = block[parity::2]
            if rows.shape[0] == 0:
                continue
            np.add.reduce(rows, axis=0, dtype=np.uint32, out=block_sum)
            column_sums[parity] += block_sum
            np.add.reduce(block_mask[parity::2], axis=0, dtype=np.uint16, out=block_clipped)
            column_clipped[parity] += block_clipped
    sums = [int(column_sums[dy, dx::2].sum(dtype=np.uint64)) for dy in (0, 1) for dx in (0, 1)]
    clipped = [int(column_clipped[dy, dx::2].sum()) for dy in (0, 1) for dx in (0, 1)]
    return FrameTotals(
        site_sums=(sums[0], sums[1], sums[2], sums[3]), site_pixels=site_pixels(frame.shape),
        site_clipped=(clipped[0], clipped[1], clipped[2], clipped[3]), clip_raw=clip_raw)


def _numpy_clip_threshold(frame: Frame, scale: AduScale) -> int:
    """clip_threshold_raw, reading the sample rows whole (strided 2-D views are slow)."""
    step = CLIP_SAMPLE_STEP
    sample_rows = frame[::step]
    top = int(np.max(sample_rows, axis=0)[::step].max())
    plan: ClipPlan = plan_clip(top, scale)
    if plan.pile_threshold_raw is None:
        return plan.adc_clip_raw
    near_top = at_least_low = 0
    rows_per_block = max(1, _BLOCK_BYTES // (2 * frame.shape[1]))
    for first in range(0, sample_rows.shape[0], rows_per_block):
        block = sample_rows[first:first + rows_per_block, ::step]
        near_top += int(np.count_nonzero(block >= plan.pile_high_raw))
        at_least_low += int(np.count_nonzero(block >= plan.pile_low_raw))
    return decide_clip(plan, near_top, at_least_low - near_top, sample_size(frame.shape))

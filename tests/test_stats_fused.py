"""The fused per-frame analysis equals the pre-existing separate passes, exactly.

Random small frames (mono and every Bayer pattern, 12/14/16-bit, saturated pixels
and full-well pile-ups, odd sizes) through both back ends (numba and numpy), one
large frame, and the per-channel clipped shares on a frame with one channel
saturated. No timing here: speed is ``python -m bench.stats``'s business.
"""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from app import stats_reference as reference
from app.adu import AduScale
from app.stats import (
    Frame,
    FrameAnalysis,
    FrameStats,
    analyse_frame,
    clip_threshold_raw,
    frame_stats,
    histogram,
    shot_noise_signal_native,
    warm_up,
)

BAYERS = (None, "RGGB", "BGGR", "GRBG", "GBRG")
OLD_FIELDS = ("mean_16bit", "mean_native", "channel_means_native", "clipped_fraction",
              "clip_level_native")


def _backends() -> list[str]:
    try:
        import numba  # noqa: F401
    except ImportError:
        return ["numpy"]
    return ["numpy", "numba"]


BACKENDS = _backends()


def assert_same_stats(new: FrameStats, old: FrameStats) -> None:
    """Every pre-existing field equal, bit for bit."""
    for name in OLD_FIELDS:
        assert getattr(new, name) == getattr(old, name), name


def assert_same_analysis(frame: Frame, scale: AduScale, bayer: str | None,
                         e_per_adu: float, backend: str) -> FrameAnalysis:
    """analyse_frame on ``backend`` equals the three reference calls."""
    result = analyse_frame(frame, scale, bayer, e_per_adu, backend=backend)  # type: ignore[arg-type]
    assert_same_stats(result.stats, reference.frame_stats(frame, scale, bayer))
    old_hist = reference.histogram(frame, bayer)
    assert list(result.histogram.counts) == list(old_hist.counts)
    for channel, counts in old_hist.counts.items():
        np.testing.assert_array_equal(result.histogram.counts[channel], counts)
    np.testing.assert_array_equal(result.histogram.bin_edges_16bit, old_hist.bin_edges_16bit)
    sites = 2 if bayer else 1
    if frame.shape[1] >= 2 * sites and frame.shape[0] >= sites:
        expected = reference.shot_noise_signal_native(frame, scale, e_per_adu, bayer)
        assert result.shot_noise_signal_native == pytest.approx(expected, rel=1e-12, abs=1e-12)
    else:
        assert result.shot_noise_signal_native is None
    return result


@st.composite
def frames(draw: st.DrawFn) -> tuple[Frame, AduScale, str | None]:
    """A small MSB-aligned frame with noise, maybe hot pixels and a pile-up."""
    bits = draw(st.sampled_from((12, 14, 16)))
    scale = AduScale(bits)
    bayer = draw(st.sampled_from(BAYERS))
    smallest = 1 if bayer is None else 2  # the reference divides by zero below 2 x 2
    height = draw(st.integers(smallest, 64))
    width = draw(st.integers(smallest, 64))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    full = scale.full_scale_native
    level = draw(st.floats(0.0, 1.2)) * full
    spread = draw(st.sampled_from((0.0, 0.5, 3.0, 30.0, 0.05 * full)))
    native = rng.normal(level, spread, size=(height, width)).clip(0, full).astype(np.int64)
    if draw(st.booleans()):  # a full-well pile-up below the ADC's top code
        pile = int(draw(st.floats(0.3, 0.99)) * full)
        share = draw(st.floats(0.0, 1.0))
        native[rng.random((height, width)) < share] = pile
        if draw(st.booleans()):  # the pile sits on top of a noise tail
            native = np.maximum(native, rng.normal(pile * 0.97, 0.01 * full, native.shape)
                                .clip(0, pile).astype(np.int64))
    if draw(st.integers(0, 3)) == 0:  # saturated (ADC top, or one step below) pixels
        share = draw(st.floats(0.0, 0.5))
        hit = rng.random((height, width)) < share
        native[hit] = full - rng.integers(0, 2, size=int(hit.sum()))
    frame = (native.astype(np.uint16) << np.uint16(scale.shift)).astype(np.uint16)
    if draw(st.booleans()) and scale.shift:  # padding bits set: not MSB-aligned
        frame |= rng.integers(0, scale.factor, size=frame.shape, dtype=np.uint16)
    return frame, scale, bayer


@pytest.fixture(scope="module", autouse=True)
def _compiled() -> None:
    """Compile (or load) the numba kernels once, before hypothesis times examples."""
    warm_up(wait=True)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=frames(), backend=st.sampled_from(BACKENDS), e_per_adu=st.floats(0.1, 10.0))
def test_fused_equals_separate_passes(case: tuple[Frame, AduScale, str | None],
                                      backend: str, e_per_adu: float) -> None:
    frame, scale, bayer = case
    result = assert_same_analysis(frame, scale, bayer, e_per_adu, backend)
    full_well = result.stats.clip_level_native < scale.full_scale_native - 1
    event("clip at a full-well pile-up" if full_well else "clip at the ADC's top code")
    event("some pixels clipped" if result.stats.clipped_fraction else "nothing clipped")
    assert_same_stats(frame_stats(frame, scale, bayer), reference.frame_stats(frame, scale, bayer))
    assert clip_threshold_raw(frame, scale) == reference.clip_threshold_raw(frame, scale)


@pytest.mark.parametrize("backend", BACKENDS)
def test_large_frame_equals_separate_passes(backend: str) -> None:
    """A 24 MP frame with vignetting, hot pixels and a saturated corner (both back ends)."""
    scale = AduScale(14)
    height, width = 4000, 6000
    rng = np.random.default_rng(7)
    native = rng.integers(7000, 9000, size=(height, width), dtype=np.uint16)
    native[:300, :500] = scale.full_scale_native
    frame = native << np.uint16(scale.shift)
    for bayer in (None, "RGGB"):
        assert_same_analysis(frame, scale, bayer, 3.1, backend)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("width", [396, 400, 404, 401])  # SWAR rows with 0/4/8 tail pixels
def test_full_well_pile_up_is_found_as_before(backend: str, width: int) -> None:
    """Pixels piling up at a full well below the ADC's top count as clipped."""
    scale = AduScale(16)
    rng = np.random.default_rng(3)
    frame = rng.normal(30000, 400, size=(300, width)).clip(0, 65535).astype(np.uint16)
    frame[:, :100] = 52000  # a quarter of the frame saturates at the full well
    result = assert_same_analysis(frame, scale, "RGGB", 0.8, backend)
    assert result.stats.clip_level_native < scale.full_scale_native
    assert result.stats.clipped_fraction == pytest.approx(0.25, abs=0.01)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("bayer", ["RGGB", "BGGR", "GRBG", "GBRG"])
def test_one_saturated_channel_shows_in_its_own_share(bayer: str, backend: str) -> None:
    """Green clipped, red and blue at half scale: G 100 %, R and B 0 %, frame 50 %."""
    scale = AduScale(12)
    frame = np.full((64, 96), 2048 << scale.shift, dtype=np.uint16)
    for site, channel in enumerate(bayer):
        if channel == "G":
            frame[site // 2::2, site % 2::2] = scale.max_raw16
        elif channel == "B":
            frame[site // 2::2, site % 2::2] = 1024 << scale.shift
    result = analyse_frame(frame, scale, bayer, 1.0, backend=backend)  # type: ignore[arg-type]
    stats = result.stats
    assert stats.channel_clipped_fraction == {"R": 0.0, "G": 1.0, "B": 0.0}
    assert stats.clipped_fraction == 0.5
    assert stats.channel_means_16bit == {"R": 2048.0 * 16, "G": float(scale.max_raw16),
                                         "B": 1024.0 * 16}
    assert stats.channel_means_native["B"] == 1024.0


def test_mono_has_no_channel_figures() -> None:
    scale = AduScale(16)
    frame = np.full((20, 30), 65535, dtype=np.uint16)
    stats = frame_stats(frame, scale)
    assert stats.channel_clipped_fraction == {} and stats.channel_means_16bit == {}
    assert stats.clipped_fraction == 1.0


def test_old_constructor_still_works() -> None:
    stats = FrameStats(1.0, 1.0, {}, 0.0, 4095.0)
    assert stats.channel_clipped_fraction == {} and stats.channel_means_16bit == {}


def test_public_functions_keep_their_results() -> None:
    """histogram and shot_noise_signal_native on their own, as before."""
    scale = AduScale(14)
    rng = np.random.default_rng(11)
    frame = (rng.normal(8000, 60, size=(500, 700)).astype(np.uint16) << 2).astype(np.uint16)
    for bayer in BAYERS:
        old = reference.histogram(frame, bayer, step=3)
        new = histogram(frame, bayer, step=3)
        for channel in old.counts:
            np.testing.assert_array_equal(new.counts[channel], old.counts[channel])
        assert shot_noise_signal_native(frame, scale, 3.1, bayer, row_step=7) == pytest.approx(
            reference.shot_noise_signal_native(frame, scale, 3.1, bayer, row_step=7), rel=1e-12)


def test_without_e_per_adu_no_noise_estimate() -> None:
    frame = np.full((32, 32), 1000, dtype=np.uint16)
    assert analyse_frame(frame, AduScale(16), None, None).shot_noise_signal_native is None


def test_strided_and_read_only_frames_take_the_numpy_path() -> None:
    scale = AduScale(16)
    rng = np.random.default_rng(5)
    big = rng.integers(0, 65536, size=(60, 80), dtype=np.uint16)
    strided = big[:, ::2]
    read_only = big.copy()
    read_only.flags.writeable = False
    for frame in (strided, read_only):
        assert_same_analysis(frame, scale, "RGGB", 1.0, "auto")


def test_rejects_what_is_not_a_frame() -> None:
    with pytest.raises(ValueError, match="2-D uint16"):
        frame_stats(np.zeros((4, 4), dtype=np.float32), AduScale(16))


def test_works_without_numba() -> None:
    """numba failing to import: same results from numpy, no error."""
    code = (
        "import sys; sys.modules['numba'] = None\n"
        "import numpy as np\n"
        "from app.adu import AduScale\n"
        "from app.stats import analyse_frame, warm_up\n"
        "from app import stats_reference as ref\n"
        "assert not warm_up(wait=True)\n"
        "f = (np.arange(40 * 50, dtype=np.uint16).reshape(40, 50) * 13)\n"
        "s = AduScale(16)\n"
        "a = analyse_frame(f, s, 'RGGB', 1.0)\n"
        "assert a.stats.mean_16bit == ref.frame_stats(f, s, 'RGGB').mean_16bit\n"
        "print('ok')\n"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env=env, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "ok"


@pytest.mark.parametrize("backend", BACKENDS)
def test_very_wide_rows_and_extreme_values(backend: str) -> None:
    """Rows longer than 65536 words (the SWAR lanes' chunk) and pixels at 0 and 65535."""
    scale = AduScale(16)
    rng = np.random.default_rng(13)
    frame = rng.integers(0, 65536, size=(4, 4 * 65536 + 8), dtype=np.uint16)
    frame[:, ::7] = 65535
    frame[:, 1::11] = 0
    frame[:, 2::13] = 65534
    for bayer in (None, "GRBG"):
        assert_same_analysis(frame, scale, bayer, 1.0, backend)


def test_frame_not_word_aligned() -> None:
    """A frame starting mid-word (width a multiple of 4) skips the uint64 view."""
    scale = AduScale(16)
    rng = np.random.default_rng(17)
    buffer = rng.integers(0, 65536, size=40 * 64 + 1, dtype=np.uint16)
    frame = buffer[1:].reshape(40, 64)
    assert frame.flags.c_contiguous and frame.ctypes.data % 8
    for backend in BACKENDS:
        assert_same_analysis(frame, scale, "BGGR", 1.0, backend)

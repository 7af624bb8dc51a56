"""A camera's raw file (CR2, CR3, NEF, ARW...) to its raw CFA mosaic, through LibRaw.

``rawpy`` (LibRaw) is the optional extra ``autoflats[dslr]``; it is imported only
when a raw file is decoded. The mosaic is the visible area, undemosaiced and
unscaled, with LibRaw's black level (mean of the four channels) and white level: the
two define full scale for DSLR flats. A 16-bit PGM (the simulated DSLR's stand-in
for a raw file) is read without LibRaw.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from drivers.base import BAYER_PATTERNS
from drivers.errors import FrameError, LibraryLoadError


@dataclass(frozen=True, slots=True)
class RawMosaic:
    """The raw CFA values of one frame (native ADU) and what defines their scale."""

    values: npt.NDArray[np.uint16]
    bayer_pattern: str | None
    black_level: float
    white_level: int

    @property
    def bit_depth(self) -> int:
        """The fewest bits that hold the white level (14 for a white level of 15000)."""
        return min(max(int(self.white_level).bit_length(), 8), 16)


def decode_raw(content: bytes, extension: str) -> RawMosaic:
    """Decode a raw file's bytes; raises FrameError for a file LibRaw cannot read."""
    if extension.lower() == ".pgm":
        return _decode_pgm(content)
    try:
        import rawpy
    except ImportError as error:
        raise LibraryLoadError(
            "rawpy (LibRaw) is not installed, so raw files cannot be read; install "
            "autoflats[dslr] (pip install rawpy)") from error
    try:
        with rawpy.imread(io.BytesIO(content)) as raw:
            return _mosaic_from_rawpy(raw)
    except (rawpy.LibRawError, ValueError, OSError) as error:
        raise FrameError(f"the camera's raw file could not be decoded ({error})") from None


def _mosaic_from_rawpy(raw: Any) -> RawMosaic:
    """The visible mosaic, its CFA pattern from LibRaw's colour indices, and its levels."""
    values = np.array(raw.raw_image_visible, dtype=np.uint16, copy=True)
    if int(raw.num_colors) < 3 or values.ndim != 2:
        raise FrameError("the raw file is not a Bayer mosaic (Foveon, X-Trans or linear "
                         "DNG are not supported)")
    desc = bytes(raw.color_desc).decode("ascii")
    colours = np.asarray(raw.raw_colors_visible)[:2, :2]
    pattern = "".join(desc[int(c)] for c in colours.flat).upper()
    bayer = pattern if pattern in BAYER_PATTERNS else None
    if bayer is None:
        raise FrameError(f"unsupported CFA pattern {pattern!r} (an RGGB-family Bayer "
                         "mosaic is needed)")
    black = float(np.mean(raw.black_level_per_channel))
    white = int(raw.white_level)
    per_channel = getattr(raw, "camera_white_level_per_channel", None)
    if per_channel:
        white = min(white, *(int(w) for w in per_channel if int(w) > 0))
    return RawMosaic(values, bayer, black, white)


def _decode_pgm(content: bytes) -> RawMosaic:
    """A binary 16-bit PGM: 'P5', width, height, maxval, then big-endian samples."""
    fields: list[bytes] = []
    position = 0
    while len(fields) < 4:
        while position < len(content) and content[position:position + 1].isspace():
            position += 1
        start = position
        while position < len(content) and not content[position:position + 1].isspace():
            position += 1
        if start == position:
            raise FrameError("the raw file is truncated (PGM header)")
        fields.append(content[start:position])
    position += 1
    if fields[0] != b"P5":
        raise FrameError("not a binary PGM file")
    width, height, maxval = (int(f) for f in fields[1:])
    expected = width * height * 2
    data = content[position:position + expected]
    if len(data) != expected or maxval < 256:
        raise FrameError(f"the raw file is truncated ({len(data)} of {expected} bytes)")
    values = np.frombuffer(data, dtype=">u2").reshape(height, width).astype(np.uint16)
    return RawMosaic(values, None, 0.0, maxval)


__all__ = ["RawMosaic", "decode_raw"]

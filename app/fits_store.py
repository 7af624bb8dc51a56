"""FITS flats that calibration tools accept: one header builder, safe names, atomic."""

from __future__ import annotations

import io
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import BinaryIO

import numpy as np
from astropy.io import fits

from app.atomic import write_new
from app.stats import Frame
from drivers.base import CameraInfo

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def safe_name_part(text: str, limit: int = 32) -> str:
    """``text`` reduced to letters, digits, '.', '_' and '-' (never a path)."""
    cleaned = _UNSAFE.sub("_", text).strip("._-")
    return cleaned[:limit] or "none"


def _header_text(text: str) -> str:
    """Printable ASCII only, as FITS requires."""
    return "".join(ch if 32 <= ord(ch) < 127 else "?" for ch in text)[:68]


@dataclass(frozen=True, slots=True)
class FlatMeta:
    """What goes into a flat's header besides the camera's fixed facts."""

    exposure_s: float
    gain: int
    offset: int
    binning: int
    filter_name: str
    date_obs: datetime
    ccd_temp_c: float | None = None
    set_temp_c: float | None = None
    mean_native: float | None = None
    #: native e-/ADU as the camera reports it at this gain (None: not reported)
    e_per_adu: float | None = None
    #: 'FLAT' or 'DARK' (a dark flat)
    image_type: str = "FLAT"


def flat_header(info: CameraInfo, meta: FlatMeta) -> fits.Header:
    """The header of one flat, per the conventions WBPP, Siril and others match on."""
    header = fits.Header()
    header["IMAGETYP"] = (meta.image_type, "type of image")
    header["FRAME"] = (meta.image_type.capitalize(), "type of image (SGPro/NINA style)")
    header["EXPTIME"] = (meta.exposure_s, "[s] exposure time")
    header["EXPOSURE"] = (meta.exposure_s, "[s] exposure time")
    header["DATE-OBS"] = (
        meta.date_obs.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3],
        "UTC start of exposure",
    )
    if info.gain_kind == "iso":
        header["GAIN"] = (meta.gain, "ISO")
        header["ISOSPEED"] = (meta.gain, "ISO speed")
    else:
        header["GAIN"] = (meta.gain, "camera gain setting (ZWO: 0.1 dB)")
    if info.has_offset:
        header["OFFSET"] = (meta.offset, "camera offset (black level) setting")
    header["XBINNING"] = (meta.binning, "binning factor in x")
    header["YBINNING"] = (meta.binning, "binning factor in y")
    header["XPIXSZ"] = (info.pixel_size_um * meta.binning, "[um] pixel size incl. binning")
    header["YPIXSZ"] = (info.pixel_size_um * meta.binning, "[um] pixel size incl. binning")
    header["INSTRUME"] = (_header_text(info.model), "camera model")
    header["BITDEPTH"] = (info.bit_depth, "native ADC bits; data MSB-aligned in 16")
    e_per_adu = meta.e_per_adu if meta.e_per_adu is not None else info.e_per_adu_at(meta.gain)
    if e_per_adu is not None:
        header["EGAIN"] = (round(e_per_adu, 5),
                           f"[e-/ADU] per native {info.bit_depth}-bit ADU, as reported")
    if meta.filter_name:
        header["FILTER"] = (_header_text(meta.filter_name), "filter name")
    if meta.ccd_temp_c is not None:
        header["CCD-TEMP"] = (round(meta.ccd_temp_c, 2), "[C] sensor temperature")
    if meta.set_temp_c is not None:
        header["SET-TEMP"] = (round(meta.set_temp_c, 2), "[C] cooler set-point")
    if info.bayer_pattern is not None:
        header["BAYERPAT"] = (info.bayer_pattern, "CFA pattern, top-down")
        header["XBAYROFF"] = (0, "Bayer x offset")
        header["YBAYROFF"] = (0, "Bayer y offset")
        header["ROWORDER"] = ("TOP-DOWN", "row 1 is the top of the image")
    if meta.mean_native is not None:
        header["MEANADU"] = (round(meta.mean_native, 2), "[native ADU] whole-frame mean")
    header["SWCREATE"] = ("autoflats", "software that wrote this file")
    return header


def flat_filename(session_stamp: str, index: int, meta: FlatMeta) -> str:
    """E.g. 'flat_20261125T120301_0001_Ha_1.234s_g100_o50_bin1.fits': sorts in order."""
    filter_part = safe_name_part(meta.filter_name) if meta.filter_name else "nofilter"
    exposure = safe_name_part(f"{meta.exposure_s:.4g}s")
    prefix = "flat" if meta.image_type == "FLAT" else "darkflat"
    return (
        f"{prefix}_{safe_name_part(session_stamp)}_{index:04d}_{filter_part}_{exposure}_"
        f"g{meta.gain}_o{meta.offset}_bin{meta.binning}.fits"
    )


def session_stamp(when: datetime) -> str:
    """UTC time as used in file names."""
    return when.astimezone(timezone.utc).strftime("%Y%m%dT%H%M%S")


#: FITS files come in blocks of this many bytes
FITS_BLOCK = 2880
#: rows converted at a time when streaming a frame out (a few MB, not a frame copy)
ROWS_PER_CHUNK = 256


def primary_header(frame: Frame, header: fits.Header) -> fits.Header:
    """The primary header of ``frame``: the structural keys first, then ``header``.

    uint16 pixels are stored as FITS 16-bit integers with BZERO = 32768, the way
    astropy, PixInsight and Siril write and read them.
    """
    if frame.dtype != np.uint16 or frame.ndim != 2:
        raise ValueError(f"flats are 2-D uint16, got {frame.dtype} {frame.shape}")
    height, width = frame.shape
    out = fits.Header()
    out["SIMPLE"] = (True, "conforms to FITS standard")
    out["BITPIX"] = (16, "array data type")
    out["NAXIS"] = (2, "number of array dimensions")
    out["NAXIS1"] = width
    out["NAXIS2"] = height
    out["EXTEND"] = True
    for card in header.cards:
        if card.keyword not in out and card.keyword not in ("BZERO", "BSCALE"):
            out.append(card)
    out["BZERO"] = (32768, "offset data range to that of unsigned short")
    out["BSCALE"] = (1, "default scaling factor")
    return out


def write_fits(handle: BinaryIO, frame: Frame, header: fits.Header) -> None:
    """Stream ``frame`` as a FITS file: one pass, a few MB at a time, no frame copy.

    Each stored value is the pixel - 32768 in big-endian 16-bit: the pixel with its
    top bit flipped, byte-swapped. astropy's own writer makes two frame-sized
    copies to do the same (120 MB each on a 61 MP sensor).
    """
    handle.write(primary_header(frame, header).tostring().encode("ascii"))
    flip = np.uint16(0x8000)
    chunk = np.empty((min(ROWS_PER_CHUNK, frame.shape[0]), frame.shape[1]), dtype=">u2")
    for start in range(0, frame.shape[0], ROWS_PER_CHUNK):
        rows = frame[start:start + ROWS_PER_CHUNK]
        out = chunk[:rows.shape[0]]
        np.bitwise_xor(rows, flip, out=out, casting="unsafe")
        handle.write(out.tobytes())
    written = frame.size * 2
    handle.write(b"\0" * (-written % FITS_BLOCK))


def fits_bytes(frame: Frame, header: fits.Header) -> bytes:
    """The FITS file for ``frame`` (uint16 stored as int16 + BZERO 32768)."""
    buffer = io.BytesIO()
    write_fits(buffer, frame, header)
    return buffer.getvalue()


def write_flat(
    folder: Path,
    name: str,
    frame: Frame,
    header: fits.Header,
    on_published: Callable[[Path], None] | None = None,
) -> Path:
    """Write one flat atomically under a free name in ``folder``; returns its path."""
    primary_header(frame, header)  # refuse a bad frame before creating any file

    def write(handle: BinaryIO) -> None:
        write_fits(handle, frame, header)

    return write_new(folder / name, write, on_published=on_published)


def write_raw_beside(folder: Path, fits_name: str, content: bytes, extension: str) -> Path:
    """The camera's own raw file (CR2, NEF...), byte for byte, named like its FITS."""
    def write(handle: BinaryIO) -> None:
        handle.write(content)

    folder.mkdir(parents=True, exist_ok=True)
    return write_new(folder / Path(fits_name).with_suffix(extension.lower()), write)


def utc_now() -> datetime:
    """The current time, timezone-aware UTC."""
    return datetime.now(timezone.utc)

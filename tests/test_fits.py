"""FITS files calibration tools accept; names that sort; never overwrite."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pytest
from astropy.io import fits

from app.fits_store import FlatMeta, flat_filename, flat_header, safe_name_part, write_flat
from drivers.base import CameraInfo

INFO = CameraInfo("Cam", "ZWO ASI294MC Pro", "zwo", 64, 48, 14, "RGGB", 4.63, 3.9, (1, 2),
                  True)
META = FlatMeta(exposure_s=1.25, gain=120, offset=30, binning=1, filter_name="L-eXtreme",
                date_obs=datetime(2026, 11, 25, 6, 30, 1, 250000, tzinfo=timezone.utc),
                ccd_temp_c=-9.8, set_temp_c=-10.0, mean_native=8190.0)


def test_header_has_what_calibration_tools_match_on(tmp_path: Path) -> None:
    frame = (np.arange(48 * 64, dtype=np.uint16).reshape(48, 64) % 16384) << 2
    path = write_flat(tmp_path, "a.fits", frame, flat_header(INFO, META))
    with fits.open(path) as hdul:
        header = hdul[0].header
        data = hdul[0].data
        assert header["BITPIX"] == 16 and header["BZERO"] == 32768
        assert data.dtype.kind == "u" and np.array_equal(data, frame)
    expected = {"IMAGETYP": "FLAT", "EXPTIME": 1.25, "EXPOSURE": 1.25,
                "DATE-OBS": "2026-11-25T06:30:01.250", "GAIN": 120, "OFFSET": 30,
                "XBINNING": 1, "YBINNING": 1, "INSTRUME": "ZWO ASI294MC Pro",
                "BITDEPTH": 14, "BAYERPAT": "RGGB", "ROWORDER": "TOP-DOWN",
                "FILTER": "L-eXtreme", "CCD-TEMP": -9.8, "SET-TEMP": -10.0, "XPIXSZ": 4.63}
    for key, value in expected.items():
        assert header[key] == value, key


def test_mono_header_has_no_bayer_keys() -> None:
    mono = CameraInfo("Cam", "Sim", "sim", 64, 48, 12, None, 3.8, None, (1,), False)
    header = flat_header(mono, META)
    assert "BAYERPAT" not in header and "ROWORDER" not in header and "EGAIN" not in header


def test_names_sort_say_what_they_are_and_are_safe() -> None:
    names = [flat_filename("20261125T063001", i, META) for i in (2, 10, 1)]
    assert sorted(names) == [names[2], names[0], names[1]]
    assert names[2] == "flat_20261125T063001_0001_L-eXtreme_1.25s_g120_o30_bin1.fits"
    hostile = FlatMeta(1.0, 0, 0, 1, "../../x\x00\x1b[31m", META.date_obs)
    name = flat_filename("s", 1, hostile)
    assert "/" not in name and ".." not in name and "\x00" not in name
    assert safe_name_part("...") == "none"


def test_never_overwrites(tmp_path: Path) -> None:
    frame = np.zeros((4, 8), dtype=np.uint16)
    existing = tmp_path / "a.fits"
    existing.write_bytes(b"precious")
    second = write_flat(tmp_path, "a.fits", frame, flat_header(INFO, META))
    third = write_flat(tmp_path, "a.fits", frame, flat_header(INFO, META))
    assert existing.read_bytes() == b"precious"
    assert {second.name, third.name} == {"a_1.fits", "a_2.fits"}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.fits", "a_1.fits", "a_2.fits"]


def test_no_overwrite_on_filesystems_without_hard_links(tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    def no_links(source: object, target: object) -> None:
        raise PermissionError(1, "Operation not permitted")  # as on FAT / exFAT

    monkeypatch.setattr(os, "link", no_links)
    frame = np.zeros((4, 8), dtype=np.uint16)
    (tmp_path / "a.fits").write_bytes(b"precious")
    written = write_flat(tmp_path, "a.fits", frame, flat_header(INFO, META))
    assert written.name == "a_1.fits" and (tmp_path / "a.fits").read_bytes() == b"precious"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.fits", "a_1.fits"]


def test_streamed_fits_has_astropys_bytes_and_reads_back_exactly(tmp_path: Path) -> None:
    import io

    import numpy as np

    from app.fits_store import fits_bytes

    rng = np.random.default_rng(4)
    frame = rng.integers(0, 65536, (601, 333)).astype(np.uint16)  # > one chunk of rows
    frame[0, 0], frame[-1, -1] = 0, 65535
    ours = fits_bytes(frame, flat_header(INFO, META))
    theirs = io.BytesIO()
    fits.PrimaryHDU(data=frame, header=flat_header(INFO, META)).writeto(theirs)
    data_bytes = frame.size * 2 + (-frame.size * 2) % 2880
    assert ours[-data_bytes:] == theirs.getvalue()[-data_bytes:]
    assert len(ours) % 2880 == 0
    with fits.open(io.BytesIO(ours)) as hdul:
        hdul.verify("exception")
        assert hdul[0].header["BZERO"] == 32768 and hdul[0].header["IMAGETYP"] == "FLAT"
        assert np.array_equal(hdul[0].data, frame)

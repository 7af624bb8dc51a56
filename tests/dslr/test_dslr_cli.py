"""The simulated DSLR end to end from the command line: discrete speeds, ISO, raw
files beside the FITS, with and without a dimmable panel."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from astropy.io import fits

from app.cli.main import main

SMALL = "width = 240\nheight = 160\ntime_scale = 0.0\nseed = 3\n"


def _run(tmp_path: Path, toml: str, *extra: str) -> dict:  # type: ignore[type-arg]
    config = tmp_path / "sim.toml"
    config.write_text(toml, encoding="utf-8")
    out = tmp_path / "out"
    code = main(["flats", "--camera", "sim-dslr", "--sim-config", str(config), "--count", "3",
                 "--out", str(out), "--no-history", "--quiet", *extra])
    assert code == 0
    record: dict = json.loads((out / "session.json").read_text(encoding="utf-8"))  # type: ignore[type-arg]
    assert record["status"] == "completed"
    fits_files = sorted(out.glob("*.fits"))
    assert len(fits_files) == 3
    for path in fits_files:
        assert path.with_suffix(".pgm").exists()  # the camera's own file beside it
        header = fits.getheader(path)
        assert header["IMAGETYP"] == "FLAT" and header["BAYERPAT"] == "RGGB"
        assert header["GAIN"] == header["ISOSPEED"] == 400 and "OFFSET" not in header
        assert header["EXPTIME"] == pytest.approx(record["exposure_s"])
    return record


def test_between_two_speeds_without_a_panel_takes_the_nearest_and_warns(tmp_path: Path) -> None:
    record = _run(tmp_path, SMALL)
    assert len(record["test_exposures"]) <= 3
    assert any("falls between" in w and "--tolerance" in w for w in record["warnings"])


def test_a_dimmable_panel_fine_tunes_the_level(tmp_path: Path) -> None:
    toml = SMALL + "[panel]\nflux_e_s_at_max = 9000.0\nhas_cover = false\n"
    record = _run(tmp_path, toml, "--panel", "sim", "--brightness", "auto")
    assert not any("falls between" in w for w in record["warnings"])
    assert 1.0 <= record["exposure_s"] <= 10.0
    assert len(record["test_exposures"]) <= 4
    target = record["target_native"]
    for flat in record["flats"]:
        assert abs(flat["mean_native"] - target) <= 0.05 * target


def test_sim_dslr_is_listed(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["cameras"]) == 0
    assert "sim-dslr" in capsys.readouterr().out

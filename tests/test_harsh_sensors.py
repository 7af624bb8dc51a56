"""Right answers on harsh sensors: each case creates its physical cause on the simulator
and checks the outcome against the simulator's truth (the solver never sees it)."""

from __future__ import annotations

import contextlib
import io
import json
import math
from pathlib import Path

import pytest
from astropy.io import fits

from app.cli import EXIT_OK, main
from app.events import FinishReason, SessionFinished, TestFrame
from app.session import FlatSession
from app.settings import FlatSettings
from drivers.simulator import SimulatedCamera
from tests.conftest import small_config


def run(camera: SimulatedCamera, settings: FlatSettings) -> list[object]:
    with camera:
        return list(FlatSession(camera, settings).events())


def record(out: Path) -> dict:  # type: ignore[type-arg]
    return json.loads((out / "session.json").read_text())


def test_applied_exposure_goes_to_the_record_and_the_headers(tmp_path: Path) -> None:
    step = 0.01
    camera = SimulatedCamera(small_config(exposure_step_s=step, bias_adu=200))
    events = run(camera, FlatSettings(out_dir=tmp_path, count=3))
    assert isinstance(events[-1], SessionFinished)
    assert events[-1].reason is FinishReason.COMPLETED
    data = record(tmp_path)
    on_grid = [(t - 32e-6) / step for t in
               [e["exposure_s"] for e in data["test_exposures"]] + [data["exposure_s"]]]
    assert all(abs(k - round(k)) < 1e-6 for k in on_grid)
    for flat in data["flats"]:
        with fits.open(tmp_path / flat["file"]) as hdul:
            assert hdul[0].header["EXPTIME"] == pytest.approx(flat["exposure_s"], rel=1e-12)
            assert hdul[0].header["EXPOSURE"] == hdul[0].header["EXPTIME"]


def test_a_grid_that_skips_the_target_stops_early_naming_the_step(tmp_path: Path) -> None:
    # Steps of 1 ms; the target needs about 1.5 ms: 1 ms and 2 ms both miss by ~33 %.
    camera = SimulatedCamera(small_config(exposure_step_s=1e-3, bias_adu=0, dark_current_e_s=0,
                                          min_exposure_s=1e-3))
    with camera:
        rate = camera.true_mean_native(1.0)
    camera = SimulatedCamera(small_config(exposure_step_s=1e-3, bias_adu=0, dark_current_e_s=0,
                                          min_exposure_s=1e-3,
                                          flux_e_s=10_000.0 * (8192 / 1.5e-3) / rate))
    events = run(camera, FlatSettings(out_dir=tmp_path, count=3))
    finished = events[-1]
    assert isinstance(finished, SessionFinished) and finished.reason is FinishReason.FAILED
    assert "step" in (finished.message or "") and "widen --tolerance" in (finished.message or "")
    tests = [e for e in events if isinstance(e, TestFrame)]
    assert len(tests) <= 6
    assert list(tmp_path.glob("*.fits")) == []


@pytest.mark.parametrize("jitter", [0.02, 0.03])
def test_jitter_is_not_mistaken_for_drift(tmp_path: Path, jitter: float) -> None:
    camera = SimulatedCamera(small_config(flux_jitter=jitter, seed=5))
    events = run(camera, FlatSettings(out_dir=tmp_path, count=40, max_rejected_flats=8))
    assert isinstance(events[-1], SessionFinished)
    assert events[-1].reason is FinishReason.COMPLETED, events[-1].message
    data = record(tmp_path)
    target = data["target_native"]
    assert len(data["flats"]) == 40
    assert all(abs(f["mean_native"] - target) <= 0.05 * target for f in data["flats"])
    # Chance alone drops P(|N(0, jitter)| > 5 %) of them: 1.2 % at 2 %, 9.6 % at 3 %.
    chance = 40 * math.erfc(0.05 / jitter / math.sqrt(2))
    assert data["rejected_flats"] <= chance + 3 * math.sqrt(chance + 1)
    # All kept flats share one exposure unless a real trend moved it.
    assert len({f["exposure_s"] for f in data["flats"]}) <= 2


@pytest.mark.parametrize("factor", [0.3, 3.0])
def test_a_wrong_reported_e_per_adu_costs_frames_not_answers(tmp_path: Path,
                                                             factor: float) -> None:
    camera = SimulatedCamera(small_config(reported_e_per_adu_factor=factor, bias_adu=400))
    events = run(camera, FlatSettings(out_dir=tmp_path, count=2))
    assert isinstance(events[-1], SessionFinished)
    assert events[-1].reason is FinishReason.COMPLETED, events[-1].message
    target = record(tmp_path)["target_native"]
    with camera:
        truth = camera.true_mean_native(record(tmp_path)["exposure_s"])
    assert abs(truth - target) <= 0.05 * target
    assert len([e for e in events if isinstance(e, TestFrame)]) <= 5


def test_a_hidden_exposure_offset_still_lands_on_target(tmp_path: Path) -> None:
    camera = SimulatedCamera(small_config(exposure_offset_s=2e-3, flux_e_s=2e6, bias_adu=300))
    events = run(camera, FlatSettings(out_dir=tmp_path, count=3))
    assert isinstance(events[-1], SessionFinished)
    assert events[-1].reason is FinishReason.COMPLETED, events[-1].message
    data = record(tmp_path)
    for flat in data["flats"]:
        assert abs(flat["mean_native"] - data["target_native"]) <= 0.05 * data["target_native"]


def _cli(*args: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(list(args))
    return code, out.getvalue(), err.getvalue()


def test_linearity_finds_the_limit_and_flats_respect_it(tmp_path: Path) -> None:
    sim = tmp_path / "asi1600.toml"
    sim.write_text("width = 256\nheight = 192\ntime_scale = 0\nseed = 3\nbit_depth = 12\n"
                   "nonlinearity = 0.1\nlinear_limit = 0.3\n")
    code, out, err = _cli("linearity", "--camera", "sim", "--sim-config", str(sim), "--json")
    assert code == EXIT_OK, err
    result = json.loads(out)
    assert 25 <= result["linear_limit_percent"] <= 35
    assert result["safe_target_percent"] < result["linear_limit_percent"]
    assert result["linear_limit_16bit"] == pytest.approx(
        result["linear_limit_percent"] / 100 * 65535, rel=0.01)
    assert len(result["points"]) >= 10
    # A flat run at 50 % now warns; with --lower-target it lands under the limit.
    code, _, err = _cli("flats", "--camera", "sim", "--sim-config", str(sim), "--count", "2",
                        "--out", str(tmp_path / "a"))
    assert code == EXIT_OK, err
    assert any("linear limit" in w for w in record(tmp_path / "a")["warnings"])
    code, _, err = _cli("flats", "--camera", "sim", "--sim-config", str(sim), "--count", "2",
                        "--out", str(tmp_path / "b"), "--lower-target")
    assert code == EXIT_OK, err
    data = record(tmp_path / "b")
    limit16 = result["linear_limit_16bit"]
    assert all(f["mean_16bit"] <= limit16 for f in data["flats"])
    assert any("lowered" in w for w in data["warnings"])


def test_a_non_linear_response_seen_across_the_frames_taken_is_warned(tmp_path: Path) -> None:
    # An ASI1600-like sensor at 50 %, its bias known (as from last night): the test
    # frame, the bias and the flats show the response bent by ~3.5 %.
    camera = SimulatedCamera(small_config(nonlinearity=0.1, linear_limit=0.3, bias_adu=200,
                                          seed=9))
    events = run(camera, FlatSettings(out_dir=tmp_path / "bent", count=4,
                                      first_exposure_s=0.02, bias_hint_native=200.0))
    assert isinstance(events[-1], SessionFinished)
    assert any("departs from linear" in w for w in record(tmp_path / "bent")["warnings"])
    # A linear sensor under a light that wobbles 2 % from frame to frame: no warning.
    camera = SimulatedCamera(small_config(flux_jitter=0.02, bias_adu=200, seed=9))
    run(camera, FlatSettings(out_dir=tmp_path / "wobbly", count=6, first_exposure_s=0.02,
                             bias_hint_native=200.0))
    assert not any("departs" in w for w in record(tmp_path / "wobbly")["warnings"])

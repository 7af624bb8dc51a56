"""Sky flats at dusk and dawn on the simulated twilight, judged against its truth."""

from __future__ import annotations

import contextlib
import io
import json
import math
import threading
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from app.actions import Cancelled, Wait
from app.cli import EXIT_OK, main
from app.events import FlatSaved, Notice, SessionFinished
from app.job import FlatJob, JobSettings, rig_record_fields
from app.procedures.sky_flats import SkyPlan, order_filters
from app.rig import Rig
from app.settings import FlatSettings
from app.sky_model import (
    Site,
    collected_per_rate,
    exposure_for_signal,
    pair_signal_native,
    sun_altitude_deg,
)
from drivers.clock import SimulatedClock
from drivers.devices import open_devices
from drivers.sim_config import SimConfig
from drivers.sim_sky import SimSkyConfig, SkyLight
from drivers.simulator import SimulatedCamera

SKY = """width = 256
height = 192
time_scale = 0
seed = 5
readout_s_per_mp = {readout_per_mp}

[sky]
kind = "{kind}"
halving_s = {halving}
flux_e_s_at_start = {flux}

[wheel]
filters = ["L", "R", "G", "B", "Ha", "OIII", "SII"]
throughput = [1.0, 0.33, 0.36, 0.30, 0.012, 0.015, 0.010]
move_s = 1.5
"""
#: e- a flat at the target collects (50 % of 14-bit at gain 100: 8192 ADU x 0.98 e-/ADU)
TARGET_E = 8030.0


def sky_toml(tmp_path: Path, kind: str, halving: float, flux: float,
             readout_s: float = 0.5) -> Path:
    path = tmp_path / f"sky-{kind}.toml"
    path.write_text(SKY.format(kind=kind, halving=halving, flux=flux,
                               readout_per_mp=readout_s / (256 * 192 / 1e6)))
    return path


def run_sky(tmp_path: Path, sim: Path, kind: str, count: int, filters: tuple[str, ...] = (),
            **flat: Any) -> tuple[list[object], dict[str, Any], Any]:
    """A sky job on the simulated rig; events, session.json, and the sky's served log."""
    devices = open_devices("sim", wheel="sim" if filters else None, sim_config_path=sim)
    settings = FlatSettings(out_dir=tmp_path / "out", count=count, **flat)
    throughput = None
    if filters:
        table = devices.wheel.config
        throughput = dict(zip(table.filters, table.throughput, strict=True))
    with devices:
        light = devices.camera._light
        assert isinstance(light, SkyLight)
        job = JobSettings(settings, filters=filters, sky=kind, throughput=throughput)
        events = list(FlatJob(Rig(devices.camera, None, devices.wheel), job).events())
        data = json.loads((tmp_path / "out" / "session.json").read_text())
        truth = judge(devices.camera, light, data)
    return events, data, truth


def judge(camera: SimulatedCamera, light: SkyLight, data: dict[str, Any]) -> dict[str, Any]:
    """Each recorded frame matched to the window the sky really lit, with its true level."""
    sections = data["filters"] if "filters" in data else [data]
    frames = sorted((f | {"filter": s.get("filter")} for s in sections
                     for f in s["sky_frames"]), key=lambda f: f["start_utc"])
    assert len(frames) == len(light.served)  # every exposure is recorded, once
    target, tol = data["target_native"], data["target_native"] * 0.05
    kept, wasted, errors = 0, 0, []
    for frame, served in zip(frames, light.served, strict=True):
        true_level = camera.true_mean_native(frame["exposure_s"], served.mean_flux_e_s)
        if not frame.get("clipped"):
            assert frame["measured_native"] == pytest.approx(true_level, rel=0.01)
        if frame["kept"]:
            kept += 1
            errors.append(abs(true_level - target) / tol)
        else:
            wasted += 1
    return {"kept": kept, "wasted": wasted, "worst_error_in_tolerances": max(errors or [0])}


def test_dusk_with_a_wheel_least_sensitive_first_every_flat_truly_on_target(
        tmp_path: Path) -> None:
    # Ha needs about 1.5 s at the start; the sky halves every 3 min.
    sim = sky_toml(tmp_path, "dusk", 180, TARGET_E / 1.5 / 0.012)
    events, data, truth = run_sky(tmp_path, sim, "dusk", 6, ("L", "R", "Ha"))
    finished = events[-1]
    assert isinstance(finished, SessionFinished), finished
    assert finished.message is None, finished.message
    order = [f["filter"] for f in data["filters"]]
    assert order == ["L", "R", "Ha"]  # the record keeps wheel order ...
    taken = sorted(data["filters"], key=lambda f: f["sky_frames"][0]["start_utc"])
    assert [f["filter"] for f in taken] == ["Ha", "R", "L"]  # ... the sky goes Ha, R, L
    for entry in data["filters"]:
        assert entry["status"] == "completed" and len(entry["flats"]) == 6
        assert entry["sky_model"]["halving_s"] == pytest.approx(180, rel=0.1)
        for frame in entry["sky_frames"]:
            assert "predicted_native" in frame and "measured_native" in frame
    assert truth["worst_error_in_tolerances"] <= 1.0
    assert truth["wasted"] <= 3  # the first probe, a filter change at most


def test_dawn_starts_at_once_and_every_flat_is_on_target(tmp_path: Path) -> None:
    sim = sky_toml(tmp_path, "dawn", 120, TARGET_E / 20.0)  # 20 s needed at the start
    events, data, truth = run_sky(tmp_path, sim, "dawn", 12)
    assert isinstance(events[-1], SessionFinished) and events[-1].message is None
    assert events[-1].exposure_s is None  # sky flats have no one exposure
    assert not any(isinstance(e, Notice) and "waiting" in e.message for e in events)
    exposures = [f["exposure_s"] for f in data["flats"]]
    assert len(exposures) == 12 and exposures == sorted(exposures, reverse=True)
    assert truth["worst_error_in_tolerances"] <= 1.0 and truth["wasted"] <= 2
    assert data["sky"] == "dawn" and data["sky_model"]["variable"] == "seconds"


def test_dusk_waits_for_a_sky_too_bright_then_hits_the_target(tmp_path: Path) -> None:
    sim = sky_toml(tmp_path, "dusk", 150, TARGET_E / 0.05)  # 0.05 s needed: wait ~7 min
    events, data, truth = run_sky(tmp_path, sim, "dusk", 5)
    notices = [e.message for e in events if isinstance(e, Notice)]
    assert any("too bright" in n and "waiting" in n for n in notices), notices
    assert any("left" in n for n in notices)  # the countdown
    first = data["sky_frames"][0]["start_utc"]
    first_flat = next(f for f in data["sky_frames"] if f["kept"])
    waited = (datetime.fromisoformat(first_flat["start_utc"])
              - datetime.fromisoformat(first)).total_seconds()
    assert waited == pytest.approx(150 * math.log2(1 / 0.05), rel=0.1)  # 20x dimmer
    assert len(data["flats"]) == 5 and truth["worst_error_in_tolerances"] <= 1.0
    assert truth["wasted"] <= 4


@pytest.mark.parametrize(("kind", "flux", "reason"), [
    ("dusk", TARGET_E / 2.0, "too dark"),    # 2 s now, over 5 s within 4 min
    ("dawn", TARGET_E / 4.0, "too bright"),  # 4 s now, under 1 s within 4 min
])
def test_running_out_of_sky_ends_with_a_clear_reason_and_keeps_the_flats(
        tmp_path: Path, kind: str, flux: float, reason: str) -> None:
    sim = sky_toml(tmp_path, kind, 90, flux)
    events, data, truth = run_sky(tmp_path, sim, kind, 500, max_exposure_s=5.0)
    finished = events[-1]
    assert isinstance(finished, SessionFinished) and finished.reason.value == "failed"
    assert reason in (finished.message or "") and "of 500 flats" in (finished.message or "")
    assert 20 <= len(data["flats"]) < 500 and data["status"] == "failed"
    assert len(list((tmp_path / "out").glob("*.fits"))) == len(data["flats"])
    assert truth["worst_error_in_tolerances"] <= 1.0
    assert truth["wasted"] <= 2


@pytest.mark.parametrize(("utc", "variable"), [
    (datetime(2026, 6, 21, 2, 35, tzinfo=timezone.utc), "sun_altitude_deg"),  # dawn
    (datetime(2026, 6, 20, 23, 0, tzinfo=timezone.utc), "seconds"),  # midnight: no trend
])
def test_cli_sky_with_site_and_wheel(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                     utc: datetime, variable: str) -> None:
    # Vienna: the sun rises at about 02:55 UTC on 21 June.
    sim = sky_toml(tmp_path, "dawn", 180, TARGET_E / 8.0)
    monkeypatch.setenv("AUTOFLATS_SITE", "48.2,16.4,200")
    monkeypatch.setattr("app.engine.utc_now", lambda: utc)
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(["flats", "--camera", "sim", "--sky", "dawn", "--count", "3", "--out",
                     str(tmp_path / "cli"), "--sim-config", str(sim), "--no-history",
                     "--filters", "R,L", "--wheel", "sim"])
    assert code == EXIT_OK, err.getvalue()
    data = json.loads((tmp_path / "cli" / "session.json").read_text())
    assert data["site"]["latitude_deg"] == 48.2
    assert data["filters"][0]["sky_model"]["variable"] == variable
    if variable == "seconds":
        assert any("not in dawn twilight" in w for w in data["warnings"])
    assert all(len(f["flats"]) == 3 for f in data["filters"])
    # no one exposure, so no dark flats to suggest: a master bias instead
    said = err.getvalue()
    assert "next: dark flats" not in said and "with a master bias" in said
    assert "done: 6 flats; record in" in said


def test_filter_order_by_throughput_and_by_names() -> None:
    names = ("L", "R", "Ha", "OIII")
    table = {"L": 1.0, "R": 0.33, "Ha": 0.012, "OIII": 0.015}
    assert order_filters(SkyPlan(True, names, table)) == ("Ha", "OIII", "R", "L")
    assert order_filters(SkyPlan(False, names, table)) == ("L", "R", "OIII", "Ha")
    assert order_filters(SkyPlan(True, names))[-1] == "L"  # guessed from the names


def test_the_integrated_exposure_inverts_the_integral() -> None:
    for kappa in (-math.log(2) / 90, 0.0, math.log(2) / 600):
        e = exposure_for_signal(5000.0, 1000.0, kappa)
        assert 1000.0 * collected_per_rate(kappa, e) == pytest.approx(5000.0)
    assert exposure_for_signal(5000.0, 1000.0, -1.0) == math.inf  # fades out first


def test_sun_altitude_against_known_positions() -> None:
    # Equinox, noon at Greenwich on the equator: the sun near the zenith.
    noon = datetime(2026, 3, 20, 12, 7, tzinfo=timezone.utc)
    assert sun_altitude_deg(noon, Site(0.0, 0.0)) > 88
    # Vienna, 2026-06-21 at 19:58 UTC+2 (sunset): about -0.8 deg (refraction, disc).
    sunset = datetime(2026, 6, 21, 18, 58, tzinfo=timezone.utc)
    assert sun_altitude_deg(sunset, Site(48.21, 16.37)) == pytest.approx(-0.8, abs=0.5)


def test_the_simulated_sky_integrates_over_each_exposure() -> None:
    clock = SimulatedClock(0)
    sky = SkyLight(SimSkyConfig("dusk", 30.0, 200.0), clock)
    config = SimConfig(width=128, height=96, time_scale=0, seed=1, bias_adu=100.0,
                       prnu=0, vignetting=0, dust_count=0, read_noise_e=0)
    with SimulatedCamera(config, clock=clock, light=sky) as cam:
        mean = float(cam.capture(30.0).frame.mean()) / 4 - 100  # 14-bit, MSB-aligned
    # half the light is gone by the end: the mean flux is 200 / (2 ln 2), not 200
    expected_e = 200.0 * 30.0 / (2 * math.log(2))
    assert mean == pytest.approx(expected_e / config.e_per_adu_at(config.gain_default),
                                 rel=0.01)


def test_a_wait_runs_on_the_camera_clock_and_cancel_ends_it(tmp_path: Path) -> None:
    sim = sky_toml(tmp_path, "dusk", 180, 1e5)
    devices = open_devices("sim", sim_config_path=sim)
    cancel = threading.Event()
    with devices:
        from app.engine import Engine

        engine = Engine(Rig(devices.camera), tmp_path, cancel=cancel)
        before = devices.camera.clock.monotonic()
        engine._execute(Wait(95.0, "test"))
        assert devices.camera.clock.monotonic() - before == pytest.approx(95.0)
        cancel.set()
        with pytest.raises(Cancelled):
            engine._execute(Wait(10.0, "test"))


def test_a_cloudy_sky_jitter_does_not_throw_the_model(tmp_path: Path) -> None:
    # 1.5 % frame-to-frame jitter on top of the twilight (thin cloud, seeing)
    sim = sky_toml(tmp_path, "dusk", 120, TARGET_E / 1.2)
    sim.write_text(sim.read_text().replace("seed = 5", "seed = 5\nflux_jitter = 0.015"))
    devices = open_devices("sim", sim_config_path=sim)
    with devices:
        job = JobSettings(FlatSettings(out_dir=tmp_path / "out", count=25), sky="dusk")
        events = list(FlatJob(Rig(devices.camera), job).events())
    assert isinstance(events[-1], SessionFinished) and events[-1].message is None
    data = json.loads((tmp_path / "out" / "session.json").read_text())
    frames = data["sky_frames"]
    assert len(data["flats"]) == 25 and len(frames) <= 28
    assert data["sky_model"]["halving_s"] == pytest.approx(120, rel=0.15)


@pytest.mark.parametrize(("more", "message"), [
    (("--site", "48,16"), "--site is for sky flats"),
    (("--sky", "dusk", "--panel", "sim"), "leave out --panel"),
    (("--sky", "dusk", "--dark-flats", "3"), "master bias"),
    (("--sky", "dusk", "--site", "95,16"), "latitude"),
])
def test_the_command_line_refuses_what_sky_flats_cannot_do(
        tmp_path: Path, more: tuple[str, ...], message: str) -> None:
    sim = sky_toml(tmp_path, "dusk", 180, 1e5)
    err = io.StringIO()
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(err):
        code = main(["flats", "--camera", "sim", "--count", "3", "--out", str(tmp_path / "x"),
                     "--sim-config", str(sim), *more])
    assert code == 2 and message in err.getvalue(), err.getvalue()


def test_a_twilight_too_short_for_every_filter_is_shared_fairly(tmp_path: Path) -> None:
    # Three narrowband filters share one window (their throughputs are alike) in a
    # fast dusk with a slow readout: 20 flats each do not fit.
    sim = sky_toml(tmp_path, "dusk", 90, TARGET_E / 1.5 / 0.010, readout_s=3.0)
    events, data, truth = run_sky(tmp_path, sim, "dusk", 20, ("Ha", "OIII", "SII"),
                                  max_exposure_s=30.0)
    finished = events[-1]
    assert isinstance(finished, SessionFinished) and "shared" in (finished.message or "")
    got = {f["filter"]: len(f["flats"]) for f in data["filters"]}
    assert min(got.values()) >= 10 and max(got.values()) - min(got.values()) <= 6, got
    assert truth["worst_error_in_tolerances"] <= 1.0 and truth["wasted"] <= 3


@pytest.mark.parametrize("ratio", [0.92, 1.0, 1.08])  # the sky's change between the two
def test_photon_transfer_on_a_pair_at_two_sky_levels_finds_the_signal(ratio: float) -> None:
    rng = np.random.default_rng(5)
    height, width, gain, bias = 400, 600, 1.5, 100.0  # e-/ADU, native ADU
    y, x = np.mgrid[0:height, 0:width]
    vignetting = 1 - 0.35 * ((x - width / 2) ** 2 + (y - height / 2) ** 2) / (width / 2) ** 2
    pattern = vignetting * rng.normal(1.0, 0.01, (height, width))  # and 1 % PRNU
    signal_b = 6000.0
    frames = []
    for signal in (signal_b * ratio, signal_b):
        electrons = rng.poisson(signal * gain * pattern)
        frames.append((bias + electrons / gain + rng.normal(0, 1.0, pattern.shape))
                      .astype(np.float32))
    a, b = frames
    truth = (float(a.mean()) + float(b.mean())) / 2 - bias
    assert pair_signal_native(a, b, gain) == pytest.approx(truth, rel=0.01)


def test_a_cancelled_sky_run_resumes_as_sky_flats(tmp_path: Path) -> None:
    sim = sky_toml(tmp_path, "dawn", 120, TARGET_E / 20.0)
    out = tmp_path / "out"
    devices = open_devices("sim", sim_config_path=sim)
    cancel = threading.Event()
    saved = 0
    with devices:
        job = JobSettings(FlatSettings(out_dir=out, count=6), sky="dawn")
        runner = FlatJob(Rig(devices.camera, None, None), job, cancel=cancel,
                         camera_id="sim", record_extra=rig_record_fields(None, None, sim))
        for event in runner.events():
            saved += isinstance(event, FlatSaved)
            if saved == 2:
                cancel.set()
    assert json.loads((out / "session.json").read_text())["status"] == "cancelled"
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        code = main(["flats", "--resume", str(out)])
    assert code == EXIT_OK, err.getvalue()
    data = json.loads((out / "session.json").read_text())
    assert data["sky"] == "dawn" and data["status"] == "completed"
    # predicted from the sky model, not searched for as at a panel
    assert len(data["flats"]) == 6 and "exposure found" not in err.getvalue()
    assert "with a master bias" in err.getvalue()

"""The whole flats job on the simulated rig: panel, cover, wheel, every filter, dark flats."""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import threading
from pathlib import Path
from typing import Any

import pytest
from astropy.io import fits

from app.cli import EXIT_OK, EXIT_USAGE, main
from app.cli.job import resume_job_args
from app.events import FinishReason, Notice, Progress, SessionFinished
from app.job import FlatJob, JobSettings, rig_record_fields
from app.rig import Rig
from app.settings import FlatSettings, SettingsError
from drivers.devices import open_devices

RIG = """width = 256
height = 192
time_scale = 0
seed = 2

[panel]
levels = 255
flux_e_s_at_max = 40000
gamma = {gamma}
min_level = 1
has_cover = true
light_leak = {leak}

[wheel]
filters = ["L", "R", "G", "B", "Ha", "OIII", "SII"]
throughput = [1.0, 0.33, 0.36, 0.30, 0.012, 0.015, 0.010]
move_s = 1.5
"""


def rig_toml(tmp_path: Path, gamma: float = 1.0, leak: float = 0.0) -> Path:
    path = tmp_path / "rig.toml"
    path.write_text(RIG.format(gamma=gamma, leak=leak))
    return path


def cli(*args: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(list(args))
    return code, out.getvalue(), err.getvalue()


def job_cli(tmp_path: Path, sim: Path, *more: str) -> tuple[int, dict[str, Any], str]:
    out = tmp_path / "job"
    code, _, err = cli("flats", "--camera", "sim", "--count", "4", "--out", str(out),
                       "--sim-config", str(sim), "--no-history", *more)
    path = out / "session.json"
    return code, (json.loads(path.read_text()) if path.exists() else {}), err


@pytest.mark.parametrize("gamma", [1.0, 2.2])
def test_every_filter_on_target_inside_the_window_then_matching_dark_flats(
        tmp_path: Path, gamma: float) -> None:
    sim = rig_toml(tmp_path, gamma=gamma)
    code, data, err = job_cli(tmp_path, sim, "--filters", "L,R,G,B,Ha", "--wheel", "sim",
                              "--panel", "sim", "--brightness", "auto", "--dark-flats", "3")
    assert code == EXIT_OK, err
    assert data["status"] == "completed"
    target = data["target_native"]
    assert [f["filter"] for f in data["filters"]] == ["L", "R", "G", "B", "Ha"]
    # a linear sensor: frames from several brightness levels are not one response curve
    assert not any("departs from linear" in w for w in data["warnings"])
    exposures = set()
    for entry in data["filters"]:
        assert entry["status"] == "completed" and len(entry["flats"]) == 4
        assert entry["brightness"] is not None
        # broadband inside 1-10 s; narrowband at full brightness may need more (warned)
        if entry["filter"] != "Ha":
            assert 1.0 <= entry["exposure_s"] <= 10.0
        else:
            assert entry["brightness"] == 255 and any("Ha needs" in w for w in data["warnings"])
        for flat in entry["flats"]:
            assert flat["file"].startswith(entry["filter"] + "/")
            assert abs(flat["mean_native"] - target) <= 0.05 * target
            assert flat["exposure_s"] == entry["exposure_s"]
            with fits.open(tmp_path / "job" / flat["file"]) as hdul:
                assert hdul[0].header["FILTER"] == entry["filter"]
                assert hdul[0].header["IMAGETYP"] == "FLAT"
        exposures.add(entry["exposure_s"])
    darks = data["dark_flats"]
    assert len(darks) == 3 * len(exposures)
    assert {d["exposure_s"] for d in darks} == exposures  # exactly the flats' exposures
    for dark in darks:
        assert dark["file"].startswith("darkflats/")
        assert dark["mean_native"] < 0.01 * target + 200
        with fits.open(tmp_path / "job" / dark["file"]) as hdul:
            assert hdul[0].header["IMAGETYP"] == "DARK"
            assert hdul[0].header["EXPTIME"] == dark["exposure_s"]


def test_filters_run_in_wheel_order_and_unknown_ones_are_refused(tmp_path: Path) -> None:
    sim = rig_toml(tmp_path)
    code, data, err = job_cli(tmp_path, sim, "--filters", "ha,L", "--wheel", "sim",
                              "--panel", "sim", "--brightness", "auto")
    assert code == EXIT_OK, err
    assert [f["filter"] for f in data["filters"]] == ["L", "ha"]
    code, _, err = cli("flats", "--camera", "sim", "--count", "2", "--out",
                       str(tmp_path / "x"), "--sim-config", str(sim), "--filters", "L,Lum",
                       "--wheel", "sim")
    assert code == EXIT_USAGE and "no filter Lum" in err and "L, R, G" in err
    code, _, err = cli("flats", "--camera", "sim", "--count", "2", "--out",
                       str(tmp_path / "y"), "--sim-config", str(sim), "--filters", "L")
    assert code == EXIT_USAGE and "--wheel" in err


def test_a_light_leak_stops_the_dark_flats(tmp_path: Path) -> None:
    sim = rig_toml(tmp_path, leak=0.05)
    code, data, err = job_cli(tmp_path, sim, "--panel", "sim", "--brightness", "auto",
                              "--dark-flats", "2")
    assert code == 1 and "light leak" in err
    assert data["status"] == "failed" and data["dark_flats"] == []
    assert len(data["flats"]) == 4  # the flats are kept
    assert not (tmp_path / "job" / "darkflats").exists() or not list(
        (tmp_path / "job" / "darkflats").glob("*.fits"))


def test_a_filter_out_of_reach_is_reported_and_the_others_go_on(tmp_path: Path) -> None:
    sim = rig_toml(tmp_path)
    code, data, err = job_cli(tmp_path, sim, "--filters", "L,SII", "--wheel", "sim",
                              "--panel", "sim", "--brightness", "auto", "--max-exposure", "5",
                              "--dark-flats", "1")
    assert code == 1 and "SII" in err
    entries = {f["filter"]: f for f in data["filters"]}
    assert entries["L"]["status"] == "completed" and len(entries["L"]["flats"]) == 4
    assert entries["SII"]["status"] == "failed" and entries["SII"]["flats"] == []
    assert "too dark" in entries["SII"]["error"]
    assert len(data["dark_flats"]) == 1  # dark flats for the filter that worked


def test_a_fixed_brightness_is_set_once_and_kept(tmp_path: Path) -> None:
    sim = rig_toml(tmp_path)
    code, data, err = job_cli(tmp_path, sim, "--panel", "sim", "--brightness", "40")
    assert code == EXIT_OK, err
    assert data["brightness"] == 40 and len(data["flats"]) == 4
    assert "filters" not in data and data["test_exposures"] is not None  # one-filter layout


def _job(tmp_path: Path, sim: Path, **job: Any) -> tuple[list[object], Any]:
    devices = open_devices("sim", panel="sim", wheel="sim", sim_config_path=sim)
    settings = FlatSettings(out_dir=tmp_path / "job", count=2)
    with devices:
        setup = job.pop("setup", None)
        if setup is not None:
            setup(devices)
        runner = FlatJob(Rig(devices.camera, devices.panel, devices.wheel),
                         JobSettings(settings, **job), ask_user=lambda m, c: None)
        return list(runner.events()), devices


def test_a_cover_that_never_closes_ends_the_job_with_a_clear_message(tmp_path: Path) -> None:
    def stuck(devices: Any) -> None:
        devices.panel.open_cover(60)
        devices.panel.faults.cover_stuck = True

    events, _ = _job(tmp_path, rig_toml(tmp_path), filters=("L",), brightness="auto",
                     setup=stuck)
    finished = events[-1]
    assert isinstance(finished, SessionFinished) and finished.reason is FinishReason.FAILED
    assert "cover" in (finished.message or "")
    assert not list((tmp_path / "job").rglob("*.fits"))


def test_a_wheel_that_never_arrives_or_a_panel_unplugged_loses_nothing(tmp_path: Path) -> None:
    def never(devices: Any) -> None:
        devices.wheel.fault_never_arrive = True

    events, _ = _job(tmp_path, rig_toml(tmp_path), filters=("L", "R"), brightness="auto",
                     setup=never)
    finished = events[-1]
    assert isinstance(finished, SessionFinished) and finished.reason is FinishReason.FAILED
    assert "filter wheel" in (finished.message or "")
    data = json.loads((tmp_path / "job" / "session.json").read_text())
    assert data["status"] == "failed"


def test_cancel_mid_job_keeps_complete_files(tmp_path: Path) -> None:
    devices = open_devices("sim", panel="sim", wheel="sim", sim_config_path=rig_toml(tmp_path))
    cancel = threading.Event()
    with devices:
        runner = FlatJob(Rig(devices.camera, devices.panel, devices.wheel),
                         JobSettings(FlatSettings(out_dir=tmp_path / "job", count=6),
                                     filters=("L", "R"), brightness="auto"), cancel=cancel)
        for event in runner.events():
            if type(event).__name__ == "FlatSaved":
                cancel.set()
            last = event
    assert isinstance(last, SessionFinished) and last.reason is FinishReason.CANCELLED
    data = json.loads((tmp_path / "job" / "session.json").read_text())
    listed = {f["file"] for e in data["filters"] for f in e["flats"]}
    on_disk = {str(p.relative_to(tmp_path / "job")) for p in (tmp_path / "job").rglob("*.fits")}
    assert listed == on_disk and data["status"] == "cancelled"


def test_an_interrupted_job_resumes_where_it_stopped(tmp_path: Path) -> None:
    sim = rig_toml(tmp_path)
    out = tmp_path / "job"
    devices = open_devices("sim", panel="sim", wheel="sim", sim_config_path=sim)
    cancel = threading.Event()
    saved = 0
    with devices:
        runner = FlatJob(Rig(devices.camera, devices.panel, devices.wheel),
                         JobSettings(FlatSettings(out_dir=out, count=3),
                                     filters=("L", "R", "G"), brightness="auto",
                                     dark_count=2),
                         cancel=cancel, camera_id="sim",
                         record_extra={"panel": "sim", "wheel": "sim",
                                       "sim_config": str(sim)})
        for event in runner.events():
            if type(event).__name__ == "FlatSaved":
                saved += 1
                if saved == 4:  # L done, one flat of R
                    cancel.set()
    before = json.loads((out / "session.json").read_text())
    assert before["status"] == "cancelled"
    kept = {f["file"] for e in before["filters"] for f in e["flats"]}
    code, _, err = cli("flats", "--resume", str(out))
    assert code == EXIT_OK, err
    data = json.loads((out / "session.json").read_text())
    assert data["status"] == "completed" and data["resumed"] is True
    for entry in data["filters"]:
        assert len(entry["flats"]) == 3 and entry["status"] == "completed"
    files = {f["file"] for e in data["filters"] for f in e["flats"]}
    assert kept <= files and len(files) == 9
    on_disk = {str(p.relative_to(out)) for p in out.rglob("flat_*.fits")}
    assert on_disk == files
    exposures = {e["exposure_s"] for e in data["filters"]}
    assert len(data["dark_flats"]) == 2 * len(exposures)


@pytest.mark.parametrize("device", ["panel", "wheel"])
def test_a_device_unplugged_mid_job_stops_it_and_keeps_every_file(tmp_path: Path,
                                                                  device: str) -> None:
    devices = open_devices("sim", panel="sim", wheel="sim", sim_config_path=rig_toml(tmp_path))
    out = tmp_path / "job"
    with devices:
        runner = FlatJob(Rig(devices.camera, devices.panel, devices.wheel),
                         JobSettings(FlatSettings(out_dir=out, count=2),
                                     filters=("L", "R", "G"), brightness="auto"))
        for event in runner.events():
            if type(event).__name__ == "FlatSaved" and event.index == 2:  # type: ignore[attr-defined]
                if device == "panel":
                    devices.panel.faults.disconnected = True  # type: ignore[union-attr]
                else:
                    devices.wheel.fault_disconnected = True  # type: ignore[union-attr]
            last = event
    assert isinstance(last, SessionFinished) and last.reason is FinishReason.FAILED
    message = last.message or ""
    assert ("flip-flat" if device == "panel" else "wheel") in message.lower()
    data = json.loads((out / "session.json").read_text())
    assert data["status"] == "failed" and data["error"] == message
    listed = {f["file"] for e in data["filters"] for f in e["flats"]}
    on_disk = {str(p.relative_to(out)) for p in out.rglob("*.fits")}
    assert listed == on_disk and len(listed) >= 2


def test_the_next_job_starts_at_last_times_brightness_and_exposure(tmp_path: Path) -> None:
    sim = rig_toml(tmp_path)
    frames = []
    for night in ("one", "two"):
        out = tmp_path / night
        code, _, err = cli("flats", "--camera", "sim", "--count", "2", "--out", str(out),
                           "--sim-config", str(sim), "--filters", "L,R", "--wheel", "sim",
                           "--panel", "sim", "--brightness", "auto")
        assert code == EXIT_OK, err
        data = json.loads((out / "session.json").read_text())
        frames.append(sum(len(f["test_exposures"]) for f in data["filters"]))
        levels = [f["brightness"] for f in data["filters"]]
    # (the suite points AUTOFLATS_HISTORY at a fresh temp file per test)
    assert frames[1] == 0 < frames[0]  # night two: the first frame of each filter is a flat
    assert all(level is not None for level in levels)


def test_a_job_lit_by_the_apps_screen_resumes_only_with_another_panel() -> None:
    record: dict[str, object] = {"panel": "screen", "wheel": "sim",
                                 "filters": [{"filter": "L"}, {"filter": "R"}]}
    args = argparse.Namespace(filters=None, panel=None, wheel=None, brightness=None,
                              dark_flats=0, max_flat_exposure=None, sky=None, site=None)
    with pytest.raises(SettingsError, match="screen panel, which the command line cannot"):
        resume_job_args(args, record)
    args = argparse.Namespace(filters=None, panel="sim", wheel=None, brightness=None,
                              dark_flats=0, max_flat_exposure=None, sky=None, site=None)
    resume_job_args(args, record)  # the panel given again wins
    assert (args.panel, args.wheel, args.filters) == ("sim", "sim", "L,R")


@pytest.mark.parametrize("filters", [(), ("L", "R")])
def test_a_job_cancelled_in_its_dark_flats_resumes_them(tmp_path: Path,
                                                        filters: tuple[str, ...]) -> None:
    sim = rig_toml(tmp_path)
    out = tmp_path / "job"
    devices = open_devices("sim", panel="sim", wheel="sim" if filters else None,
                           sim_config_path=sim)
    cancel = threading.Event()
    with devices:
        runner = FlatJob(Rig(devices.camera, devices.panel, devices.wheel),
                         JobSettings(FlatSettings(out_dir=out, count=2), filters=filters,
                                     brightness="auto", dark_count=3),
                         cancel=cancel, camera_id="sim",
                         record_extra=rig_record_fields("sim", "sim" if filters else None,
                                                        sim))
        in_darks, turns = False, 0
        for event in runner.events():
            in_darks = in_darks or (isinstance(event, Notice)
                                    and event.message.startswith("dark flats"))
            turns += in_darks and isinstance(event, Progress)
            if turns == 2:
                cancel.set()  # at the second dark's turn: every flat and one dark taken
            if isinstance(event, SessionFinished):
                finished = event
    assert finished.reason is FinishReason.CANCELLED
    darks_before = {d["file"] for d in json.loads((out / "session.json").read_text())
                    ["dark_flats"]}
    assert 1 <= len(darks_before) < 3
    flats = 2 * max(len(filters), 1)
    assert finished.kept_text() == f"{flats} flats and {len(darks_before)} dark flat" + (
        "s kept" if len(darks_before) > 1 else " kept")
    code, _, err = cli("flats", "--resume", str(out))
    assert code == EXIT_OK, err
    data = json.loads((out / "session.json").read_text())
    assert data["status"] == "completed"
    darks = {d["file"] for d in data["dark_flats"]}
    exposures = {e["exposure_s"] for e in data.get("filters", [data])}
    assert darks_before <= darks and len(darks) == 3 * len(exposures)
    assert {str(p.relative_to(out)) for p in out.rglob("darkflat_*.fits")} == darks


@pytest.mark.parametrize(("options", "says"), [
    (("--panel", "foo"), "unknown panel 'foo'"),
    (("--panel", "screen"), "the desktop app's own window"),
    (("--panel", "alnitak:/dev/autoflats-no-such-port"), "check the port name"),
    (("--wheel", "foo", "--filters", "L"), "unknown filter wheel 'foo'"),
    (("--panel", "sim", "--brightness", "999"), "use 0..255 or auto"),
    (("--panel", "sim", "--brightness", "0"), "leaves the panel dark; use 1..255 or auto"),
])
def test_a_rig_that_cannot_be_opened_is_one_line_and_exit_2(
        tmp_path: Path, options: tuple[str, ...], says: str) -> None:
    out = tmp_path / "job"
    code, _, err = cli("flats", "--camera", "sim", "--count", "2", "--out", str(out),
                       "--sim-config", str(rig_toml(tmp_path)), "--no-history", *options)
    assert code == EXIT_USAGE and says in err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert not out.exists() or not list(out.rglob("*.fits"))


def test_a_resumed_run_keeps_how_it_aimed_and_lit() -> None:
    from app.record import SessionRecord
    from app.resume import ResumeState, settings_from_record

    record = {"target": "50%", "target_space": "16bit", "count": 4, "per_channel": True,
              "lower_target": True, "flats": []}
    state = ResumeState(record=record, flats=(), exposure_s=1.0)
    settings = settings_from_record(state, Path("out"))
    assert settings.per_channel and settings.lower_target_if_nonlinear
    kept = SessionRecord(Path("unused.json"), camera="c", gain=0, offset=0, bit_depth=16,
                         target_native=1.0, target_16bit=1.0,
                         previous={"brightness": 40, "aim": {"channel": "G"}})
    assert kept.snapshot()["brightness"] == 40 and kept.snapshot()["aim"] == {"channel": "G"}

"""The flat session end to end on the simulator."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest
from astropy.io import fits

from app.adu import AduSpace, Target
from app.events import (
    ExposureSolved,
    FinishReason,
    FlatRejected,
    FlatSaved,
    Notice,
    SessionFinished,
    TestFrame,
)
from app.session import FlatSession
from app.settings import FlatSettings, SettingsError
from drivers.simulator import SimFaults, SimulatedCamera
from tests.conftest import small_config


def run(camera: SimulatedCamera, settings: FlatSettings,
        cancel: threading.Event | None = None) -> list[object]:
    with camera:
        return list(FlatSession(camera, settings, cancel=cancel).events())


def record(out: Path) -> dict:  # type: ignore[type-arg]
    return json.loads((out / "session.json").read_text())


@pytest.mark.parametrize("bayer", [None, "RGGB"])
def test_writes_n_flats_on_target_and_a_true_record(tmp_path: Path, bayer: str | None) -> None:
    camera = SimulatedCamera(small_config(bayer=bayer, bias_adu=300, flux_e_s=4000))
    events = run(camera, FlatSettings(out_dir=tmp_path, count=5, filter_name="Ha"))
    finished = events[-1]
    assert isinstance(finished, SessionFinished) and finished.reason is FinishReason.COMPLETED
    files = sorted(tmp_path.glob("*.fits"))
    assert len(files) == 5 == len([e for e in events if isinstance(e, FlatSaved)])
    data = record(tmp_path)
    assert data["status"] == "completed" and data["error"] is None
    assert sorted(f["file"] for f in data["flats"]) == [f.name for f in files]
    target = data["target_native"]
    assert target == pytest.approx(65535 / 2 / 4, abs=0.01)
    assert data["target_16bit"] == pytest.approx(target * 4)
    tests = [e for e in events if isinstance(e, TestFrame | FlatRejected)]
    assert len(data["test_exposures"]) == len(tests)
    for flat in data["flats"]:
        assert abs(flat["mean_native"] - target) <= 0.05 * target
        assert flat["mean_16bit"] == pytest.approx(flat["mean_native"] * 4, abs=0.01)
    # the solved exposure is the simulator's true one within the tolerance
    solved = next(e for e in events if isinstance(e, ExposureSolved))
    true_s = (target - 300) / ((camera.true_mean_native(1.0) - 300) / 1.0)
    assert solved.exposure_s == pytest.approx(true_s, rel=0.06)
    with fits.open(files[0]) as hdul:
        header = hdul[0].header
        assert header["IMAGETYP"] == "FLAT" and header["FILTER"] == "Ha"
        assert header["EXPTIME"] == pytest.approx(data["exposure_s"])
        assert ("BAYERPAT" in header) == (bayer is not None)


def test_native_adu_target(tmp_path: Path) -> None:
    camera = SimulatedCamera(small_config(bit_depth=12))
    settings = FlatSettings(out_dir=tmp_path, count=2,
                            target=Target(1000, False, AduSpace.NATIVE))
    finished = run(camera, settings)[-1]
    assert isinstance(finished, SessionFinished) and finished.reason is FinishReason.COMPLETED
    data = record(tmp_path)
    assert data["target_native"] == 1000 and data["target_16bit"] == 16000
    assert len(data["flats"]) == 2 == len(list(tmp_path.glob("*.fits")))
    for flat in data["flats"]:
        assert abs(flat["mean_native"] - 1000) <= 50


@pytest.mark.parametrize(("flux", "needle"), [(5e9, "too bright"), (0.5, "too dark")])
def test_unreachable_targets_fail_early_with_advice(tmp_path: Path, flux: float,
                                                    needle: str) -> None:
    camera = SimulatedCamera(small_config(flux_e_s=flux))
    events = run(camera, FlatSettings(out_dir=tmp_path, count=3, max_exposure_s=60))
    finished = events[-1]
    assert isinstance(finished, SessionFinished) and finished.reason is FinishReason.FAILED
    assert needle in (finished.message or "")
    assert len([e for e in events if isinstance(e, TestFrame)]) <= 5
    assert list(tmp_path.glob("*.fits")) == []
    assert record(tmp_path)["status"] == "failed"


def test_cancel_mid_run_leaves_complete_files_only(tmp_path: Path) -> None:
    camera = SimulatedCamera(small_config())
    cancel = threading.Event()
    with camera:
        events = []
        for event in FlatSession(camera, FlatSettings(out_dir=tmp_path, count=50),
                                 cancel=cancel).events():
            events.append(event)
            if isinstance(event, FlatSaved) and event.index == 3:
                cancel.set()
        assert not camera.is_exposing
    assert isinstance(events[-1], SessionFinished)
    assert events[-1].reason is FinishReason.CANCELLED
    data = record(tmp_path)
    assert data["status"] == "cancelled"
    on_disk = sorted(p.name for p in tmp_path.glob("*.fits"))
    assert sorted(f["file"] for f in data["flats"]) == on_disk
    assert 3 <= len(on_disk) < 50
    assert not list(tmp_path.glob(".*part"))
    for name in on_disk:
        with fits.open(tmp_path / name) as hdul:
            assert hdul[0].data.shape == camera.frame_shape


def test_drifting_light_drops_flats_and_follows(tmp_path: Path) -> None:
    camera = SimulatedCamera(small_config(faults=SimFaults(flux_drift_per_s=-0.02)))
    events = run(camera, FlatSettings(out_dir=tmp_path, count=12))
    assert isinstance(events[-1], SessionFinished)
    assert events[-1].reason is FinishReason.COMPLETED
    assert any(isinstance(e, FlatRejected) for e in events)
    data = record(tmp_path)
    exposures = [f["exposure_s"] for f in data["flats"]]
    assert exposures[-1] > exposures[0]  # dusk: the exposure grows
    for flat in data["flats"]:
        assert abs(flat["mean_native"] - data["target_native"]) <= 0.05 * data["target_native"]


def test_disconnect_keeps_written_flats(tmp_path: Path) -> None:
    camera = SimulatedCamera(small_config(faults=SimFaults(disconnect_at_frame=6)))
    events = run(camera, FlatSettings(out_dir=tmp_path, count=10))
    finished = events[-1]
    assert isinstance(finished, SessionFinished) and finished.reason is FinishReason.FAILED
    assert "disconnected" in (finished.message or "")
    data = record(tmp_path)
    assert data["status"] == "failed" and "disconnected" in data["error"]
    assert sorted(f["file"] for f in data["flats"]) == sorted(
        p.name for p in tmp_path.glob("*.fits"))
    assert len(data["flats"]) >= 1


@pytest.mark.parametrize(("changes", "needle"), [
    ({"gain": 9999}, "gain 9999 is out of range"),
    ({"binning": 5}, "bin 5 is not supported"),
    ({"target": Target(70000, False)}, "full scale"),
])
def test_settings_checked_against_the_camera(tmp_path: Path, changes: dict,  # type: ignore[type-arg]
                                             needle: str) -> None:
    camera = SimulatedCamera(small_config())
    events = run(camera, FlatSettings(out_dir=tmp_path, count=2, **changes))
    assert isinstance(events[-1], SessionFinished)
    assert needle in (events[-1].message or "")
    assert camera.frames_started == 0


def test_settings_refuse_nonsense() -> None:
    for kwargs in ({"count": 0}, {"count": -1}, {"tolerance_percent": float("nan")},
                   {"binning": 0}, {"max_exposure_s": -1.0}):
        with pytest.raises(SettingsError):
            FlatSettings(out_dir=Path("x"), **kwargs)


def test_not_enough_free_space_is_refused_before_exposing(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import shutil
    from collections import namedtuple

    usage = namedtuple("usage", "total used free")
    monkeypatch.setattr(shutil, "disk_usage", lambda path: usage(10**9, 10**9, 10**6))
    camera = SimulatedCamera(small_config())
    events = run(camera, FlatSettings(out_dir=tmp_path, count=5))
    finished = events[-1]
    assert isinstance(finished, SessionFinished) and finished.reason is FinishReason.FAILED
    assert "not enough free space" in (finished.message or "")
    assert camera.frames_started == 0
    assert not list(tmp_path.glob("*.fits"))


def test_colour_channel_that_would_leave_the_linear_range_is_steered(tmp_path: Path) -> None:
    camera = SimulatedCamera(small_config(bayer="RGGB", channel_ratio=(0.05, 1.0, 0.05),
                                          vignetting=0.0))
    events = run(camera, FlatSettings(out_dir=tmp_path, count=2))
    notices = [e.message for e in events if isinstance(e, Notice)]
    assert any("G channel" in n and "aiming G" in n for n in notices)
    data = record(tmp_path)
    assert data["status"] == "completed" and data["aim"]["channel"] == "G"
    ceiling = 0.85 * 65535
    for flat in data["flats"]:
        assert flat["channels_16bit"]["G"] <= ceiling
    quiet = run(SimulatedCamera(small_config(bayer="RGGB")),
                FlatSettings(out_dir=tmp_path / "b", count=2))
    assert not [e for e in quiet if isinstance(e, Notice)]
    assert record(tmp_path / "b")["warnings"] == []


def test_closing_the_event_stream_early_cancels_cleanly(tmp_path: Path) -> None:
    camera = SimulatedCamera(small_config())
    with camera:
        events = FlatSession(camera, FlatSettings(out_dir=tmp_path, count=20)).events()
        for event in events:
            if isinstance(event, FlatSaved):
                break
        events.close()  # e.g. a GUI that stopped listening
        assert not camera.is_exposing
    data = record(tmp_path)
    assert data["status"] == "cancelled"
    assert sorted(f["file"] for f in data["flats"]) == sorted(
        p.name for p in tmp_path.glob("*.fits"))


def test_per_channel_under_a_measured_limit_aims_every_flat_alike(tmp_path: Path) -> None:
    # --per-channel on a sensor measured linear to 31 %: the channel's capped aim is
    # what the search steers too, so the accepted frame and the flats agree
    from app.history import ExposureHistory, linearity_key

    camera = SimulatedCamera(small_config(bayer="RGGB", nonlinearity=0.2,
                                          linear_limit=0.35))
    history = ExposureHistory(tmp_path / "history.json")
    with camera:
        history.remember_linear_limit(
            linearity_key(camera.info, camera.gain, camera.offset, 1),
            0.31 * (2 ** camera.info.bit_depth - 1))
        settings = FlatSettings(out_dir=tmp_path / "out", count=3, per_channel=True,
                                first_exposure_s=0.9)
        events = list(FlatSession(camera, settings, history=history).events())
    assert isinstance(events[-1], SessionFinished)
    assert events[-1].reason is FinishReason.COMPLETED, events[-1].message
    data = record(tmp_path / "out")
    aim = data["aim"]
    assert aim["channel"] == "G"
    exposures = {f["exposure_s"] for f in data["flats"]}
    assert len(exposures) == 1  # the accepted search frame is one of them
    for flat in data["flats"]:
        g_native = flat["channels_16bit"]["G"] / 4
        assert abs(g_native - aim["target_native"]) <= data["tolerance_native"]
    assert aim["target_native"] < 0.31 * 16383  # capped under the limit

"""The next frame exposes while the last one is analysed and saved (issue 11).

A camera exposes on its own: a program that starts the next flat only after it has
measured and queued the last one loses that time on every frame. These tests pin the
overlap (the next exposure runs when a flat is reported), that it wastes no
exposure, and that anything else the run does first stops it.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from app.actions import Expose, FrameKind, SaveFrame, SetLight, Shot
from app.engine import Engine
from app.events import (
    FinishReason,
    FlatCaptured,
    FlatRejected,
    Progress,
    SessionFinished,
    TestFrame,
)
from app.procedures.dark_flats import dark_flats
from app.record import SessionRecord
from app.rig import Rig
from app.session import FlatSession
from app.settings import FlatSettings
from drivers.clock import SimulatedClock
from drivers.panel_sim import SimulatedPanel
from drivers.sim_dslr import DSLR_PRESET, SimulatedDslr
from drivers.simulator import SimulatedCamera
from tests.conftest import small_config


def test_the_next_flat_exposes_while_the_last_is_reported(tmp_path: Path) -> None:
    camera = SimulatedCamera(small_config(bias_adu=300, flux_e_s=4000))
    exposing_at: dict[int, bool] = {}
    frames = 0
    with camera:
        for event in FlatSession(camera, FlatSettings(out_dir=tmp_path, count=6)).events():
            frames += isinstance(event, TestFrame | FlatCaptured | FlatRejected)
            if isinstance(event, FlatCaptured):
                exposing_at[event.index] = camera.is_exposing
            if isinstance(event, SessionFinished):
                assert event.reason is FinishReason.COMPLETED
                assert not camera.is_exposing  # left idle
        started = camera.frames_started
    # flat 1 is the search's last frame; flats 2..5 already have the next one running
    assert exposing_at == {1: False, 2: True, 3: True, 4: True, 5: True, 6: False}
    assert started == frames  # no exposure wasted
    assert len(list(tmp_path.glob("*.fits"))) == 6


def test_a_dslr_never_starts_a_frame_ahead(tmp_path: Path) -> None:
    # its shutter cannot be stopped: a frame started ahead and not wanted would cost an
    # actuation and block the next start until it ran its course
    camera = SimulatedDslr(replace(DSLR_PRESET, width=240, height=160, time_scale=0.0,
                                   seed=0, flux_e_s=40000.0))
    exposing: list[bool] = []
    with camera:
        for event in FlatSession(camera, FlatSettings(out_dir=tmp_path, count=4)).events():
            if isinstance(event, FlatCaptured):
                exposing.append(camera.is_exposing)
            if isinstance(event, SessionFinished):
                assert event.reason is FinishReason.COMPLETED
    assert exposing == [False] * 4


def _engine(tmp_path: Path, camera: SimulatedCamera, panel: SimulatedPanel | None = None
            ) -> Engine:
    engine = Engine(Rig(camera, panel), tmp_path)
    record = SessionRecord(tmp_path / "session.json", camera="sim", gain=0, offset=0,
                           bit_depth=16, target_native=30000.0, target_16bit=30000.0)
    engine.open(record, "stamp", 0)
    return engine


def _drive(engine: Engine, procedure: Iterator[Any]) -> None:
    for _ in engine.drive(procedure):  # type: ignore[arg-type]
        pass
    engine.finish(FinishReason.COMPLETED, None)


def test_another_action_or_another_exposure_stops_the_frame_started_ahead(
        tmp_path: Path) -> None:
    camera = SimulatedCamera(small_config())
    seen: list[tuple[str, object]] = []

    def procedure() -> Iterator[Any]:
        shot: Shot = yield Expose(0.5, next_exposure_s=0.5)
        seen.append(("ahead", camera.is_exposing))
        shot = yield Expose(0.25)  # not what was started: that one is aborted
        seen.append(("other time", shot.exposure_s))
        shot = yield Expose(0.5, next_exposure_s=0.5)
        yield SaveFrame(shot, FrameKind.FLAT, 1, "", None)
        seen.append(("after save", camera.is_exposing))
        yield SetLight(False)
        seen.append(("after the panel", camera.is_exposing))
        shot = yield Expose(0.5, next_exposure_s=0.5)
        seen.append(("end", camera.is_exposing))

    with camera, SimulatedPanel(clock=camera.clock) as panel:
        _drive(_engine(tmp_path, camera, panel), procedure())
        assert not camera.is_exposing  # the procedure ended: the frame ahead is stopped
        started = camera.frames_started
    assert seen == [("ahead", True), ("other time", 0.25), ("after save", True),
                    ("after the panel", False), ("end", True)]
    # 0.5 (+ ahead, aborted), 0.25, 0.5 (+ ahead, aborted), 0.5 (+ ahead, aborted)
    assert started == 7


def test_a_frame_started_ahead_is_read_once_and_dated_by_its_own_start(tmp_path: Path) -> None:
    # a clock 10x faster than the wall: the procedure's 0.2 s of work is 2 s of camera
    # time, which the frame started ahead spends exposing (its date is its own start)
    camera = SimulatedCamera(small_config(time_scale=0.1))
    shots: list[Shot] = []

    def procedure() -> Iterator[Any]:
        for number in range(3):
            shot: Shot = yield Expose(5.0, next_exposure_s=5.0 if number < 2 else None)
            shots.append(shot)
            time.sleep(0.2)  # analysing and saving it

    with camera:
        _drive(_engine(tmp_path, camera), procedure())
        started = camera.frames_started
    assert started == 3
    # each frame started when the last one was read: one exposure + readout apart
    step = camera.readout_s + 5.0
    gaps = [(b.start_utc - a.start_utc).total_seconds() for a, b in itertools.pairwise(shots)]
    assert gaps == [pytest.approx(step, abs=1.0)] * 2  # dated by the ask: 2 s more


def test_each_dark_flat_exposes_while_the_last_is_saved(tmp_path: Path) -> None:
    camera = SimulatedCamera(small_config(flux_e_s=0.001, bias_adu=300))
    exposing: list[bool] = []

    def procedure() -> Iterator[Any]:
        darks = dark_flats(None, [1.0, 0.5], 2, bias_native=None, flat_level_native=20000.0,
                           min_exposure_s=0.001)
        result = None
        while True:  # pass the actions' results on, noting the camera at each dark's turn
            try:
                item = darks.send(result)
            except StopIteration:
                return
            if isinstance(item, Progress):
                exposing.append(camera.is_exposing)
            result = yield item

    with camera:
        engine = Engine(Rig(camera), tmp_path, ask_user=lambda message, cancel: None)
        record = SessionRecord(tmp_path / "session.json", camera="sim", gain=0, offset=0,
                               bit_depth=16, target_native=30000.0, target_16bit=30000.0,
                               filters=["L"])
        engine.open(record, "stamp", 4)
        _drive(engine, procedure())
        started = camera.frames_started
    assert len(list((tmp_path / "darkflats").glob("*.fits"))) == 4
    # the bias reference, then 1.0, 1.0, 0.5, 0.5: each dark after the first is running
    # when its turn comes, the next exposure's included
    assert exposing == [False, True, True, True]
    assert started == 5


@pytest.mark.parametrize("time_scale", [1.0, 0.5])
def test_simulated_time_passes_while_the_host_computes(time_scale: float) -> None:
    clock = SimulatedClock(time_scale)
    before, wall = clock.monotonic(), time.monotonic()
    while time.monotonic() - wall < 0.05:  # busy, no sleep: a camera keeps exposing
        pass
    passed_s = clock.monotonic() - before
    assert passed_s >= 0.05 / time_scale
    instant = SimulatedClock(0)
    start = instant.monotonic()
    time.sleep(0.01)
    assert instant.monotonic() == start  # time_scale 0: only sleep moves it
    instant.sleep(3.0)
    assert instant.monotonic() == start + 3.0

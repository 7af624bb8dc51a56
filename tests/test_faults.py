"""The fault table, random fault sequences, and kill -9, on the simulator."""

from __future__ import annotations

import json
import threading
import time
from dataclasses import replace
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.events import FinishReason, SessionFinished
from app.session import FlatSession
from app.settings import FlatSettings
from drivers.simulator import SimFaults, SimulatedCamera
from tests.fault_campaign import BASE, SCENARIOS, check_folder, kill_trial, run_scenario
from tests.rig_campaign import RIG_SCENARIOS, RigScenario, run_rig_scenario


@pytest.mark.parametrize("scenario", SCENARIOS, ids=[s.name for s in SCENARIOS])
def test_fault_is_survived(scenario, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    outcome = run_scenario(scenario, tmp_path)
    assert outcome.violations == [], outcome


frames = st.lists(st.integers(1, 14), max_size=4).map(lambda xs: tuple(sorted(set(xs))))


@settings(max_examples=25, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(fail=frames, hang=frames, short=frames,
       disconnect=st.one_of(st.none(), st.integers(2, 14)),
       drift=st.sampled_from([0.0, -0.01, 0.01]),
       cancel_at=st.one_of(st.none(), st.integers(1, 30)))
def test_random_fault_sequences_keep_the_invariants(
        tmp_path_factory: pytest.TempPathFactory, fail: tuple[int, ...],
        hang: tuple[int, ...], short: tuple[int, ...], disconnect: int | None,
        drift: float, cancel_at: int | None) -> None:
    root = tmp_path_factory.mktemp("run")
    out = root / "out"
    faults = SimFaults(fail_at_frames=fail, hang_at_frames=hang,
                       short_buffer_at_frames=short, disconnect_at_frame=disconnect,
                       flux_drift_per_s=drift)
    camera = SimulatedCamera(replace(BASE, faults=faults))
    cancel = threading.Event()
    started = time.monotonic()
    with camera:
        events = []
        for index, event in enumerate(
                FlatSession(camera, FlatSettings(out_dir=out, count=4), cancel=cancel).events()):
            events.append(event)
            if cancel_at is not None and index + 1 == cancel_at:
                cancel.set()
        assert not camera.is_exposing
    assert time.monotonic() - started < 30
    finished = events[-1]
    assert isinstance(finished, SessionFinished)
    assert check_folder(out, camera.frame_shape) == []
    assert [p.name for p in root.iterdir()] == ["out"]
    if finished.reason is FinishReason.COMPLETED:
        assert len(finished.files) == 4
    else:
        assert finished.message and "\n" not in finished.message
    record = json.loads((out / "session.json").read_text())
    assert record["status"] == finished.reason.value


@pytest.mark.parametrize("delay_s", [0.6, 1.1, 1.7, 2.4])
def test_kill_9_leaves_complete_files_and_resume_finishes(tmp_path: Path,
                                                          delay_s: float) -> None:
    trial = kill_trial(tmp_path, delay_s)
    assert trial.violations == [], trial


@pytest.mark.parametrize("scenario", RIG_SCENARIOS, ids=[s.name for s in RIG_SCENARIOS])
def test_rig_fault_is_survived(scenario: RigScenario, tmp_path: Path) -> None:
    outcome = run_rig_scenario(scenario, tmp_path)
    assert not outcome.violations, outcome.violations

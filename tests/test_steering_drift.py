"""Colour steering and the drift/jitter tracker, on their own and on the simulator."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from app.drift import LevelTracker
from app.events import Notice, SessionFinished
from app.session import FlatSession
from app.settings import FlatSettings
from drivers.simulator import SimulatedCamera
from tests.conftest import small_config

CLIPPED_MAX = 0.001


def run(camera: SimulatedCamera, settings: FlatSettings) -> list[object]:
    with camera:
        return list(FlatSession(camera, settings).events())


@pytest.mark.parametrize(("ratio", "bright"), [((2.5, 1.0, 0.5), "R"), ((0.4, 1.0, 2.6), "B"),
                                               ((0.05, 1.0, 0.05), "G")])
def test_a_dominant_channel_never_clips_or_leaves_the_linear_range(
        tmp_path: Path, ratio: tuple[float, float, float], bright: str) -> None:
    camera = SimulatedCamera(small_config(bayer="RGGB", channel_ratio=ratio, vignetting=0.1))
    events = run(camera, FlatSettings(out_dir=tmp_path, count=3))
    assert isinstance(events[-1], SessionFinished) and events[-1].message is None
    data = json.loads((tmp_path / "session.json").read_text())
    assert data["status"] == "completed" and data["aim"]["channel"] == bright
    assert any(f"the {bright} channel" in w for w in data["warnings"])
    for flat in data["flats"]:
        assert max(flat["channels_16bit"].values()) <= 0.85 * 65535
        assert max(flat["channels_16bit"], key=flat["channels_16bit"].get) == bright
    for entry in data["test_exposures"]:
        assert set(entry["channels_16bit"]) == {"R", "G", "B"}


def test_per_channel_aims_the_brightest_channel_at_the_target(tmp_path: Path) -> None:
    camera = SimulatedCamera(small_config(bayer="RGGB", channel_ratio=(0.6, 1.0, 0.75)))
    run(camera, FlatSettings(out_dir=tmp_path, count=2, per_channel=True))
    data = json.loads((tmp_path / "session.json").read_text())
    assert data["aim"]["channel"] == "G"
    for flat in data["flats"]:
        assert flat["channels_16bit"]["G"] == pytest.approx(32767.5, rel=0.05)
        assert flat["mean_16bit"] < 0.95 * 32767.5  # the whole frame sits lower


def test_a_weak_channel_gets_advice(tmp_path: Path) -> None:
    camera = SimulatedCamera(small_config(bayer="RGGB", channel_ratio=(0.9, 1.0, 0.12)))
    events = run(camera, FlatSettings(out_dir=tmp_path, count=2))
    warnings = [e.message for e in events if isinstance(e, Notice) and e.warning]
    assert any("B channel" in w and "blue" in w for w in warnings)
    data = json.loads((tmp_path / "session.json").read_text())
    assert data["warnings"] == warnings


def test_jitter_alone_never_moves_the_exposure() -> None:
    tracker = LevelTracker(1000.0, 50.0)
    rng = random.Random(3)
    moved = 0
    for _ in range(2000):
        decision = tracker.add(rng.gauss(1000.0, 30.0))  # 3 % jitter, 5 % tolerance
        if decision.resolve_from is not None:
            moved += 1
            tracker.reset()
    # an out-of-tolerance flat after two more, all beyond half the tolerance on one
    # side: about 0.4 % of flats by chance
    assert moved <= 10


def test_a_drift_is_followed_from_the_newest_level() -> None:
    tracker = LevelTracker(1000.0, 50.0)
    decisions = [tracker.add(level) for level in (1000, 1030, 1045, 1060)]
    assert [d.keep for d in decisions] == [True, True, True, False]
    assert decisions[-1].resolve_from == 1060
    assert tracker.add(1300).resolve_from == 1300  # a jump: at once


def test_inside_the_tolerance_the_exposure_never_changes() -> None:
    tracker = LevelTracker(1000.0, 50.0)
    assert all(tracker.add(1040).keep and tracker.add(1040).resolve_from is None
               for _ in range(10))

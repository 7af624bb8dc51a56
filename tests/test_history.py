"""Exposure history: last time's exposure and bias make the next search short."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from app.events import ExposureSolved, Notice, TestFrame
from app.history import ExposureHistory, HistoryEntry, HistoryKey
from app.session import FlatSession
from app.settings import FlatSettings
from drivers.simulator import SimulatedCamera
from tests.conftest import small_config


def search_frames(config, out: Path, history: ExposureHistory | None) -> int:  # type: ignore[no-untyped-def]
    with SimulatedCamera(config) as camera:
        events = list(FlatSession(camera, FlatSettings(out_dir=out, count=1),
                                  history=history).events())
    assert any(isinstance(e, ExposureSolved) for e in events)
    return sum(isinstance(e, TestFrame) for e in events) + 1


@pytest.mark.parametrize("flux_change", [1.0, 0.8, 1.3])
def test_second_night_needs_at_most_two_frames(tmp_path: Path, flux_change: float) -> None:
    history = ExposureHistory(tmp_path / "history.json")
    config = small_config(bias_adu=900, flux_e_s=3000)  # a large bias: hard for one frame
    search_frames(config, tmp_path / "night1", history)
    again = replace(config, flux_e_s=config.flux_e_s * flux_change, seed=5)
    frames = search_frames(again, tmp_path / "night2", history)
    assert frames == 1 if flux_change == 1.0 else frames <= 2


def test_history_applies_only_to_the_same_settings(tmp_path: Path) -> None:
    history = ExposureHistory(tmp_path / "h.json")
    key = HistoryKey("Simulator", 100, 50, 1, "Ha", 8191.9)
    history.remember(key, HistoryEntry(2.5, 410.0, "2026-11-24T06:00:00"))
    assert history.lookup(key) == HistoryEntry(2.5, 410.0, "2026-11-24T06:00:00")
    assert history.lookup(replace(key, filter_name="OIII")) is None
    assert history.lookup(replace(key, gain=0)) is None


def test_damaged_or_unwritable_history_is_harmless(tmp_path: Path) -> None:
    damaged = tmp_path / "h.json"
    damaged.write_text("{not json")
    history = ExposureHistory(damaged)
    key = HistoryKey("Simulator", 100, 50, 1, "", 8191.9)
    assert history.lookup(key) is None
    history.remember(key, HistoryEntry(1.0, None, ""))
    assert history.lookup(key) is not None
    blocked = ExposureHistory(tmp_path / "file" / "h.json")
    (tmp_path / "file").write_text("x")
    blocked.remember(key, HistoryEntry(1.0, None, ""))  # logs, does not raise
    assert blocked.lookup(key) is None


def test_session_says_it_starts_from_history(tmp_path: Path) -> None:
    history = ExposureHistory(tmp_path / "h.json")
    config = small_config()
    search_frames(config, tmp_path / "a", history)
    with SimulatedCamera(config) as camera:
        events = list(FlatSession(camera, FlatSettings(out_dir=tmp_path / "b", count=1),
                                  history=history).events())
    assert any(isinstance(e, Notice) and "last time" in e.message for e in events)

"""Shared fixtures: small, instant simulated cameras."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import pytest

from app.history import HISTORY_ENV
from drivers.simulator import SIM_CONFIG_ENV, SimConfig, SimulatedCamera

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

#: a fast simulated sensor: 256 x 192 pixels, simulated time runs instantly, noise seeded
SMALL = SimConfig(width=256, height=192, time_scale=0.0, dust_count=2, seed=0)


def small_config(**changes: Any) -> SimConfig:
    """The small instant simulator with ``changes``."""
    return replace(SMALL, **changes)


@pytest.fixture(autouse=True)
def _no_env_sim_config(monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory
                       ) -> None:
    """Tests never pick up a developer's $AUTOFLATS_SIM_CONFIG or exposure history."""
    monkeypatch.delenv(SIM_CONFIG_ENV, raising=False)
    history = tmp_path_factory.mktemp("history") / "history.json"
    monkeypatch.setenv(HISTORY_ENV, str(history))


@pytest.fixture
def sim_camera() -> Iterator[SimulatedCamera]:
    """An open small simulated camera."""
    with SimulatedCamera(SMALL) as camera:
        yield camera  # type: ignore[misc]

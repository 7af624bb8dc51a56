"""The tint loop: the screen panel's colour brings a colour camera's R, G and B together."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from app.actions import Expose, SessionFailure, SetBrightness, SetTint, Shot
from app.engine import Engine
from app.events import FinishReason, Notice, SessionFinished
from app.job import FlatJob, JobSettings
from app.procedures.tint import balance_tint
from app.rig import Rig, TintablePanel
from app.settings import FlatSettings
from app.stats import FrameStats
from drivers.devices import open_devices
from drivers.screen_panel import ScreenPanel, ScreenState
from drivers.sim_rig import ScreenLight
from drivers.simulator import SimulatedCamera
from drivers.wheel_sim import SimulatedWheel

SIM = """width = 128
height = 96
time_scale = 0
seed = 3
channel_ratio = [{r}, 1.0, {b}]
{more}
"""


def write_sim(tmp_path: Path, r: float = 0.5, b: float = 0.3, more: str = "") -> Path:
    path = tmp_path / "sim.toml"
    path.write_text(SIM.format(r=r, b=b, more=more))
    return path


class RecordingScreen(ScreenPanel):
    """The screen panel without a window, remembering every tint it was given."""

    def __init__(self, clock: Any) -> None:
        super().__init__(self._seen, clock=clock)
        self.states: list[ScreenState] = []
        self.tints: list[tuple[float, float, float]] = []

    def _seen(self, state: ScreenState) -> None:
        self.states.append(state)

    def set_tint(self, r: float, g: float, b: float) -> tuple[float, float, float]:
        self.tints.append((r, g, b))
        return super().set_tint(r, g, b)


def run_screen_job(tmp_path: Path, camera_id: str, sim: Path, *, out_name: str = "job",
                   shown: tuple[float, float, float] | None = None, wheel: str | None = None,
                   **job: Any
                   ) -> tuple[list[Any], dict[str, Any], RecordingScreen, SimulatedCamera]:
    devices = open_devices(camera_id, wheel=wheel, sim_config_path=sim)
    camera = devices.camera
    assert isinstance(camera, SimulatedCamera)
    screen = RecordingScreen(camera.clock)
    if shown is not None:
        screen.set_tint(*shown)  # as the GUI's tint boxes do before the job
    devices.panel = screen
    sim_wheel = devices.wheel if isinstance(devices.wheel, SimulatedWheel) else None
    camera.set_light(ScreenLight(screen, sim_wheel, flux_e_s_at_max=40000.0, gamma=2.2))
    out = tmp_path / out_name
    with devices:
        runner = FlatJob(Rig(camera, screen, devices.wheel), JobSettings(
            FlatSettings(out_dir=out, count=3), brightness="auto", **job))
        events = list(runner.events())
    data = json.loads((out / "session.json").read_text(encoding="utf-8"))
    return events, data, screen, camera


def flat_signals(data: dict[str, Any], camera: SimulatedCamera) -> list[tuple[float, ...]]:
    """Each flat's R, G, B means above the bias (16-bit ADU)."""
    bias = camera.config.bias_native(camera.offset) * 2 ** (16 - camera.config.bit_depth)
    return [tuple(flat["channels_16bit"][c] - bias for c in "RGB") for flat in data["flats"]]


@pytest.mark.parametrize("camera_id", ["sim-color", "sim-dslr"])  # exposures free or on speeds
def test_the_job_balances_a_strongly_coloured_light_on_a_colour_camera(
        tmp_path: Path, camera_id: str) -> None:
    events, data, screen, camera = run_screen_job(tmp_path, camera_id, write_sim(tmp_path))
    finished = events[-1]
    assert isinstance(finished, SessionFinished) and finished.reason is FinishReason.COMPLETED
    assert data["status"] == "completed" and len(data["flats"]) == 3
    r, g, b = data["tint"]
    assert max(r, g, b) == 1.0 and b == 1.0 and g < r < 1.0  # green dimmed most
    assert data["tint_balanced"] is True and data["tint_spread"] <= 0.01
    for signals in flat_signals(data, camera):
        assert max(signals) / min(signals) - 1 <= 0.02, signals
    assert screen.state().tint == tuple(data["tint"]) or np.allclose(
        screen.state().tint, data["tint"], atol=1e-4)
    assert 2 <= len(screen.tints) <= 6  # the start (white) and a few steps
    # the exposure was solved again at the balanced tint: flats on target, in the window
    target = data["target_native"]
    assert all(abs(f["mean_native"] - target) <= 0.05 * target for f in data["flats"])
    assert 1.0 <= data["exposure_s"] <= 10.0
    assert not any("tint" in w for w in data.get("warnings", []))


def test_the_balance_starts_from_the_tint_the_screen_shows(tmp_path: Path) -> None:
    sim = write_sim(tmp_path)
    _, first, _, _ = run_screen_job(tmp_path, "sim-color", sim, out_name="first")
    balanced = (first["tint"][0], first["tint"][1], first["tint"][2])
    events, data, screen, _ = run_screen_job(tmp_path, "sim-color", sim, out_name="again",
                                             shown=balanced)
    assert events[-1].reason is FinishReason.COMPLETED
    assert screen.tints == [balanced, balanced]  # shown before the job, set once by it
    assert not any(isinstance(e, Notice) and e.message.startswith("tint ") for e in events)
    assert data["tint"] == first["tint"] and data["tint_balanced"] is True


def test_every_filter_records_its_tint(tmp_path: Path) -> None:
    sim = write_sim(tmp_path, more='''
[wheel]
filters = ["L", "R", "G", "B"]
throughput = [1.0, 0.33, 0.36, 0.30]
move_s = 1.5
''')
    events, data, screen, camera = run_screen_job(tmp_path, "sim-color", sim, wheel="sim",
                                                  filters=("L", "G"))
    assert events[-1].reason is FinishReason.COMPLETED, events[-1]
    for section in data["filters"]:
        assert section["status"] == "completed" and section["tint_balanced"] is True
        assert section["tint"][2] == 1.0 and section["tint_spread"] <= 0.01
        for signals in flat_signals(section, camera):
            assert max(signals) / min(signals) - 1 <= 0.02, signals
    assert len(screen.tints) <= 5  # the second filter starts balanced already


def test_a_mono_camera_skips_the_tint(tmp_path: Path) -> None:
    events, data, screen, _ = run_screen_job(tmp_path, "sim", write_sim(tmp_path))
    assert isinstance(events[-1], SessionFinished)
    assert events[-1].reason is FinishReason.COMPLETED
    assert screen.tints == [] and "tint" not in data


def test_the_tint_can_be_switched_off(tmp_path: Path) -> None:
    events, data, screen, _ = run_screen_job(tmp_path, "sim-color", write_sim(tmp_path),
                                             tint=False)
    assert events[-1].reason is FinishReason.COMPLETED
    assert screen.tints == [] and "tint" not in data


def test_a_channel_the_light_cannot_reach_is_a_warning_not_a_failure(tmp_path: Path) -> None:
    events, data, screen, _ = run_screen_job(tmp_path, "sim-color",
                                             write_sim(tmp_path, b=0.02))
    assert events[-1].reason is FinishReason.COMPLETED, events[-1]
    assert len(data["flats"]) == 3
    warnings = [w for w in data["warnings"] if "hardly reaches B" in w]
    assert warnings, data["warnings"]
    assert any(isinstance(e, Notice) and e.warning and "hardly reaches B" in e.message
               for e in events)
    assert data["tint_balanced"] is False and data["tint"] == [1.0, 1.0, 1.0]
    assert screen.tints == [(1.0, 1.0, 1.0)]  # the start only: no step was taken


def test_a_panel_without_tint_never_receives_set_tint(tmp_path: Path) -> None:
    sim = write_sim(tmp_path, more="[panel]\nhas_cover = false\n")
    devices = open_devices("sim-color", panel="sim", sim_config_path=sim)
    seen: list[Any] = []
    with devices:
        rig = Rig(devices.camera, devices.panel)
        assert not isinstance(devices.panel, TintablePanel)
        runner = FlatJob(rig, JobSettings(FlatSettings(out_dir=tmp_path / "job", count=2),
                                          brightness="auto"))
        original = runner.engine._execute

        def spy(action: Any) -> Any:
            seen.append(action)
            return original(action)

        runner.engine._execute = spy  # type: ignore[method-assign]
        events = list(runner.events())
    assert events[-1].reason is FinishReason.COMPLETED
    assert any(isinstance(a, SetBrightness) for a in seen)
    assert not any(isinstance(a, SetTint) for a in seen)


def test_the_engine_refuses_set_tint_on_a_panel_that_cannot_tint(tmp_path: Path) -> None:
    devices = open_devices("sim-color", panel="sim", sim_config_path=write_sim(tmp_path))
    with devices:
        engine = Engine(Rig(devices.camera, devices.panel), tmp_path / "out")

        def procedure() -> Any:
            yield SetTint(1.0, 0.5, 0.5)

        with pytest.raises(SessionFailure, match="cannot tint"):
            list(engine.drive(procedure()))
    with pytest.raises(ValueError, match="the largest 1"):
        SetTint(0.5, 0.5, 0.5)
    with pytest.raises(ValueError, match=r"\(0, 1\]"):
        SetTint(1.0, 0.0, 0.5)


class _Record:
    def __init__(self) -> None:
        self.warnings: list[str] = []

    def add_warning(self, message: str) -> None:
        self.warnings.append(message)

    def add_test_exposure(self, *args: Any, **more: Any) -> None:
        pass


def _shot(means: dict[str, float], exposure_s: float = 2.0) -> Shot:
    mean = sum(means.values()) / 3
    stats = FrameStats(mean * 4, mean, means, 0.0, 16383.0)
    return Shot(np.zeros((2, 2), np.uint16), stats, exposure_s, datetime.now(timezone.utc))


def test_the_balance_step_by_step_with_made_up_frames() -> None:
    """A screen whose light per colour goes as tint^2.2, a sensor seeing R 0.5 G 1 B 0.3."""
    response = {"R": 0.5, "G": 1.0, "B": 0.3}
    run: Any = type("Run", (), {"bias_native": 100.0, "filter_name": None,
                                "section": None})()
    record = _Record()
    run.record = record
    run.warn = lambda m: (record.add_warning(m), Notice(m, warning=True))[1]

    def means(tint: tuple[float, float, float]) -> dict[str, float]:
        return {c: 100.0 + 5000 * response[c] * t ** 2.2 for c, t in zip("RGB", tint,
                                                                     strict=True)}

    tint = (1.0, 1.0, 1.0)
    procedure = balance_tint(run, _shot(means(tint)), tint)
    actions: list[Any] = []
    sent: Any = None
    while True:
        try:
            item = procedure.send(sent)
        except StopIteration as stop:
            outcome = stop.value
            break
        actions.append(item)
        if isinstance(item, SetTint):
            tint = (item.r, item.g, item.b)
            sent = tint
        elif isinstance(item, Expose):
            assert item.exposure_s == 2.0  # the same exposure while the tint moves
            sent = _shot(means(tint))
        else:
            sent = None
    assert outcome.balanced and outcome.changed and outcome.spread <= 0.01
    assert 1 <= sum(isinstance(a, SetTint) for a in actions) <= 4
    assert record.warnings == []


class _ColouredLight:
    def __init__(self, factors: tuple[float, float, float]) -> None:
        self.factors = factors

    def flux_e_s(self) -> float:
        return 3000.0

    def channel_flux_factors(self) -> tuple[float, float, float]:
        return self.factors


def _channel_signals(camera: SimulatedCamera) -> dict[str, float]:
    frame = camera.capture(1.0).frame >> (16 - camera.config.bit_depth)
    bias = camera.config.bias_native(camera.offset)
    bayer = camera.info.bayer_pattern
    planes: dict[str, list[float]] = {}
    for dy in (0, 1):
        for dx in (0, 1):
            if bayer is None:
                planes.setdefault("L", []).append(float(frame[dy::2, dx::2].mean()) - bias)
            else:
                planes.setdefault(bayer[2 * dy + dx], []).append(
                    float(frame[dy::2, dx::2].mean()) - bias)
    return {c: sum(v) / len(v) for c, v in planes.items()}


@pytest.mark.parametrize("band_rows", [3, 10_000])  # bands starting on odd rows, or one
def test_the_simulated_light_per_colour(tmp_path: Path, band_rows: int,
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    sim = write_sim(tmp_path, r=0.5, b=0.3, more="vignetting = 0\nprnu = 0\ndust_count = 0")
    monkeypatch.setattr("drivers.simulator.BAND_PIXELS", 128 * band_rows)
    results = {}
    for camera_id in ("sim-color", "sim"):
        for factors in ((1.0, 1.0, 1.0), (2.0, 0.5, 3.0)):
            devices = open_devices(camera_id, sim_config_path=sim)
            camera = devices.camera
            assert isinstance(camera, SimulatedCamera)
            camera.set_light(_ColouredLight(factors))
            with devices:
                results[camera_id, factors] = _channel_signals(camera)
    white, tinted = results["sim-color", (1.0, 1.0, 1.0)], results["sim-color", (2.0, 0.5, 3.0)]
    for channel, factor in zip("RGB", (2.0, 0.5, 3.0), strict=True):
        assert tinted[channel] / white[channel] == pytest.approx(factor, rel=0.02)
    assert white["R"] / white["G"] == pytest.approx(0.5, rel=0.02)  # channel_ratio stays
    mono_white, mono_tinted = results["sim", (1.0, 1.0, 1.0)], results["sim", (2.0, 0.5, 3.0)]
    assert mono_tinted["L"] == pytest.approx(mono_white["L"], rel=0.01)  # mono ignores it

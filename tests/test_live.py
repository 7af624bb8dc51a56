"""The Qt-free live loop, ``autoflats live``, the cancel message and the rounding rule."""

from __future__ import annotations

import importlib
import json
import re
import signal
import threading
from pathlib import Path

import pytest

from app.adu import AduScale, round_adu
from app.cli import main
from app.events import FlatSaved
from app.live import LiveSettings, live_frames, run_live
from drivers.sim_config import load_sim_config
from drivers.simulator import SimulatedCamera

SIM = "time_scale = 0\nwidth = 320\nheight = 240\n"
cli_main_module = importlib.import_module("app.cli.main")


@pytest.fixture
def sim_toml(tmp_path: Path) -> Path:
    path = tmp_path / "sim.toml"
    path.write_text(SIM)
    return path


def _camera(path: Path, preset: str = "sim") -> SimulatedCamera:
    return SimulatedCamera(load_sim_config(path, preset=preset))


def test_fixed_exposure_loops_n_frames(sim_toml: Path) -> None:
    with _camera(sim_toml) as camera:
        frames = list(live_frames(camera, LiveSettings(exposure_s=0.3, frames=4)))
    assert [f.index for f in frames] == [1, 2, 3, 4]
    assert all(f.exposure_s == pytest.approx(0.3) for f in frames)
    assert all(f.next_exposure_s == f.exposure_s for f in frames)
    scale = AduScale(14)
    for f in frames:
        assert f.stats.mean_16bit == pytest.approx(scale.to_16bit(f.stats.mean_native))
        assert f.preview.size > 0 and "L" in f.histogram.counts


@pytest.mark.parametrize("flux", [200.0, 3000.0, 300_000.0])
def test_steering_reaches_the_target_and_stays(tmp_path: Path, flux: float) -> None:
    toml = tmp_path / "s.toml"
    toml.write_text(SIM + f"flux_e_s = {flux}\n")
    target = AduScale(14).to_native(0.5 * 65535)
    settings = LiveSettings(target_native=target, tolerance_native=0.05 * target, frames=8)
    with _camera(toml) as camera:
        frames = list(live_frames(camera, settings))
    on_target = [abs(f.stats.mean_native - target) <= 0.05 * target for f in frames]
    first = on_target.index(True)
    assert first <= 4, [(f.exposure_s, f.stats.mean_native) for f in frames]
    assert all(on_target[first:])  # once there, it keeps the exposure
    assert len({f.exposure_s for f in frames[first:]}) == 1


def test_too_bright_says_so_and_keeps_looping(tmp_path: Path) -> None:
    toml = tmp_path / "bright.toml"
    toml.write_text(SIM + "flux_e_s = 1e10\n")
    target = 8000.0
    with _camera(toml) as camera:
        frames = list(live_frames(camera, LiveSettings(target_native=target, frames=6)))
    assert len(frames) == 6
    assert any("too bright" in f.note for f in frames)


def test_cancel_aborts_the_running_exposure_and_closes_the_camera(tmp_path: Path) -> None:
    toml = tmp_path / "slow.toml"
    toml.write_text(SIM.replace("time_scale = 0", "time_scale = 1"))
    cancel = threading.Event()
    camera = _camera(toml)
    started = threading.Event()
    real_start = camera._do_start_exposure

    def start(exposure_s: float) -> float | None:
        applied = real_start(exposure_s)
        started.set()
        return applied

    camera._do_start_exposure = start  # type: ignore[method-assign]
    results: list[object] = []

    errors: list[BaseException] = []

    def loop() -> None:
        camera.open()
        try:
            results.extend(live_frames(camera, LiveSettings(exposure_s=600.0), cancel))
        except BaseException as error:
            errors.append(error)
        finally:
            camera.close()

    thread = threading.Thread(target=loop, daemon=True)  # a hung test must not hang pytest
    thread.start()
    assert started.wait(30)
    cancel.set()
    thread.join(30)
    assert not thread.is_alive()
    assert results == [] and errors == [] and not camera.is_open


def test_run_live_opens_and_closes(sim_toml: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    opened: list[SimulatedCamera] = []
    real_open = SimulatedCamera.open

    def spy(self: SimulatedCamera) -> None:
        opened.append(self)
        real_open(self)

    monkeypatch.setattr(SimulatedCamera, "open", spy)
    frames = run_live("sim", LiveSettings(exposure_s=0.1, frames=5), sim_config_path=sim_toml)
    assert next(frames).index == 1 and opened[0].is_open
    frames.close()  # the consumer stops early: the camera is still closed
    assert len(opened) == 1 and not opened[0].is_open
    assert len(list(run_live("sim", LiveSettings(exposure_s=0.1, frames=2),
                             sim_config_path=sim_toml))) == 2
    assert not opened[1].is_open


def test_bad_live_settings_are_refused() -> None:
    with pytest.raises(ValueError, match="exposure"):
        LiveSettings(exposure_s=0)
    with pytest.raises(ValueError, match="frames"):
        LiveSettings(exposure_s=1, frames=0)


def test_cli_live_prints_one_line_per_frame(sim_toml: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["live", "--camera", "sim", "--sim-config", str(sim_toml), "--exposure",
                 "0.5", "--frames", "3"])
    out = capsys.readouterr()
    assert code == 0
    lines = out.out.strip().splitlines()
    assert len(lines) == 3
    pattern = re.compile(r"^frame (\d): 0\.5 s  mean (\d+) native / (\d+) 16-bit  "
                         r"clipped \d+\.\d\d%$")
    for n, line in enumerate(lines, 1):
        match = pattern.match(line)
        assert match is not None, line
        assert int(match.group(1)) == n
        assert abs(int(match.group(2)) * 4 - int(match.group(3))) <= 2  # 14-bit: x4
    assert "nothing is saved" in out.err


def test_cli_live_colour_has_channels_and_steers(tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    toml = tmp_path / "c.toml"
    toml.write_text(SIM)
    code = main(["live", "--camera", "sim-color", "--sim-config", str(toml),
                 "--frames", "4"])
    lines = capsys.readouterr().out.strip().splitlines()
    assert code == 0 and len(lines) == 4
    for line in lines:
        assert re.search(r"\[R \d+/\d+ \(\d+\.\d% clipped\), G \d+/\d+ .*B \d+/\d+", line), line
    means = [int(re.search(r"mean (\d+) native", line).group(1))  # type: ignore[union-attr]
             for line in lines]
    target = 0.5 * 65535 / 4
    assert abs(means[-1] - target) <= 0.05 * target  # steered onto the target


@pytest.mark.parametrize("args", [["--exposure", "0"], ["--frames", "0"],
                                  ["--target", "abc"], ["--exposure", "x"]])
def test_cli_live_bad_input_exit_2(sim_toml: Path, args: list[str],
                                   capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["live", "--camera", "sim", "--sim-config", str(sim_toml), *args])
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1


def test_cli_cancel_says_what_is_kept_and_how_to_continue(
        tmp_path: Path, sim_toml: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    printed = cli_main_module._print_event

    def print_then_interrupt(event: object, scale: AduScale) -> None:
        printed(event, scale)  # type: ignore[arg-type]
        if isinstance(event, FlatSaved) and event.index == 3:
            signal.raise_signal(signal.SIGINT)  # Ctrl-C: the handler sets cancel

    monkeypatch.setattr(cli_main_module, "_print_event", print_then_interrupt)
    out = tmp_path / "my flats"
    code = main(["flats", "--camera", "sim", "--count", "10", "--out", str(out),
                 "--sim-config", str(sim_toml), "--no-history"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 130
    kept = len(list(out.glob("*.fits")))
    assert 3 <= kept < 10
    assert err[-1] == (f"autoflats: cancelled; {kept} flats kept; continue with: "
                       f"autoflats flats --resume '{out}'")
    monkeypatch.setattr(cli_main_module, "_print_event", printed)
    # the command it gives works
    assert main(["flats", "--resume", str(out), "--quiet"]) == 0
    assert len(list(out.glob("*.fits"))) == 10


def test_one_rounding_rule() -> None:
    assert round_adu(8191.875) == 8192
    assert round_adu(32767.5) == 32768
    assert round_adu(2.5) == 3 and round(2.5) == 2  # halves up, not to even
    assert round_adu(0.49) == 0 and round_adu(-0.5) == 0
    assert AduScale(12).describe_percent(50) == "50 % = 2048 native (12-bit) = 32768 16-bit"
    assert AduScale(16).describe_percent(50) == "50 % = 32768 native (16-bit) = 32768 16-bit"


def test_terminal_and_record_agree(tmp_path: Path, sim_toml: Path,
                                   capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "o"
    # 30002 16-bit on a 14-bit camera is 7500.5 native: a half, where rules differ
    assert main(["flats", "--camera", "sim", "--count", "1", "--out", str(out),
                 "--sim-config", str(sim_toml), "--target", "30002"]) == 0
    err = capsys.readouterr().err
    assert "target 7501 native (14-bit) = 30002 16-bit" in err
    record = json.loads((out / "session.json").read_text())
    # session.json keeps the exact values; shown, they round to the same integers
    assert record["target_native"] == 7500.5 and record["target_16bit"] == 30002
    assert round_adu(record["target_native"]) == 7501


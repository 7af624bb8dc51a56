"""What a new user ran into: each case from the 'hardware truth' issue, end to end."""

from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path

import pytest

from app.cli import EXIT_OK, EXIT_USAGE, main
from app.history import HistoryKey, sensor_key
from drivers.simulator import SimulatedCamera
from tests.conftest import small_config

SIM = "time_scale = 0\nwidth = 320\nheight = 240\nseed = 1\n"


def cli(*args: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(list(args))
    return code, out.getvalue(), err.getvalue()


@pytest.fixture
def sim_toml(tmp_path: Path) -> Path:
    path = tmp_path / "sim.toml"
    path.write_text(SIM)
    return path


def flats(out: Path, sim: Path, count: int = 3, *more: str) -> tuple[int, str, str]:
    return cli("flats", "--camera", "sim", "--count", str(count), "--out", str(out),
               "--sim-config", str(sim), *more)


def test_resume_of_a_finished_session_says_so_and_changes_nothing(tmp_path: Path,
                                                                   sim_toml: Path) -> None:
    out = tmp_path / "f"
    assert flats(out, sim_toml)[0] == EXIT_OK
    before = (out / "session.json").read_text()
    code, _, err = cli("flats", "--resume", str(out))
    assert code == EXIT_OK, err
    assert "already there" in err and "Traceback" not in err
    assert (out / "session.json").read_text() == before


def test_resume_with_a_smaller_count_is_refused(tmp_path: Path, sim_toml: Path) -> None:
    out = tmp_path / "f"
    assert flats(out, sim_toml, 3)[0] == EXIT_OK
    before = (out / "session.json").read_text()
    code, _, err = cli("flats", "--resume", str(out), "--count", "2")
    assert code == EXIT_USAGE and "--count must be at least 3" in err
    assert (out / "session.json").read_text() == before


def test_resume_remembers_the_sim_config_and_refuses_another_sensor(tmp_path: Path,
                                                                     sim_toml: Path) -> None:
    out = tmp_path / "f"
    code, _, err = flats(out, sim_toml, 2)
    assert code == EXIT_OK, err
    # Resuming without --sim-config uses the session's (not the 26 MP default sensor).
    code, _, err = cli("flats", "--resume", str(out), "--count", "3")
    assert code == EXIT_OK, err
    data = json.loads((out / "session.json").read_text())
    assert len(data["flats"]) == 3 and data["sensor"] == {"width": 320, "height": 240}
    other = tmp_path / "other.toml"
    other.write_text(SIM.replace("width = 320", "width = 400"))
    before = (out / "session.json").read_text()
    code, _, err = cli("flats", "--resume", str(out), "--count", "5", "--sim-config",
                       str(other))
    assert code == EXIT_USAGE
    assert "cannot resume" in err and "400x240" in err and "320x240" in err
    assert (out / "session.json").read_text() == before
    assert len(list(out.glob("*.fits"))) == 3


@pytest.mark.parametrize(("typed", "meant"), [("0.5", "50%"), ("50", "50%"), ("0.3", "30%")])
def test_a_share_typed_without_percent_is_refused_up_front(tmp_path: Path, sim_toml: Path,
                                                           typed: str, meant: str) -> None:
    code, _, err = flats(tmp_path / "f", sim_toml, 3, "--target", typed)
    assert code == EXIT_USAGE and f"did you mean {meant}?" in err
    assert not (tmp_path / "f").exists() or not list((tmp_path / "f").glob("*.fits"))


def test_history_key_names_the_sensor_not_only_the_camera() -> None:
    small = SimulatedCamera(small_config()).info
    big = SimulatedCamera(small_config(width=6248, height=4176)).info
    assert small.name == big.name
    keys = {HistoryKey(i.name, 100, 50, 1, "L", 8192, sensor_key(i)).text() for i in (small, big)}
    assert len(keys) == 2

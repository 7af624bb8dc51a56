"""The README screenshot, and the GUI thread's worst stall during a 26 MP capture."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import pytest

from app.events import FinishReason
from app.gui.app import settle_heap
from app.gui.filter_table import DONE, DONE_MARK
from app.gui.job_panel import BRIGHTNESS_AUTO
from app.gui.stall_probe import LatencyProbe
from tests.gui.conftest import run_to_end, write_sim
from tests.gui.test_job_window import choose

pytestmark = pytest.mark.gui

#: `make screenshot` sets this to docs/screenshot.png; the suite itself never writes
#: into the tracked tree
SHOT_ENV = "AUTOFLATS_SCREENSHOT"
#: the issue asks for < 50 ms; the CI machine is shared and noisy, so the test only
#: fails on a gross regression and prints the measured value
STALL_BOUND_MS = 400.0


#: the README's rig: a Flip-Flat and a filter wheel around the colour simulator
SHOT_RIG = """
[panel]
flux_e_s_at_max = 40000
gamma = 2.2

[wheel]
filters = ["L", "R", "G", "B", "Ha"]
throughput = [1.0, 0.33, 0.36, 0.30, 0.012]
"""


def test_screenshot(make_window: Any, qtbot: Any, tmp_path: Path) -> None:
    sim = write_sim(tmp_path / "shot.toml", "").read_text().replace(
        "width = 256\nheight = 192", "width = 1200\nheight = 800").replace(
        "dust_count = 2", "dust_count = 6")
    (tmp_path / "shot.toml").write_text(sim + "seed = 11\n" + SHOT_RIG)
    window = make_window(camera="sim-color", sim_config=tmp_path / "shot.toml", count=8)
    window.resize(1400, 1000)
    choose(window, qtbot, panel="sim", wheel="sim", filters=["L", "R", "G", "B", "Ha"],
           brightness=BRIGHTNESS_AUTO, darks=3)
    run_to_end(qtbot, window, 120_000)
    assert window.last_finished is not None
    assert window.last_finished.reason is FinishReason.COMPLETED
    assert window.filterTable.cell_text("Ha", DONE) == DONE_MARK
    qtbot.wait(200)
    target = Path(os.environ.get(SHOT_ENV) or tmp_path / "screenshot.png")
    assert window.grab().save(str(target), "PNG")
    assert target.stat().st_size > 20_000


def test_gui_thread_stall_during_26mp_capture(make_window: Any, qtbot: Any, tmp_path: Path,
                                              record_property: Any,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    sim = tmp_path / "26mp.toml"
    sim.write_text("time_scale = 0.0\n", encoding="utf-8")  # the default 6248 x 4176 sensor
    window = make_window(camera="sim", sim_config=sim, count=3)
    assert window.facts is not None and window.facts.info.megapixels > 26
    settle_heap()  # as run_gui does once the window is up
    probe = LatencyProbe(interval_ms=10)
    probe.start()
    run_to_end(qtbot, window, timeout_ms=90_000)
    report = probe.stop()
    assert window.last_finished is not None
    assert window.last_finished.reason is FinishReason.COMPLETED
    assert len(window.last_finished.files) == 3
    record_property("worst_gui_stall_ms", round(report.worst_ms, 1))
    with capsys.disabled():
        sys.stderr.write(f"\n26 MP capture: {report}\n")
    assert report.samples > 50
    assert report.worst_ms < STALL_BOUND_MS, str(report)

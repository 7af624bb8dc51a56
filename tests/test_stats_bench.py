"""Smoke: each benchmark command prints its pinned JSON keys on a tiny size.

No timing assertions (benchmarks are not tests); this only keeps the commands working.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable, Sequence
from typing import Any

import pytest

from bench import capture, convergence
from bench import stats as stats_bench


def _json_of(main: Callable[[Sequence[str]], int], argv: list[str],
             capsys: pytest.CaptureFixture[str]) -> dict[str, Any]:
    assert main(["--json", *argv]) == 0
    result: dict[str, Any] = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    return result


def test_bench_stats_json(capsys: pytest.CaptureFixture[str]) -> None:
    result = _json_of(stats_bench.main, ["--size", "64x48", "--repeats", "1"], capsys)
    assert set(result) == {"ratio_to_memcpy", "ratio_to_memcpy_colour", "naive_ratio"}


def test_bench_convergence_json(capsys: pytest.CaptureFixture[str]) -> None:
    result = _json_of(convergence.main, ["--size", "32x24", "--limit", "1"], capsys)
    assert set(result) == {"ours", "nina", "ekos"}
    for row in result.values():
        assert {"median", "worst", "success"} <= set(row)  # pinned; more may follow
        assert 0.0 <= row["success"] <= 1.0


def test_bench_capture_json(capsys: pytest.CaptureFixture[str]) -> None:
    result = _json_of(capture.main, ["--size", "32x24", "--flats", "2", "--memory-flats", "0",
                                     "--exposure", "0.01"], capsys)
    assert {"overhead_ratio", "peak_rss_frames"} <= set(result)  # pinned; more may follow


@pytest.mark.gui
def test_bench_gui_stall_json() -> None:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path),
           "QT_QPA_PLATFORM": "offscreen"}
    done = subprocess.run(
        [sys.executable, "-m", "bench.gui_stall", "--json", "--size", "32x24", "--flats", "1",
         "--load"], capture_output=True, text=True, env=env, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    assert {"worst_ms", "p99_ms"} <= set(json.loads(done.stdout.strip().splitlines()[-1]))

"""The fault campaign: every fault a real setup throws, on the simulator.

Each scenario runs a flat session with injected faults and checks the invariants
that matter at dawn: every FITS file in the folder is complete and readable,
session.json lists exactly those files, nothing is written outside the folder, the
camera is left idle, the run ends in bounded time, and the status and message say
what happened. pytest runs each scenario once (tests/test_faults.py);
``python -m tests.fault_campaign --runs N`` runs each N times with different seeds
and writes docs/reliability.md.
"""

from __future__ import annotations

import argparse
import errno
import json
import os
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from astropy.io import fits

import app.session
from app.events import Event, FinishReason, FlatSaved, Notice, SessionFinished
from app.session import FlatSession
from app.settings import FlatSettings
from drivers.simulator import SimConfig, SimFaults, SimulatedCamera
from tests.rig_campaign import RIG_SCENARIOS, run_rig_scenario

BASE = SimConfig(width=256, height=192, time_scale=0.0, dust_count=2)
WALL_LIMIT_S = 60.0


@dataclass(frozen=True)
class Scenario:
    """One row of the fault table."""

    name: str
    fault: str
    expected: str
    status: str
    faults: SimFaults = field(default_factory=SimFaults)
    sim: dict[str, Any] = field(default_factory=dict)
    settings: dict[str, Any] = field(default_factory=dict)
    count: int = 6
    message: str | None = None
    notice: str | None = None
    min_flats: int = 0
    # makes, per run, a callable given (event, out_dir, cancel) for every event
    action: Callable[[], Callable[[Event, Path, threading.Event], None]] | None = None
    # a context manager wrapping the run (e.g. a full disk)
    environment: Callable[[], Any] | None = None


def _cancel_after_flat(k: int) -> Callable[[Event, Path, threading.Event], None]:
    def act(event: Event, out: Path, cancel: threading.Event) -> None:
        if isinstance(event, FlatSaved) and event.index == k:
            cancel.set()
    return act


def _cancel_at_event(k: int) -> Callable[[Event, Path, threading.Event], None]:
    seen = [0]

    def act(event: Event, out: Path, cancel: threading.Event) -> None:
        seen[0] += 1
        if seen[0] == k:
            cancel.set()
    return act


def _remove_folder_after_flat(k: int) -> Callable[[Event, Path, threading.Event], None]:
    def act(event: Event, out: Path, cancel: threading.Event) -> None:
        if isinstance(event, FlatSaved) and event.index == k:
            while out.exists():  # the writer may be adding a file meanwhile
                shutil.rmtree(out, ignore_errors=True)
    return act


@contextmanager
def disk_full_after(writes: int) -> Iterator[None]:
    """The disk fills up while the (writes+1)-th flat is being written."""
    real_fsync = os.fsync
    count = [0]

    def fsync(fd: int) -> None:
        info = os.fstat(fd)
        if stat.S_ISREG(info.st_mode) and info.st_size > 50_000:
            count[0] += 1
            if count[0] > writes:
                raise OSError(errno.ENOSPC, "No space left on device")
        real_fsync(fd)

    os.fsync = fsync  # type: ignore[assignment]
    try:
        yield
    finally:
        os.fsync = real_fsync


@contextmanager
def fixed_stamp() -> Iterator[None]:
    """Two sessions in the same second: their file names collide."""
    real = app.session.session_stamp
    app.session.session_stamp = lambda when: "20261125T060000"  # type: ignore[assignment]
    try:
        yield
    finally:
        app.session.session_stamp = real


SCENARIOS: tuple[Scenario, ...] = (
    Scenario("failed-exposure-retried", "failed exposure",
             "retried (bounded); the session goes on", "completed",
             SimFaults(fail_at_frames=(2, 5)), min_flats=6),
    Scenario("failed-exposure-persistent", "failed exposure, every retry",
             "clear error; flats so far kept", "failed",
             SimFaults(fail_at_frames=(4, 5, 6)), message="failed exposure"),
    Scenario("hung-exposure-retried", "hung exposure",
             "timeout, abort, retry; goes on", "completed",
             SimFaults(hang_at_frames=(3,)), min_flats=6),
    Scenario("hung-exposure-persistent", "hung exposure, every retry",
             "timeout, then a clear error; never waits forever", "failed",
             SimFaults(hang_at_frames=(4, 5, 6)), message="did not finish"),
    Scenario("camera-removed", "camera removed",
             "stop; flats so far kept and listed; status failed", "failed",
             SimFaults(disconnect_at_frame=6), message="disconnected", min_flats=1),
    Scenario("short-buffer", "short / corrupt buffer",
             "frame rejected, retried; never written", "completed",
             SimFaults(short_buffer_at_frames=(2, 4)), min_flats=6),
    Scenario("light-dusk", "light fading (dusk)",
             "flats out of tolerance dropped, exposure re-solved", "completed",
             SimFaults(flux_drift_per_s=-0.02), count=12, min_flats=12),
    Scenario("light-dawn", "light rising (dawn)",
             "flats out of tolerance dropped, exposure re-solved", "completed",
             SimFaults(flux_drift_per_s=0.02), count=12, min_flats=12),
    Scenario("flicker-long-flats", "PWM flicker banding a short test frame",
             "detected from row means; flats held above the safe exposure", "completed",
             SimFaults(flicker_hz=1000, flicker_duty=0.3),
             sim={"readout_s_per_mp": 1.0, "flux_e_s": 20_000.0},
             settings={"first_exposure_s": 0.0155}, notice="flickers", min_flats=6),
    Scenario("flicker-short-flats", "PWM flicker with flats that must be short",
             "detected; reported with the safe exposure; advice to dim the panel", "failed",
             SimFaults(flicker_hz=100, flicker_duty=0.3),
             sim={"readout_s_per_mp": 1.0, "flux_e_s": 300_000.0},
             notice="flickers", message="dim the panel"),
    Scenario("disk-full", "disk full mid-run",
             "stopped cleanly at the failing write; no partial file", "failed",
             message="could not write", environment=lambda: disk_full_after(3)),
    Scenario("folder-removed", "output folder removed mid-run",
             "stopped cleanly; nothing recreated or written elsewhere", "failed",
             action=lambda: _remove_folder_after_flat(2), message="could not write"),
    Scenario("name-collision", "name collision with existing files",
             "never overwritten (suffix _1)", "completed",
             environment=fixed_stamp, min_flats=6),
    Scenario("hostile-filter", "hostile filter name ../../x + control characters",
             "sanitised; nothing outside the folder", "completed",
             settings={"filter_name": "../../x\x1b[2J\x00"}, min_flats=6),
    Scenario("cancel-during-search", "cancel while finding the exposure",
             "exposure aborted; status cancelled", "cancelled",
             action=lambda: _cancel_at_event(3)),
    Scenario("cancel-during-flats", "cancel while capturing",
             "exposure aborted; no partial file; status cancelled", "cancelled",
             count=30, action=lambda: _cancel_after_flat(3), min_flats=3),
)


@dataclass
class Outcome:
    """What one run did, and the invariants it broke (none, we hope)."""

    scenario: str
    status: str
    message: str | None
    flats: int
    wall_s: float
    violations: list[str]


def check_folder(out: Path, shape: tuple[int, int], *, exact: bool = True) -> list[str]:
    """Every FITS file complete and readable; session.json lists exactly them."""
    problems: list[str] = []
    if not out.exists():
        return problems
    on_disk = sorted(p.name for p in out.glob("*.fits"))
    for name in on_disk:
        try:
            with fits.open(out / name, memmap=False) as hdul:
                data = hdul[0].data
                if data is None or data.shape != shape:
                    problems.append(f"{name}: incomplete data")
                if hdul[0].header.get("IMAGETYP") != "FLAT":
                    problems.append(f"{name}: not a flat")
        except Exception as error:
            problems.append(f"{name}: unreadable ({error})")
    record_path = out / "session.json"
    if record_path.exists():
        listed = []
        # earlier sessions in the same folder are archived as session-<start>.json
        for path in [record_path, *sorted(out.glob("session-*.json"))]:
            try:
                record = json.loads(path.read_text())
            except ValueError as error:
                return [*problems, f"{path.name} unreadable ({error})"]
            listed += [f["file"] for f in record["flats"]]
        listed.sort()
        if exact and listed != on_disk:
            problems.append(f"session.json lists {listed}, folder holds {on_disk}")
        if not exact and not set(listed) <= set(on_disk):
            problems.append(f"session.json lists missing files {set(listed) - set(on_disk)}")
    elif on_disk:
        problems.append("flats without session.json")
    return problems


def run_scenario(scenario: Scenario, root: Path, seed: int = 0) -> Outcome:
    """Run one scenario in ``root`` (an empty folder) and check the invariants."""
    out = root / "out"
    config = replace(BASE, seed=seed, faults=scenario.faults, **scenario.sim)
    camera = SimulatedCamera(config)
    settings = FlatSettings(out_dir=out, count=scenario.count, **scenario.settings)
    cancel = threading.Event()
    environment = scenario.environment() if scenario.environment else _nothing()
    violations: list[str] = []
    events: list[Event] = []
    started = time.monotonic()
    act = scenario.action() if scenario.action is not None else None
    with environment:
        if scenario.name == "name-collision":
            with SimulatedCamera(config) as first:
                list(FlatSession(first, settings).events())
            before = {p.name: p.read_bytes() for p in out.glob("*.fits")}
        with camera:
            for event in FlatSession(camera, settings, cancel=cancel).events():
                events.append(event)
                if act is not None:
                    act(event, out, cancel)
                if time.monotonic() - started > WALL_LIMIT_S:
                    violations.append("run exceeded the time limit")
                    cancel.set()
            if camera.is_exposing:
                violations.append("camera left exposing")
    wall_s = time.monotonic() - started
    finished = events[-1] if events else None
    if not isinstance(finished, SessionFinished):
        return Outcome(scenario.name, "none", None, 0, wall_s, ["no SessionFinished event"])
    status = finished.reason.value
    if status != scenario.status:
        violations.append(f"status {status}, expected {scenario.status} ({finished.message})")
    message = finished.message
    if scenario.message and scenario.message not in (message or ""):
        violations.append(f"message {message!r} lacks {scenario.message!r}")
    if message and "\n" in message:
        violations.append("message is more than one line")
    if scenario.notice and not any(isinstance(e, Notice) and scenario.notice in e.message
                                   for e in events):
        violations.append(f"no notice about {scenario.notice!r}")
    violations += check_folder(out, camera.frame_shape)
    strays = sorted(p.name for p in root.iterdir() if p.name != "out")
    if strays:
        violations.append(f"files outside the folder: {strays}")
    flats = len(finished.files)
    if flats < scenario.min_flats:
        violations.append(f"{flats} flats, expected at least {scenario.min_flats}")
    if finished.reason is FinishReason.COMPLETED and flats != scenario.count:
        violations.append(f"completed with {flats} of {scenario.count} flats")
    if out.exists() and finished.reason is FinishReason.COMPLETED:
        record = json.loads((out / "session.json").read_text())
        target, tolerance = record["target_native"], record["tolerance_native"]
        for flat in record["flats"]:
            if abs(flat["mean_native"] - target) > tolerance:
                violations.append(f"{flat['file']} mean {flat['mean_native']} off target")
    if scenario.name == "name-collision":
        for name, content in before.items():
            if (out / name).read_bytes() != content:
                violations.append(f"{name} was overwritten")
    return Outcome(scenario.name, status, message, flats, wall_s, violations)


@contextmanager
def _nothing() -> Iterator[None]:
    yield


KILL_SIM = """
width = 320
height = 240
time_scale = 1
flux_e_s = 400000
readout_s_per_mp = 0.2
"""


@dataclass
class KillTrial:
    """One `kill -9` of a running `autoflats flats`, then `--resume`."""

    delay_s: float
    flats_at_kill: int
    unlisted_at_kill: int
    violations: list[str]


def kill_trial(root: Path, delay_s: float) -> KillTrial:
    """Kill a real CLI run after ``delay_s``; check the folder; resume; check again.

    Every file on disk must be complete and the record must never list a missing
    file. A kill between publishing a flat and recording it may leave one complete
    flat unlisted; ``--resume`` lists it again, so afterwards the match is exact.
    """
    toml = root / "sim.toml"
    toml.write_text(KILL_SIM)
    out = root / "out"
    shape = (240, 320)
    cmd = [sys.executable, "-m", "app", "flats", "--camera", "sim", "--count", "400",
           "--out", str(out), "--sim-config", str(toml), "--quiet", "--no-history"]
    with subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) as proc:
        time.sleep(delay_s)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    violations = check_folder(out, shape, exact=False)
    on_disk = {p.name for p in out.glob("*.fits")} if out.exists() else set()
    if not (out / "session.json").exists():
        if on_disk:
            violations.append("flats without session.json")
        return KillTrial(delay_s, len(on_disk), len(on_disk), violations)
    record = json.loads((out / "session.json").read_text())
    unlisted = on_disk - {f["file"] for f in record["flats"]}
    if len(unlisted) > 1:
        violations.append(f"{len(unlisted)} complete flats unlisted after the kill")
    done = subprocess.run(
        [sys.executable, "-m", "app", "flats", "--resume", str(out), "--sim-config",
         str(toml), "--count", str(len(on_disk) + 3), "--quiet", "--no-history"],
        capture_output=True, text=True, timeout=120)
    if done.returncode != 0:
        violations.append(f"resume failed: {done.stderr.strip()}")
    violations += check_folder(out, shape)
    final = json.loads((out / "session.json").read_text())
    if final["status"] != "completed":
        violations.append(f"resumed status {final['status']}")
    if list(out.glob(".*.part")):
        violations.append("temporary files left after resume")
    return KillTrial(delay_s, len(on_disk), len(unlisted), violations)


def main() -> int:
    """Run every scenario N times and write docs/reliability.md."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--out", type=Path, default=Path("docs/reliability.md"))
    args = parser.parse_args()
    rows = []
    total_lost = 0
    for scenario in SCENARIOS:
        outcomes = []
        for seed in range(args.runs):
            with tempfile.TemporaryDirectory() as tmp:
                outcomes.append(run_scenario(scenario, Path(tmp), seed))
        survived = sum(not o.violations for o in outcomes)
        lost = sum(1 for o in outcomes for v in o.violations if "lists" in v or "unreadable"
                   in v or "incomplete" in v or "overwritten" in v)
        total_lost += lost
        rows.append((scenario, args.runs, survived, lost, outcomes))
        print(f"{scenario.name}: {survived}/{args.runs} survived, {lost} files lost",
              flush=True)
        for outcome in outcomes:
            for violation in outcome.violations:
                print(f"  seed run: {violation}")
    rig_rows = []
    for rig in RIG_SCENARIOS:
        rig_outcomes = []
        for seed in range(args.runs):
            with tempfile.TemporaryDirectory() as tmp:
                rig_outcomes.append(run_rig_scenario(rig, Path(tmp), seed))
        rig_survived = sum(not o.violations for o in rig_outcomes)
        rig_lost = sum(1 for o in rig_outcomes for v in o.violations
                       if "lists" in v or "unreadable" in v or "incomplete" in v)
        total_lost += rig_lost
        rig_rows.append((rig, args.runs, rig_survived, rig_lost, rig_outcomes))
        print(f"{rig.name}: {rig_survived}/{args.runs} survived, {rig_lost} files lost",
              flush=True)
        for rig_outcome in rig_outcomes:
            for violation in rig_outcome.violations:
                print(f"  seed run: {violation}")
    rows += rig_rows
    kills = []
    for i in range(min(args.runs, 10)):
        with tempfile.TemporaryDirectory() as tmp:
            kills.append(kill_trial(Path(tmp), 0.7 + 0.25 * i))
    survived_kills = sum(not k.violations for k in kills)
    print(f"kill -9: {survived_kills}/{len(kills)} survived", flush=True)
    for trial in kills:
        for violation in trial.violations:
            print(f"  kill at {trial.delay_s:.2f} s: {violation}")
    write_report(args.out, rows, args.runs, kills)
    return (0 if all(r[2] == r[1] for r in rows) and total_lost == 0
            and survived_kills == len(kills) else 1)


def write_report(path: Path, rows: list[Any], runs: int, kills: list[KillTrial]) -> None:
    """The reliability table in markdown."""
    lines = [
        "# Reliability: the fault campaign",
        "",
        "Generated by `make reliability` (`python -m tests.fault_campaign --runs "
        f"{runs}`) on the simulator; each scenario runs {runs} times with different noise "
        "seeds. A run *survives* when it ends in the expected status with a one-line "
        "message, every FITS file in the folder is complete and readable, session.json "
        "lists exactly those files, nothing is written outside the folder, the camera is "
        "left idle and the run ends within 60 s. *Files lost* counts flats that were "
        "captured and acknowledged but are missing, unreadable, unlisted or overwritten. "
        "The rig rows run the whole job (Flip-Flat panel, filter wheel, filters L, R, Ha, "
        "dark flats) with the panel or the wheel failing.",
        "",
        "| fault | expected | status | runs | survived | files lost | worst wall time |",
        "|---|---|---|---|---|---|---|",
    ]
    for scenario, count, survived, lost, outcomes in rows:
        worst = max(o.wall_s for o in outcomes)
        lines.append(f"| {scenario.fault} | {scenario.expected} | {scenario.status} | "
                     f"{count} | {survived} | {lost} | {worst:.2f} s |")
    survived = sum(not k.violations for k in kills)
    lost = sum(1 for k in kills for v in k.violations if "unlisted" in v or "incomplete" in v
               or "unreadable" in v or "lists" in v)
    flats = sorted(k.flats_at_kill for k in kills)
    unlisted = sum(k.unlisted_at_kill for k in kills)
    last_delay = 0.7 + 0.25 * (len(kills) - 1)
    lines.append(
        f"| crash: `kill -9` of a running `autoflats flats` (after 0.7-{last_delay:.2f} s, "
        f"{flats[0] if flats else 0}-{flats[-1] if flats else 0} flats written), then "
        f"`--resume` | every file complete; the record never lists a missing file; at most "
        f"one complete flat unlisted until `--resume` relists it ({unlisted} seen) | "
        f"completed after resume | {len(kills)} | {survived} | {lost} | - |")
    lines += [
        "",
        "Also covered by the test suite (tests/test_faults.py, tests/test_cli.py): random "
        "fault sequences (hypothesis), cancel at every step, bad CLI values / sim TOML "
        "(exit code 2, one line naming the value), an unwritable folder refused before the "
        "first exposure, and `kill -9` of a running `autoflats flats` at several moments "
        "followed by `--resume`.",
        "",
    ]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines))


if __name__ == "__main__":
    raise SystemExit(main())

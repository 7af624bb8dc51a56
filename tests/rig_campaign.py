"""The fault campaign's rig twins: the whole job (panel, cover, wheel, dark flats) on the
simulated rig, with the light panel or the filter wheel failing.

Each scenario runs a job with a fault injected and checks the same invariants as the
camera campaign: every FITS file under the folder (filter folders and darkflats/
included) is complete and readable, session.json lists exactly those files, the run
ends in the expected status with a one-line message naming the device, within 60 s.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from astropy.io import fits

from app.events import Event, FlatSaved, SessionFinished
from app.job import FlatJob, JobSettings
from app.rig import Rig
from app.settings import FlatSettings
from drivers.devices import Devices, open_devices

RIG_TOML = """width = 256
height = 192
time_scale = 0
seed = {seed}

[panel]
has_cover = true
light_leak = {leak}

[wheel]
filters = ["L", "R", "G", "B", "Ha", "OIII", "SII"]
throughput = [1.0, 0.33, 0.36, 0.30, 0.012, 0.015, 0.010]
"""
WALL_LIMIT_S = 60.0
Act = Callable[[Event, Devices], None]


@dataclass(frozen=True)
class RigScenario:
    """One row of the rig fault table."""

    name: str
    fault: str
    expected: str
    status: str
    message: str
    leak: float = 0.0
    setup: Callable[[Devices], None] | None = None
    action: Callable[[], Act] | None = None


def _after_flat(k: int, hit: Callable[[Devices], None]) -> Callable[[], Act]:
    def make() -> Act:
        def act(event: Event, devices: Devices) -> None:
            if isinstance(event, FlatSaved) and event.index == k:
                hit(devices)
        return act
    return make


def _unplug_panel(devices: Devices) -> None:
    devices.panel.faults.disconnected = True  # type: ignore[union-attr]


def _unplug_wheel(devices: Devices) -> None:
    devices.wheel.fault_disconnected = True  # type: ignore[union-attr]


def _stuck_cover(devices: Devices) -> None:
    devices.panel.open_cover(60)  # type: ignore[union-attr]
    devices.panel.faults.cover_stuck = True  # type: ignore[union-attr]


def _stuck_wheel(devices: Devices) -> None:
    devices.wheel.fault_never_arrive = True  # type: ignore[union-attr]


RIG_SCENARIOS = [
    RigScenario("panel-unplugged", "light panel unplugged mid-job",
                "job stops; flats so far kept and listed", "failed", "unplugged",
                action=_after_flat(2, _unplug_panel)),
    RigScenario("wheel-unplugged", "filter wheel unplugged mid-job",
                "job stops; flats so far kept and listed", "failed", "wheel",
                action=_after_flat(2, _unplug_wheel)),
    RigScenario("cover-never-closes", "the cover never reaches its end state",
                "job stops before any exposure, naming the cover", "failed", "cover",
                setup=_stuck_cover),
    RigScenario("wheel-never-arrives", "the filter wheel never arrives",
                "job stops, naming the wheel", "failed", "wheel", setup=_stuck_wheel),
    RigScenario("light-leak", "light leaks onto the sensor with the panel off",
                "dark flats refused ('light leak'); flats kept", "failed", "light leak",
                leak=0.05),
]


@dataclass
class RigOutcome:
    """How one run went."""

    name: str
    status: str
    message: str | None
    files: int
    wall_s: float
    violations: list[str]


def run_rig_scenario(scenario: RigScenario, root: Path, seed: int = 0) -> RigOutcome:
    """Run one rig scenario in ``root`` (an empty folder) and check the invariants."""
    sim = root / "rig.toml"
    sim.write_text(RIG_TOML.format(seed=seed, leak=scenario.leak))
    out = root / "out"
    devices = open_devices("sim", panel="sim", wheel="sim", sim_config_path=sim)
    cancel = threading.Event()
    act = scenario.action() if scenario.action is not None else None
    events: list[Event] = []
    violations: list[str] = []
    started = time.monotonic()
    with devices:
        if scenario.setup is not None:
            scenario.setup(devices)
        job = JobSettings(FlatSettings(out_dir=out, count=3), filters=("L", "R", "Ha"),
                          brightness="auto", dark_count=2)
        runner = FlatJob(Rig(devices.camera, devices.panel, devices.wheel), job,
                         cancel=cancel)
        for event in runner.events():
            events.append(event)
            if act is not None:
                act(event, devices)
            if time.monotonic() - started > WALL_LIMIT_S:
                violations.append("run exceeded the time limit")
                cancel.set()
        if devices.camera.is_exposing:  # type: ignore[attr-defined]
            violations.append("camera left exposing")
    wall_s = time.monotonic() - started
    finished = events[-1] if events else None
    if not isinstance(finished, SessionFinished):
        return RigOutcome(scenario.name, "none", None, 0, wall_s, ["no SessionFinished"])
    message = finished.message or ""
    if finished.reason.value != scenario.status:
        violations.append(f"status {finished.reason.value}, expected {scenario.status}")
    if scenario.message.lower() not in message.lower():
        violations.append(f"message {message!r} lacks {scenario.message!r}")
    if "\n" in message:
        violations.append("message is more than one line")
    violations += check_rig_folder(out)
    return RigOutcome(scenario.name, finished.reason.value, message, len(finished.files),
                      wall_s, violations)


def check_rig_folder(out: Path) -> list[str]:
    """Every FITS below ``out`` complete and readable; the record lists exactly them."""
    problems = []
    on_disk = sorted(str(p.relative_to(out)) for p in out.rglob("*.fits")) if (
        out.exists()) else []
    for name in on_disk:
        try:
            with fits.open(out / name, memmap=False) as hdul:
                if hdul[0].data is None or hdul[0].data.shape != (192, 256):
                    problems.append(f"{name}: incomplete data")
        except Exception as error:
            problems.append(f"{name}: unreadable ({error})")
    path = out / "session.json"
    if not path.exists():
        return [*problems, "flats without session.json"] if on_disk else problems
    record: dict[str, Any] = json.loads(path.read_text())
    listed = [f["file"] for e in record.get("filters", []) for f in e["flats"]]
    listed += [f["file"] for f in record.get("dark_flats", [])]
    if sorted(listed) != on_disk:
        problems.append(f"session.json lists {sorted(listed)}, folder holds {on_disk}")
    return problems

"""Continue an interrupted session: read session.json, reconcile the folder with it.

After a crash the folder is brought back to the record's promise: temporary files of
flats that were being written are removed, listed flats that are missing are dropped,
and complete flats that were published but not yet listed (a kill between the two
steps) are listed again.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from astropy.io import fits

from app.adu import AduSpace, Target, TargetError
from app.atomic import TEMP_SUFFIX
from app.record import SESSION_FILE
from app.settings import FlatSettings, SettingsError
from drivers.base import CameraInfo


@dataclass(frozen=True, slots=True)
class ResumeState:
    """What an interrupted session leaves to continue from."""

    record: dict[str, Any]
    flats: tuple[dict[str, Any], ...]
    exposure_s: float | None


def load_resume(out_dir: Path) -> ResumeState:
    """Read ``out_dir/session.json`` and reconcile the folder with it."""
    path = out_dir / SESSION_FILE
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise SettingsError(
            f"no session to resume in {str(out_dir)!r} (no {SESSION_FILE}); "
            "check the folder"
        ) from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise SettingsError(f"cannot read {str(path)!r} ({error}); it cannot be resumed") from None
    if not isinstance(data, dict) or not (isinstance(data.get("flats"), list)
                                          or isinstance(data.get("filters"), list)):
        raise SettingsError(f"{str(path)!r} is not an autoflats session record")
    for temp in out_dir.rglob(f".*{TEMP_SUFFIX}"):
        temp.unlink(missing_ok=True)
    listed = (_reconcile(out_dir, "", data["flats"], "flat_*.fits")
              if isinstance(data.get("flats"), list) else [])
    if isinstance(data.get("dark_flats"), list):
        data["dark_flats"] = _reconcile(out_dir, "darkflats", data["dark_flats"],
                                        "darkflat_*.fits")
    for entry in data.get("filters") or []:
        if isinstance(entry, dict) and isinstance(entry.get("flats"), list):
            folder = str(entry.get("folder") or entry.get("filter", ""))
            entry["flats"] = _reconcile(out_dir, folder, entry["flats"], "flat_*.fits")
            listed += entry["flats"]
    exposure = data.get("exposure_s")
    exposure_s = float(exposure) if isinstance(exposure, int | float) and exposure > 0 else None
    return ResumeState(record=data, flats=tuple(listed), exposure_s=exposure_s)


def _reconcile(out_dir: Path, subdir: str, entries: list[Any], pattern: str
               ) -> list[dict[str, Any]]:
    """The entries whose files exist, plus complete files of ``subdir`` not yet listed."""
    listed = [f for f in entries
              if isinstance(f, dict) and (out_dir / str(f.get("file", ""))).is_file()]
    names = {f["file"] for f in listed}
    folder = out_dir / subdir if subdir else out_dir
    if not folder.is_dir():
        return listed
    for orphan in sorted(folder.glob(pattern)):
        name = str(orphan.relative_to(out_dir))
        if name not in names:
            entry = _complete_flat_entry(orphan, name)
            if entry is not None:
                listed.append(entry)
    return listed


def _complete_flat_entry(path: Path, name: str | None = None) -> dict[str, Any] | None:
    """The record entry of a complete, readable flat (or dark flat) file, else None."""
    try:
        with fits.open(path, memmap=False) as hdul:
            header = hdul[0].header
            data = hdul[0].data
            if header.get("IMAGETYP") not in ("FLAT", "DARK") or data is None:
                return None
            exposure = float(header["EXPTIME"])
            mean = float(header.get("MEANADU", math.nan))
            bits = int(header.get("BITDEPTH", 16))
    except (OSError, KeyError, ValueError, TypeError):
        return None
    return {"file": name or path.name, "exposure_s": exposure, "mean_native": round(mean, 3),
            "mean_16bit": round(mean * 2 ** (16 - bits), 3)}


def settings_from_record(state: ResumeState, out_dir: Path,
                         count: int | None = None) -> FlatSettings:
    """The settings the interrupted session ran with (``count`` may raise the total)."""
    rec = state.record
    try:
        target = Target.parse(str(rec.get("target", "50%")),
                              AduSpace(rec.get("target_space", AduSpace.BIT16.value)))
    except (TargetError, ValueError) as error:
        raise SettingsError(f"session.json has an unusable target ({error})") from None
    return FlatSettings(
        out_dir=out_dir,
        count=count if count is not None else int(rec.get("count", len(state.flats))),
        target=target,
        tolerance_percent=float(rec.get("tolerance_percent", 5.0)),
        gain=_int_or_none(rec.get("gain")),
        offset=_int_or_none(rec.get("offset")),
        binning=int(rec.get("binning", 1)),
        filter_name=str(rec.get("filter", "")),
        first_exposure_s=state.exposure_s,
        min_exposure_s=_float_or_none(rec.get("min_exposure_s")),
        max_exposure_s=float(rec.get("max_exposure_s", 120.0)),
        per_channel=rec.get("per_channel") is True,
        lower_target_if_nonlinear=rec.get("lower_target") is True,
    )


def _int_or_none(value: object) -> int | None:
    return int(value) if isinstance(value, int) and not isinstance(value, bool) else None


def _float_or_none(value: object) -> float | None:
    return float(value) if isinstance(value, int | float) else None


def check_same_camera(record: dict[str, Any], info: CameraInfo) -> None:
    """Refuse to continue a session on a camera that would not give matching flats."""
    differences = []
    if record.get("camera") not in (None, info.name):
        differences.append(f"camera {info.name!r} (the session used {record['camera']!r})")
    if record.get("model") not in (None, info.model):
        differences.append(f"model {info.model!r} (the session used {record['model']!r})")
    sensor = record.get("sensor")
    if isinstance(sensor, dict) and (sensor.get("width"), sensor.get("height")) != (
            info.width, info.height):
        differences.append(f"sensor {info.width}x{info.height} (the session used "
                           f"{sensor.get('width')}x{sensor.get('height')})")
    if record.get("bit_depth") not in (None, info.bit_depth):
        differences.append(f"bit depth {info.bit_depth} (the session used "
                           f"{record['bit_depth']})")
    if differences:
        raise SettingsError(
            "cannot resume: this camera differs from the session's: "
            + "; ".join(differences) + "; use the same camera (and --sim-config), or a new "
            "folder")


def check_resume_count(state: ResumeState, count: int | None) -> None:
    """--count may raise the total of a resumed session, never drop listed flats."""
    sections = [f for f in state.record.get("filters") or [] if isinstance(f, dict)]
    done = (max((len(f.get("flats") or []) for f in sections), default=0) if sections
            else len(state.flats))
    if count is not None and count < done:
        raise SettingsError(
            f"{done} flats are already there; --count must be at least {done} (or leave it "
            "out)")

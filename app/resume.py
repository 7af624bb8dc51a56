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
    if not isinstance(data, dict) or not isinstance(data.get("flats"), list):
        raise SettingsError(f"{str(path)!r} is not an autoflats session record")
    for temp in out_dir.glob(f".*{TEMP_SUFFIX}"):
        temp.unlink(missing_ok=True)
    listed = [f for f in data["flats"]
              if isinstance(f, dict) and (out_dir / str(f.get("file", ""))).is_file()]
    names = {f["file"] for f in listed}
    for orphan in sorted(out_dir.glob("flat_*.fits")):
        if orphan.name not in names:
            entry = _complete_flat_entry(orphan)
            if entry is not None:
                listed.append(entry)
    exposure = data.get("exposure_s")
    exposure_s = float(exposure) if isinstance(exposure, int | float) and exposure > 0 else None
    return ResumeState(record=data, flats=tuple(listed), exposure_s=exposure_s)


def _complete_flat_entry(path: Path) -> dict[str, Any] | None:
    """The record entry of a complete, readable flat file, else None."""
    try:
        with fits.open(path, memmap=False) as hdul:
            header = hdul[0].header
            data = hdul[0].data
            if header.get("IMAGETYP") != "FLAT" or data is None:
                return None
            exposure = float(header["EXPTIME"])
            mean = float(header.get("MEANADU", math.nan))
            bits = int(header.get("BITDEPTH", 16))
    except (OSError, KeyError, ValueError, TypeError):
        return None
    return {"file": path.name, "exposure_s": exposure, "mean_native": round(mean, 3),
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
    if count is not None and count < len(state.flats):
        raise SettingsError(
            f"{len(state.flats)} flats are already there; --count must be at least "
            f"{len(state.flats)} (or leave it out)")

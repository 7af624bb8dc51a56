"""Exposure history: what worked last time for this camera, gain, offset, bin and filter.

Flat panels are usually as bright as they were last night, so the exposure that
worked then is the best first guess, and the bias measured then (it depends only on
the camera, gain and offset) lets a single test frame predict the exposure exactly.
The history is a small JSON file in the user's data folder; a damaged or unwritable
file is ignored, never fatal.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import threading
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, BinaryIO

from app.atomic import write_replace
from drivers.base import CameraInfo

HISTORY_ENV = "AUTOFLATS_HISTORY"
MAX_ENTRIES = 500
log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class HistoryKey:
    """What must match for a remembered exposure to apply."""

    camera: str
    gain: int
    offset: int
    binning: int
    filter_name: str
    target_native: float
    #: what makes an exposure transferable: the model and its sensor
    #: (e.g. "ZWO ASI2600MM Pro 6248x4176 16-bit mono"), not only the camera's name
    sensor: str = ""

    def text(self) -> str:
        """The key as stored."""
        return (f"{self.camera}|{self.sensor}|g{self.gain}|o{self.offset}|bin{self.binning}|"
                f"{self.filter_name}|t{self.target_native:.0f}")


def sensor_key(info: CameraInfo) -> str:
    """The sensor as a history key part: model, size, bit depth and colour."""
    colour = info.bayer_pattern or "mono"
    return f"{info.model} {info.width}x{info.height} {info.bit_depth}-bit {colour}"


def linearity_key(info: CameraInfo, gain: int, offset: int, binning: int) -> str:
    """What a linearity measurement holds for: the sensor at one gain, offset and bin."""
    return f"{info.name}|{sensor_key(info)}|g{gain}|o{offset}|bin{binning}"


@dataclass(frozen=True, slots=True)
class HistoryEntry:
    """What was found last time."""

    exposure_s: float
    bias_native: float | None
    when_utc: str
    #: the panel's level the exposure was found at (brightness mode), else None
    brightness: int | None = None


def default_history_path() -> Path:
    """$AUTOFLATS_HISTORY, else the platform's per-user data folder."""
    override = os.environ.get(HISTORY_ENV)
    if override:
        return Path(override)
    if sys.platform == "win32":
        base = Path(os.environ.get("APPDATA", Path.home() / "AppData" / "Roaming"))
    elif sys.platform == "darwin":
        base = Path.home() / "Library" / "Application Support"
    else:
        base = Path(os.environ.get("XDG_DATA_HOME", Path.home() / ".local" / "share"))
    return base / "autoflats" / "history.json"


class ExposureHistory:
    """Remembered exposures, one per key; safe to share between threads."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()

    @classmethod
    def default(cls) -> ExposureHistory:
        """The user's history file."""
        return cls(default_history_path())

    def lookup(self, key: HistoryKey) -> HistoryEntry | None:
        """The entry for ``key``, or None (also when the file is missing or damaged)."""
        raw = self._read().get(key.text())
        if not isinstance(raw, dict):
            return None
        try:
            exposure = float(raw["exposure_s"])
            bias = raw.get("bias_native")
            level = raw.get("brightness")
            entry = HistoryEntry(exposure, None if bias is None else float(bias),
                                 str(raw.get("when_utc", "")),
                                 int(level) if isinstance(level, int) else None)
        except (KeyError, TypeError, ValueError):
            return None
        return entry if exposure > 0 else None

    def remember(self, key: HistoryKey, entry: HistoryEntry) -> None:
        """Store ``entry`` under ``key``; failures are logged, never raised."""
        self._store(key.text(), asdict(entry))

    def remember_linear_limit(self, key: str, limit_native: float) -> None:
        """Store the linear limit 'autoflats linearity' measured (see :func:`linearity_key`)."""
        self._store("linearity|" + key, {"linear_limit_native": round(limit_native, 3)})

    def linear_limit(self, key: str) -> float | None:
        """The measured linear limit (native ADU) for ``key``, None when never measured."""
        raw = self._read().get("linearity|" + key)
        try:
            value = float(raw["linear_limit_native"]) if isinstance(raw, dict) else None
        except (KeyError, TypeError, ValueError):
            return None
        return value if value is not None and value > 0 else None

    def _store(self, key: str, value: dict[str, Any]) -> None:
        with self._lock:
            data = self._read()
            data.pop(key, None)
            data[key] = value
            while len(data) > MAX_ENTRIES:
                data.pop(next(iter(data)))
            text = json.dumps(data, indent=1) + "\n"

            def write(handle: BinaryIO) -> None:
                handle.write(text.encode("utf-8"))

            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                write_replace(self.path, write)
            except OSError as error:
                log.warning("could not save the exposure history %s: %s", self.path, error)

    def _read(self) -> dict[str, Any]:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        return data if isinstance(data, dict) else {}

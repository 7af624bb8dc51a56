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

    def text(self) -> str:
        """The key as stored."""
        return (f"{self.camera}|g{self.gain}|o{self.offset}|bin{self.binning}|"
                f"{self.filter_name}|t{self.target_native:.0f}")


@dataclass(frozen=True, slots=True)
class HistoryEntry:
    """What was found last time."""

    exposure_s: float
    bias_native: float | None
    when_utc: str


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
            entry = HistoryEntry(exposure, None if bias is None else float(bias),
                                 str(raw.get("when_utc", "")))
        except (KeyError, TypeError, ValueError):
            return None
        return entry if exposure > 0 else None

    def remember(self, key: HistoryKey, entry: HistoryEntry) -> None:
        """Store ``entry`` under ``key``; failures are logged, never raised."""
        with self._lock:
            data = self._read()
            data.pop(key.text(), None)
            data[key.text()] = asdict(entry)
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

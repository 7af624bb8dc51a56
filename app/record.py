"""session.json: the session's record, rewritten atomically after every frame so it
is true at every moment, even after a crash."""

from __future__ import annotations

import json
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any, BinaryIO

from app.atomic import write_replace

SESSION_FILE = "session.json"


class SessionRecord:
    """The pinned session.json fields, plus a few more; safe across threads."""

    def __init__(
        self,
        path: Path,
        *,
        camera: str,
        gain: int,
        offset: int,
        bit_depth: int,
        target_native: float,
        target_16bit: float,
        extra: dict[str, Any] | None = None,
        previous: dict[str, Any] | None = None,
    ) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._data: dict[str, Any] = {
            "status": "running",
            "error": None,
            "camera": camera,
            "gain": gain,
            "offset": offset,
            "bit_depth": bit_depth,
            "target_native": round(target_native, 3),
            "target_16bit": round(target_16bit, 3),
            "test_exposures": [],
            "exposure_s": None,
            "flats": [],
            "warnings": [],
            "rejected_flats": 0,
        }
        if previous:  # a resumed session keeps what the earlier run recorded
            self._data["test_exposures"] = list(previous.get("test_exposures", []))
            self._data["flats"] = list(previous.get("flats", []))
            self._data["exposure_s"] = previous.get("exposure_s")
            self._data["warnings"] = list(previous.get("warnings", []))
            self._data["rejected_flats"] = int(previous.get("rejected_flats", 0) or 0)
        if extra:
            self._data.update(extra)

    def snapshot(self) -> dict[str, Any]:
        """A deep copy of the current record."""
        with self._lock:
            copy: dict[str, Any] = json.loads(json.dumps(self._data))
            return copy

    def update(self, **fields: Any) -> None:
        """Set top-level fields and save."""
        with self._lock:
            self._data.update(fields)
            self._save_locked()

    def add_test_exposure(self, exposure_s: float, mean_native: float, mean_16bit: float,
                          **more: Any) -> None:
        """Append a frame that was not saved as a flat, and save."""
        entry = _frame_entry(exposure_s, mean_native, mean_16bit) | more
        with self._lock:
            self._data["test_exposures"].append(entry)
            self._save_locked()

    def add_flat(self, file: str, exposure_s: float, mean_native: float,
                 mean_16bit: float, **more: Any) -> None:
        """Append a flat that is complete on disk, and save."""
        entry = {"file": file} | _frame_entry(exposure_s, mean_native, mean_16bit) | more
        with self._lock:
            self._data["flats"].append(entry)
            self._save_locked()

    def add_warning(self, message: str) -> None:
        """Append a warning the user should read (once each), and save."""
        with self._lock:
            if message not in self._data["warnings"]:
                self._data["warnings"].append(message)
                self._save_locked()

    def count_rejected_flat(self) -> None:
        """One more flat dropped after the search (out of tolerance), and save."""
        with self._lock:
            self._data["rejected_flats"] += 1
            self._save_locked()

    def save(self) -> None:
        """Write the record now."""
        with self._lock:
            self._save_locked()

    def _save_locked(self) -> None:
        text = json.dumps(self._data, indent=2) + "\n"

        def write(handle: BinaryIO) -> None:
            handle.write(text.encode("utf-8"))

        write_replace(self.path, write)


def _frame_entry(exposure_s: float, mean_native: float, mean_16bit: float) -> dict[str, Any]:
    return {
        "exposure_s": exposure_s,
        "mean_native": round(mean_native, 3),
        "mean_16bit": round(mean_16bit, 3),
    }


def channels_entry(channels_16bit: Mapping[str, float] | None) -> dict[str, Any]:
    """``{"channels_16bit": {...}}`` for a colour frame, nothing for mono."""
    if not channels_16bit:
        return {}
    return {"channels_16bit": {ch: round(v, 3) for ch, v in channels_16bit.items()}}

"""session.json: the session's record, rewritten atomically after every frame so it
is true at every moment, even after a crash.

A one-filter run keeps the pinned flat layout (``test_exposures``, ``exposure_s``,
``flats`` at the top). A filter sequence keeps one entry per filter in ``filters``
(each with its own ``status``, ``exposure_s``, ``brightness``, ``test_exposures`` and
``flats``) and the dark flats in ``dark_flats``. Both have ``warnings``.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any, BinaryIO

from app.atomic import write_replace

SESSION_FILE = "session.json"
#: the record section of the dark flats in a filter sequence
DARK_SECTION = "darkflats"


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
        filters: list[str] | None = None,
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
        }
        self.multi = filters is not None
        if filters is None:
            self._data |= {"test_exposures": [], "exposure_s": None, "flats": []}
        else:
            self._data |= {"filters": [_filter_entry(name) for name in filters],
                           "dark_flats": []}
        self._data |= {"warnings": [], "rejected_flats": 0}
        if previous:  # a resumed session keeps what the earlier run recorded
            keep = (("filters", "dark_flats") if self.multi
                    else ("test_exposures", "flats", "exposure_s", "dark_flats",
                          "brightness", "aim"))
            for key in (*keep, "warnings", "rejected_flats"):
                if key in previous:
                    self._data[key] = json.loads(json.dumps(previous[key]))
        if extra:
            self._data.update(extra)

    # -- whole record -----------------------------------------------------------------
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

    def add_warning(self, message: str) -> None:
        """Append a warning the user should read (once each), and save."""
        with self._lock:
            if message not in self._data["warnings"]:
                self._data["warnings"].append(message)
                self._save_locked()

    def save(self) -> None:
        """Write the record now."""
        with self._lock:
            self._save_locked()

    # -- sections (a filter, or the whole one-filter run) ----------------------------------
    def _section(self, name: str | None) -> dict[str, Any]:
        if not self.multi or name is None:
            return self._data
        entries: list[dict[str, Any]] = self._data["filters"]
        for entry in entries:
            if entry["filter"] == name:
                return entry
        entry = _filter_entry(name)
        self._data["filters"].append(entry)
        return entry

    def update_section(self, name: str | None, **fields: Any) -> None:
        """Set fields of a filter's entry (the top level in a one-filter run), and save."""
        with self._lock:
            self._section(name).update(fields)
            self._save_locked()

    def section(self, name: str | None) -> dict[str, Any]:
        """A copy of a filter's entry (the whole record in a one-filter run)."""
        with self._lock:
            copy: dict[str, Any] = json.loads(json.dumps(self._section(name)))
            return copy

    def add_test_exposure(self, exposure_s: float, mean_native: float, mean_16bit: float,
                          section: str | None = None, **more: Any) -> None:
        """Append a frame that was not saved as a flat, and save."""
        entry = _frame_entry(exposure_s, mean_native, mean_16bit) | more
        with self._lock:
            self._section(section)["test_exposures"].append(entry)
            self._save_locked()

    def add_flat(self, file: str, exposure_s: float, mean_native: float,
                 mean_16bit: float, section: str | None = None, **more: Any) -> None:
        """Append a flat that is complete on disk, and save."""
        entry = {"file": file} | _frame_entry(exposure_s, mean_native, mean_16bit) | more
        with self._lock:
            self._section(section)["flats"].append(entry)
            self._save_locked()

    def add_dark_flat(self, file: str, exposure_s: float, mean_native: float) -> None:
        """Append a dark flat that is complete on disk, and save."""
        entry = {"file": file, "exposure_s": exposure_s, "mean_native": round(mean_native, 3)}
        with self._lock:
            self._data.setdefault("dark_flats", []).append(entry)
            self._save_locked()

    def count_rejected_flat(self, section: str | None = None) -> None:
        """One more flat dropped after the search (out of tolerance), and save."""
        with self._lock:
            self._data["rejected_flats"] += 1
            if self.multi and section is not None:
                entry = self._section(section)
                entry["rejected_flats"] = entry.get("rejected_flats", 0) + 1
            self._save_locked()

    def _save_locked(self) -> None:
        text = json.dumps(self._data, indent=2) + "\n"

        def write(handle: BinaryIO) -> None:
            handle.write(text.encode("utf-8"))

        write_replace(self.path, write)


def _filter_entry(name: str) -> dict[str, Any]:
    return {"filter": name, "status": "pending", "exposure_s": None, "brightness": None,
            "test_exposures": [], "flats": [], "rejected_flats": 0}


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

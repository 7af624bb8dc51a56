"""Atomic file writes: a temporary name in the same folder, fsync, then rename."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

TEMP_SUFFIX = ".part"


def _fsync_dir(folder: Path) -> None:
    if os.name != "posix":
        return
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _write_temp(path: Path, write: Callable[[BinaryIO], None]) -> Path:
    temp = path.with_name(f".{path.name}.{os.getpid()}{TEMP_SUFFIX}")
    try:
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0),
                     0o644)
        with os.fdopen(fd, "wb") as handle:
            write(handle)
            handle.flush()
            os.fsync(handle.fileno())
    except BaseException:
        with contextlib.suppress(OSError):
            temp.unlink()
        raise
    return temp


def write_replace(path: Path, write: Callable[[BinaryIO], None]) -> None:
    """Write ``path`` atomically, replacing any previous version (session.json)."""
    temp = _write_temp(path, write)
    try:
        os.replace(temp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            temp.unlink()
        raise
    _fsync_dir(path.parent)


def write_new(
    path: Path,
    write: Callable[[BinaryIO], None],
    max_tries: int = 1000,
    on_published: Callable[[Path], None] | None = None,
) -> Path:
    """Write a new file atomically, never overwriting: ``name_1.ext``... on collision.

    Returns the path written. A hard link publishes the complete file under its
    final name only if that name is free, so a file already there is never touched.
    ``on_published`` runs right after publication (before any clean-up), so a record
    of the file lags its appearance as little as possible.
    """
    temp = _write_temp(path, write)
    try:
        for attempt in range(max_tries):
            candidate = path if attempt == 0 else path.with_stem(f"{path.stem}_{attempt}")
            try:
                os.link(temp, candidate)
            except FileExistsError:
                continue
            except OSError:
                # Filesystems without hard links: check, then rename (tiny race).
                if candidate.exists():
                    continue
                os.rename(temp, candidate)
            if on_published is not None:
                on_published(candidate)
            _fsync_dir(path.parent)
            return candidate
        raise FileExistsError(f"no free file name near {path.name}")
    finally:
        with contextlib.suppress(FileNotFoundError):
            temp.unlink()

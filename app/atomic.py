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
        candidate = link_to_free_name(temp, path, max_tries)
        if on_published is not None:
            on_published(candidate)
        _fsync_dir(path.parent)
        return candidate
    finally:
        with contextlib.suppress(FileNotFoundError):
            temp.unlink()


def link_to_free_name(source: Path, path: Path, max_tries: int = 1000) -> Path:
    """Give ``source`` the first free name of ``path``, ``name_1.ext``, ...; returns it.

    A hard link claims a name only if it is free, so no file is ever overwritten; the
    source keeps its own name too. On filesystems without hard links (FAT, exFAT) the
    source is renamed instead, after checking the name is free (a tiny race).
    """
    for attempt in range(max_tries):
        candidate = path if attempt == 0 else path.with_stem(f"{path.stem}_{attempt}")
        try:
            os.link(source, candidate)
        except FileExistsError:
            continue
        except OSError:
            if candidate.exists():
                continue
            os.rename(source, candidate)
        return candidate
    raise FileExistsError(f"no free file name near {path.name}")

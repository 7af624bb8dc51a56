"""Where vendor libraries live on each platform, and their files there (shared by the
ZWO camera and EFW filter-wheel SDK loaders)."""

from __future__ import annotations

import os
import platform
import sys
from pathlib import Path

#: Debian-style multiarch folder per machine
_MULTIARCH = {"x86_64": "x86_64-linux-gnu", "aarch64": "aarch64-linux-gnu",
              "armv7l": "arm-linux-gnueabihf", "i686": "i386-linux-gnu"}


def system_library_dirs(zwo_sdk_folder: str) -> list[Path]:
    """The usual library folders; on Windows PATH and ZWO's install folders
    (``ZWO Design/<zwo_sdk_folder>``, e.g. "ASI SDK" or "EFW SDK")."""
    if sys.platform == "win32":
        dirs = [Path(p) for p in os.environ.get("PATH", "").split(os.pathsep) if p]
        for root in (os.environ.get("ProgramFiles"), os.environ.get("ProgramFiles(x86)")):
            if root:
                dirs += [Path(root) / "ASIStudio", Path(root) / "ZWO Design" / zwo_sdk_folder]
        return dirs
    if sys.platform == "darwin":
        return [Path("/usr/local/lib"), Path("/opt/homebrew/lib"),
                Path("/Library/Frameworks"), Path("/Applications/ASIStudio.app/Contents/lib")]
    multiarch = _MULTIARCH.get(platform.machine())
    dirs = [Path("/usr/local/lib"), Path("/usr/lib"), Path("/usr/lib64")]
    if multiarch:
        dirs += [Path("/usr/local/lib") / multiarch, Path("/usr/lib") / multiarch]
    return dirs


def library_files_in(directory: Path, names: tuple[str, ...]) -> list[Path]:
    """Each ``name`` and its versioned variants (libASICamera2.so.1.41) in ``directory``."""
    found: list[Path] = []
    for name in names:
        exact = directory / name
        if exact.is_file():
            found.append(exact)
        try:
            found += sorted(p for p in directory.glob(name + ".*") if p.is_file())
        except OSError:
            continue
    return found

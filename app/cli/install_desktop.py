"""``autoflats install-desktop``: a menu entry and an icon for the desktop (Linux).

Writes ``autoflats.desktop`` to ``$XDG_DATA_HOME/applications`` and the icon to
``$XDG_DATA_HOME/icons/hicolor/scalable/apps`` (``~/.local/share`` when the
variable is unset), for the current user, no root needed. The entry runs the
``autoflats`` command this one was started as (a pipx or venv install).
"""

from __future__ import annotations

import argparse
import functools
import os
import shutil
import sys
from pathlib import Path
from typing import Any, BinaryIO

from app.atomic import write_replace

RESOURCES = Path(__file__).resolve().parents[1] / "resources"
DESKTOP_TEMPLATE = RESOURCES / "autoflats.desktop"
ICON = RESOURCES / "icons" / "autoflats.svg"


def add_parser(sub: Any) -> None:
    """The ``install-desktop`` subcommand."""
    p = sub.add_parser("install-desktop", help="add autoflats to the desktop's application "
                       "menu, with its icon (Linux, for this user)")
    p.add_argument("--exec", default=None, metavar="PATH", dest="exec_path",
                   help="the autoflats command the entry runs (default: this one)")


def data_home() -> Path:
    """$XDG_DATA_HOME, or ~/.local/share."""
    value = os.environ.get("XDG_DATA_HOME", "")
    return Path(value) if os.path.isabs(value) else Path.home() / ".local" / "share"


def autoflats_command() -> str:
    """The path of the running ``autoflats`` script, else the one on PATH, else python -m."""
    here = Path(sys.argv[0])
    if here.name == "autoflats" and here.exists():
        return str(here.resolve())
    found = shutil.which("autoflats")
    if found:
        return str(Path(found).resolve())
    return f"{sys.executable} -m app"


def _exec_quote(word: str) -> str:
    """A word for a desktop entry's Exec key (the spec's quoting rules)."""
    if not any(c in word for c in ' \t\n"\'\\><~|&;$*?#()`'):
        return word
    escaped = "".join("\\" + c if c in '"`$\\' else c for c in word)
    return f'"{escaped}"'


def desktop_entry(command: str) -> str:
    """The .desktop file for ``command`` (a path, or 'python -m app')."""
    words = command.split(" -m ")
    exec_line = (" ".join([_exec_quote(words[0]), "-m", words[1]]) if len(words) == 2
                 else _exec_quote(command))
    text = DESKTOP_TEMPLATE.read_text(encoding="utf-8")
    return text.replace("@EXEC@", exec_line).replace("@TRYEXEC@", _exec_quote(words[0]))


def _write_bytes(data: bytes, handle: BinaryIO) -> None:
    handle.write(data)


def install_desktop(command: str, home: Path | None = None) -> tuple[Path, Path]:
    """Write the desktop entry and the icon under ``home``; their paths."""
    home = home or data_home()
    apps = home / "applications"
    icons = home / "icons" / "hicolor" / "scalable" / "apps"
    apps.mkdir(parents=True, exist_ok=True)
    icons.mkdir(parents=True, exist_ok=True)
    entry, icon = apps / "autoflats.desktop", icons / "autoflats.svg"
    for path, data in ((entry, desktop_entry(command).encode()), (icon, ICON.read_bytes())):
        write_replace(path, functools.partial(_write_bytes, data))
    return entry, icon


def run_install_desktop(args: argparse.Namespace) -> int:
    """Install the entry; say where, and what to do on other systems."""
    if not sys.platform.startswith("linux"):
        print("autoflats: error: install-desktop writes a Linux (freedesktop) menu entry; "
              "on Windows and macOS start 'autoflats' from a terminal for now",
              file=sys.stderr, flush=True)
        return 1
    entry, icon = install_desktop(args.exec_path or autoflats_command())
    print(f"menu entry: {entry}\nicon: {icon}\n'autoflats' is now in the application menu "
          "(log out and in if it does not show yet)")
    return 0

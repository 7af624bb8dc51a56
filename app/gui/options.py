"""What ``autoflats gui`` can preset, and where the window keeps its settings.

:class:`GuiOptions` gathers the presets from keyword arguments, the parsed command
line or FlatSettings; :func:`default_qsettings` names the QSettings file the form is
remembered in (the user's, or the INI file named by ``$AUTOFLATS_GUI_SETTINGS``).
"""

from __future__ import annotations

import argparse
import math
import os
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from PyQt6.QtCore import QSettings

from app.adu import Target
from app.settings import FlatSettings

#: QSettings file to use instead of the user's (tests, automated checks)
SETTINGS_ENV = "AUTOFLATS_GUI_SETTINGS"
ORGANIZATION = "autoflats"
APPLICATION = "autoflats"


@dataclass(frozen=True, slots=True)
class GuiOptions:
    """What ``autoflats gui`` can preset; None keeps the saved (or default) value."""

    camera: str | None = None
    sim_config: Path | None = None
    out: Path | None = None
    count: int | None = None
    gain: int | None = None
    offset: int | None = None
    target: str | None = None

    @classmethod
    def from_object(cls, source: Any) -> GuiOptions:
        """From GuiOptions, argparse.Namespace, FlatSettings, a mapping or any object."""
        if source is None:
            return cls()
        if isinstance(source, GuiOptions):
            return source
        if isinstance(source, FlatSettings):
            return cls(out=source.out_dir, count=source.count, gain=source.gain,
                       offset=source.offset, target=target_text(source.target))
        data = dict(source) if isinstance(source, dict) else vars(source) if hasattr(
            source, "__dict__") else {f.name: getattr(source, f.name, None) for f in fields(cls)}
        if "out" not in data and "out_dir" in data:
            data["out"] = data["out_dir"]
        return cls(**{f.name: data.get(f.name) for f in fields(cls)}).normalised()

    @classmethod
    def merged(cls, options: Any = None, settings: Any = None, **kwargs: Any) -> GuiOptions:
        """``options`` (or else ``settings``) as GuiOptions, overridden by keyword options.

        Keyword options are the GuiOptions fields (``out_dir`` for ``out``); None
        keeps the value from the object. Raises TypeError naming unknown keywords.
        """
        base = cls.from_object(options if options is not None else settings)
        if kwargs:
            unknown = set(kwargs) - {f.name for f in fields(cls)} - {"out_dir"}
            if unknown:
                raise TypeError(f"unknown option(s): {', '.join(sorted(unknown))}")
            merged = {f.name: getattr(base, f.name) for f in fields(cls)}
            if "out_dir" in kwargs:
                kwargs["out"] = kwargs.pop("out_dir")
            merged.update({k: v for k, v in kwargs.items() if v is not None})
            base = cls(**merged).normalised()
        return base

    def normalised(self) -> GuiOptions:
        """Paths as Path, target as text."""
        target = self.target
        if isinstance(target, Target):
            target = target_text(target)
        return GuiOptions(
            camera=self.camera,
            sim_config=Path(self.sim_config) if self.sim_config else None,
            out=Path(self.out) if self.out else None,
            count=self.count, gain=self.gain, offset=self.offset,
            target=str(target) if target is not None else None,
        )


def target_text(target: Target) -> str:
    """A target as the form shows it: ``50%`` or ``30000``."""
    return f"{target.value:g}%" if target.is_percent else f"{target.value:g}"


def options_from_args(args: argparse.Namespace) -> GuiOptions:
    """The ``autoflats gui`` arguments as GuiOptions."""
    return GuiOptions.from_object(args)


def default_qsettings() -> QSettings:
    """The user's settings, or the INI file named by $AUTOFLATS_GUI_SETTINGS."""
    path = os.environ.get(SETTINGS_ENV)
    if path:
        return QSettings(path, QSettings.Format.IniFormat)
    return QSettings(QSettings.Format.IniFormat, QSettings.Scope.UserScope, ORGANIZATION,
                     APPLICATION)


def default_out_dir() -> Path:
    """Where flats go unless the user chose a folder."""
    return Path.home() / "autoflats"


def setting_int(value: object, default: int) -> int:
    """A stored integer, or ``default`` when it is missing or not a number."""
    try:
        return int(str(value)) if value not in (None, "") else default
    except ValueError:
        return default


def setting_float(value: object, default: float) -> float:
    """A stored finite number, or ``default`` when it is missing or not one."""
    try:
        number = float(str(value)) if value not in (None, "") else default
    except ValueError:
        return default
    return number if math.isfinite(number) else default


"""Shutter speeds and ISO values as cameras list them (gphoto2's 'shutterspeed' and 'iso').

A DSLR exposes on a fixed list of speeds, usually in 1/3-stop steps (26 % apart). The
nominal values ('1/125', '0.3', '30') are what the camera reports and what goes into
headers. Bulb is never a choice for flats.
"""

from __future__ import annotations

import math
import re

#: the 1/3-stop nominal speeds from 1/4000 s to 30 s, as cameras print them
THIRD_STOP_SPEEDS: tuple[str, ...] = (
    "1/4000", "1/3200", "1/2500", "1/2000", "1/1600", "1/1250", "1/1000", "1/800", "1/640",
    "1/500", "1/400", "1/320", "1/250", "1/200", "1/160", "1/125", "1/100", "1/80", "1/60",
    "1/50", "1/40", "1/30", "1/25", "1/20", "1/15", "1/13", "1/10", "1/8", "1/6", "1/5",
    "1/4", "0.3", "0.4", "0.5", "0.6", "0.8", "1", "1.3", "1.6", "2", "2.5", "3.2", "4", "5",
    "6", "8", "10", "13", "15", "20", "25", "30",
)
#: 1/3-stop ISO values from 100 to 25600
THIRD_STOP_ISOS: tuple[int, ...] = (
    100, 125, 160, 200, 250, 320, 400, 500, 640, 800, 1000, 1250, 1600, 2000, 2500, 3200,
    4000, 5000, 6400, 8000, 10000, 12800, 16000, 20000, 25600,
)

_FRACTION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*/\s*(\d+(?:\.\d+)?)\s*s?\s*$")
_DECIMAL = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(?:s|\"|'')?\s*$")


def parse_speed(text: str) -> float | None:
    """Seconds for a speed as cameras write it ('1/125', '0.3', '30', '2.5s', '30"');
    None for bulb, time or anything else that is not a fixed speed."""
    match = _FRACTION.match(text)
    if match:
        numerator, denominator = float(match.group(1)), float(match.group(2))
        return numerator / denominator if numerator > 0 and denominator > 0 else None
    match = _DECIMAL.match(text)
    if match:
        value = float(match.group(1))
        return value if value > 0 else None
    return None


def speed_table(choices: list[str] | tuple[str, ...]) -> dict[float, str]:
    """{seconds: the camera's text} for every fixed speed in ``choices`` (bulb dropped)."""
    table: dict[float, str] = {}
    for text in choices:
        seconds = parse_speed(text)
        if seconds is not None and math.isfinite(seconds):
            table.setdefault(seconds, text)
    return dict(sorted(table.items()))


def parse_iso(text: str) -> int | None:
    """The ISO number of a choice ('400'), None for 'Auto' and the like."""
    text = text.strip()
    return int(text) if text.isdigit() and int(text) > 0 else None


def speed_text(seconds: float) -> str:
    """A speed as photographers write it: '1/125 s' below 0.3 s, '2.5 s' above."""
    if seconds < 0.3 - 1e-9:
        return f"1/{round(1 / seconds):d} s"
    return f"{seconds:g} s"

"""A dark theme for night use and a red night-vision mode (no blue or green light).

Night mode dims what glows most: the live frame (a flat is a bright, even field) and
the plots are drawn at :data:`NIGHT_BRIGHTNESS` of full red by default, adjustable
in the View menu (:func:`dimmed`). Text that sits on coloured backgrounds (the
progress bar) is chosen for a WCAG contrast ratio of at least 4.5:1
(:func:`contrast_ratio`), in both themes.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

from PyQt6.QtGui import QColor, QPalette
from PyQt6.QtWidgets import QApplication


@dataclass(frozen=True, slots=True)
class Theme:
    """Colours for widgets and plots."""

    name: str
    window: str
    base: str
    text: str
    dim: str
    accent: str
    button: str
    error_bg: str
    error_fg: str
    plot_bg: str
    plot_fg: str
    channel: dict[str, str]
    target: str
    band: tuple[int, int, int, int]
    clip: str
    fit: str
    points: str
    #: the progress bar's text, drawn over both its chunk and its empty part
    progress_text: str = "#ffffff"
    progress_chunk: str = "#2a5cb0"
    #: the tick inside a checkbox (an SVG in app/resources/icons)
    check_icon: str = "check-dark.svg"
    #: brightest value (0-255) the live frame is drawn with
    frame_peak: int = 255
    #: share of full brightness the frame and the plots are drawn at (night mode)
    brightness: float = 1.0


DARK = Theme(
    name="dark",
    window="#1b1d22", base="#121317", text="#d8dadf", dim="#8a8f99", accent="#3d7be0",
    button="#2a2d35", error_bg="#6b1f1f", error_fg="#ffd8d8",
    plot_bg="#121317", plot_fg="#aab0bb",
    channel={"L": "#e6e6e6", "R": "#ff5c5c", "G": "#5cd65c", "B": "#5c8cff"},
    target="#f0c040", band=(240, 192, 64, 40), clip="#ff4040", fit="#4fb3ff",
    points="#f0f0f0",
)

NIGHT = Theme(
    name="night",
    window="#0c0000", base="#050000", text="#c03030", dim="#7a1c1c", accent="#8a1010",
    button="#1e0505", error_bg="#3a0000", error_fg="#ff6060",
    plot_bg="#050000", plot_fg="#a02020",
    channel={"L": "#d03030", "R": "#ff4040", "G": "#b02020", "B": "#701010"},
    target="#ff5050", band=(200, 40, 40, 45), clip="#ff2020", fit="#902020",
    points="#e04040", progress_text="#ff6060", progress_chunk="#3a0000",
    check_icon="check-night.svg", frame_peak=220,
)

#: the night theme's default brightness of the live frame and the plots (View menu)
NIGHT_BRIGHTNESS = 0.25
#: axes and their labels stay at least this bright, to stay readable
AXIS_BRIGHTNESS_FLOOR = 0.6
#: brightness levels offered in the View menu
NIGHT_LEVELS = (0.05, 0.1, 0.25, 0.5, 1.0)
#: where the checkbox ticks are (package data, installed with the wheel)
ICONS = Path(__file__).resolve().parents[1] / "resources" / "icons"


def dimmed(theme: Theme, brightness: float) -> Theme:
    """``theme`` with the frame and the plot colours at ``brightness`` (0.02-1) of full."""
    b = min(1.0, max(0.02, brightness))

    def dim(colour: str) -> str:
        c = QColor(colour)
        return QColor(round(c.red() * b), round(c.green() * b), round(c.blue() * b)).name()

    r, g, bl, a = theme.band
    return replace(
        theme, brightness=b, plot_fg=QColor(theme.plot_fg).darker(
            round(100 / max(b, AXIS_BRIGHTNESS_FLOOR))).name(),
        channel={k: dim(v) for k, v in theme.channel.items()},
        target=dim(theme.target), band=(round(r * b), round(g * b), round(bl * b), a),
        clip=dim(theme.clip), fit=dim(theme.fit), points=dim(theme.points))


def relative_luminance(colour: str) -> float:
    """WCAG 2 relative luminance of ``colour`` (0 black .. 1 white)."""
    c = QColor(colour)

    def linear(v: int) -> float:
        x = v / 255
        return x / 12.92 if x <= 0.04045 else ((x + 0.055) / 1.055) ** 2.4

    return 0.2126 * linear(c.red()) + 0.7152 * linear(c.green()) + 0.0722 * linear(c.blue())


def contrast_ratio(a: str, b: str) -> float:
    """WCAG 2 contrast ratio of two colours, 1 to 21 (4.5 is the minimum for text)."""
    la, lb = sorted((relative_luminance(a), relative_luminance(b)), reverse=True)
    return (la + 0.05) / (lb + 0.05)


def theme_for(night: bool) -> Theme:
    """The night (red) theme or the dark one."""
    return NIGHT if night else DARK


def apply_theme(app: QApplication, theme: Theme) -> None:
    """Palette and style sheet for the whole application (set the Fusion style once, first)."""
    palette = QPalette()
    roles = {
        QPalette.ColorRole.Window: theme.window,
        QPalette.ColorRole.WindowText: theme.text,
        QPalette.ColorRole.Base: theme.base,
        QPalette.ColorRole.AlternateBase: theme.window,
        QPalette.ColorRole.Text: theme.text,
        QPalette.ColorRole.Button: theme.button,
        QPalette.ColorRole.ButtonText: theme.text,
        QPalette.ColorRole.ToolTipBase: theme.base,
        QPalette.ColorRole.ToolTipText: theme.text,
        QPalette.ColorRole.Highlight: theme.progress_chunk,
        QPalette.ColorRole.HighlightedText: theme.progress_text,
        QPalette.ColorRole.PlaceholderText: theme.dim,
        QPalette.ColorRole.Link: theme.accent,
    }
    for role, colour in roles.items():
        palette.setColor(role, QColor(colour))
    for role in (QPalette.ColorRole.WindowText, QPalette.ColorRole.Text,
                 QPalette.ColorRole.ButtonText):
        palette.setColor(QPalette.ColorGroup.Disabled, role, QColor(theme.dim))
    app.setPalette(palette)
    app.setStyleSheet(style_sheet(theme))


def style_sheet(theme: Theme) -> str:
    """Widget styling on top of the palette."""
    bright = "#ffffff" if theme.name == "dark" else "#ff9090"
    return f"""
QToolTip {{ color: {theme.text}; background: {theme.base}; border: 1px solid {theme.dim}; }}
QGroupBox {{ border: 1px solid {theme.button}; border-radius: 4px; margin-top: 1.2em;
            padding-top: 4px; }}
QGroupBox::title {{ subcontrol-origin: margin; left: 8px; color: {theme.dim}; }}
QPushButton#autoFlatsButton {{ background: {theme.accent}; color: {bright}; font-size: 18px;
            font-weight: bold; padding: 10px 18px; border-radius: 5px; }}
QPushButton#autoFlatsButton:disabled {{ background: {theme.button}; color: {theme.dim}; }}
QPushButton#cancelButton {{ font-size: 14px; padding: 8px 14px; }}
QLabel#errorBanner {{ background: {theme.error_bg}; color: {theme.error_fg}; padding: 8px;
            border-radius: 4px; font-weight: bold; }}
QLabel#statusLabel {{ font-size: 15px; font-weight: bold; }}
QLabel#summaryLabel {{ border: 1px solid {theme.dim}; border-radius: 4px; padding: 6px; }}
QPlainTextEdit#logView {{ font-family: monospace; font-size: 11px; }}
QProgressBar {{ border: 1px solid {theme.button}; border-radius: 3px; text-align: center;
            background: {theme.base}; color: {theme.progress_text}; }}
QProgressBar::chunk {{ background: {theme.progress_chunk}; }}
QCheckBox::indicator, QGroupBox::indicator {{ width: 13px; height: 13px;
            border: 1px solid {theme.dim}; border-radius: 2px; background: {theme.base}; }}
QCheckBox::indicator:checked, QGroupBox::indicator:checked {{
            image: url({(ICONS / theme.check_icon).as_posix()}); }}
QCheckBox::indicator:disabled {{ border-color: {theme.button}; }}
"""

"""A dark theme for night use and a red night-vision mode (no blue or green light)."""

from __future__ import annotations

from dataclasses import dataclass

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
    points="#e04040",
)


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
        QPalette.ColorRole.Highlight: theme.accent,
        QPalette.ColorRole.HighlightedText: "#ffffff" if theme is DARK else "#ff8080",
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
            background: {theme.base}; }}
QProgressBar::chunk {{ background: {theme.accent}; }}
"""

"""The screen panel's window: one uniform colour over a whole screen.

:class:`ScreenBridge` carries :class:`~drivers.screen_panel.ScreenState` from the
job's worker thread to the GUI thread (a queued Qt signal); :class:`ScreenWindow`
paints it. Esc in the window asks to cancel the run (the window covers the screen).
"""

from __future__ import annotations

from PyQt6.QtCore import QObject, Qt, pyqtSignal
from PyQt6.QtGui import QColor, QGuiApplication, QKeyEvent, QPainter, QPaintEvent, QScreen
from PyQt6.QtWidgets import QWidget

from drivers.screen_panel import ScreenPanel, ScreenState


class ScreenBridge(QObject):
    """Hands the panel's state to the GUI thread; ``publish`` is safe from any thread."""

    changed = pyqtSignal(object)

    def publish(self, state: ScreenState) -> None:
        """Called by the panel (any thread); the window is painted on the GUI thread."""
        self.changed.emit(state)


class ScreenWindow(QWidget):
    """A frameless full-screen window painted with the panel's colour."""

    escapePressed = pyqtSignal()

    def __init__(self) -> None:
        super().__init__(None, Qt.WindowType.FramelessWindowHint
                         | Qt.WindowType.WindowStaysOnTopHint)
        self.setObjectName("screenPanelWindow")
        self.setWindowTitle("autoflats: screen panel (Esc cancels the run)")
        self.setCursor(Qt.CursorShape.BlankCursor)
        self.state = ScreenState(False, False, 0, (1.0, 1.0, 1.0))
        self.target_screen: QScreen | None = None

    def color(self) -> QColor:
        """The colour painted now."""
        return QColor(*self.state.rgb)

    def apply_state(self, state: object) -> None:
        """Show, repaint or hide for the panel's new state."""
        if not isinstance(state, ScreenState):
            return
        self.state = state
        if state.shown and not self.isVisible():
            self._show_on_screen()
        elif not state.shown and self.isVisible():
            self.hide()
        self.update()

    def _show_on_screen(self) -> None:
        screen = self.target_screen or QGuiApplication.primaryScreen()
        if screen is not None:
            self.setScreen(screen)
            self.setGeometry(screen.geometry())
        self.showFullScreen()

    def paintEvent(self, event: QPaintEvent | None) -> None:
        """Fill everything with the one colour."""
        painter = QPainter(self)
        painter.fillRect(self.rect(), self.color())
        painter.end()

    def keyPressEvent(self, event: QKeyEvent | None) -> None:
        """Esc: ask the window to cancel the run."""
        if event is not None and event.key() == Qt.Key.Key_Escape:
            self.escapePressed.emit()
            return
        super().keyPressEvent(event)


def screen_panel_with_window(screen: QScreen | None = None
                             ) -> tuple[ScreenPanel, ScreenWindow, ScreenBridge]:
    """A screen panel wired to a new window on ``screen`` (the primary one by default)."""
    window = ScreenWindow()
    window.target_screen = screen
    bridge = ScreenBridge(window)
    bridge.changed.connect(window.apply_state)
    name = screen.name() if screen is not None else "primary"
    return ScreenPanel(bridge.publish, screen_name=name or "screen"), window, bridge

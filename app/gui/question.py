"""A question the job asks by hand ("cover the scope"), answered in the window.

The job calls :meth:`QuestionBridge.ask` on its worker thread; the bridge sends the
message to the GUI thread (a queued signal), where the window shows a modal box, and
waits for :meth:`answer`. Cancel in the box (or the run's Cancel) sets the run's
cancel event, which ends the wait and the run.
"""

from __future__ import annotations

import threading

from PyQt6.QtCore import QObject, pyqtSignal

#: how often the waiting worker looks at the cancel event, s
POLL_S = 0.05


class QuestionBridge(QObject):
    """Carries one question at a time from the worker to the GUI thread and back."""

    asked = pyqtSignal(str)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._answered = threading.Event()
        self._cancel: threading.Event | None = None

    def ask(self, message: str, cancel: threading.Event) -> None:
        """Worker thread: show ``message`` and wait for OK (returns) or cancel (returns)."""
        self._answered.clear()
        self._cancel = cancel
        self.asked.emit(message)
        while not self._answered.wait(POLL_S):
            if cancel.is_set():
                return  # the engine sees the cancel and ends the run

    def answer(self, go_on: bool) -> None:
        """GUI thread: the user's answer; False cancels the run."""
        if not go_on and self._cancel is not None:
            self._cancel.set()
        self._answered.set()

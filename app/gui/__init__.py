"""The desktop app: a thin PyQt6 + pyqtgraph window over the flat session.

The GUI holds no exposure or capture logic: :mod:`app.gui.worker` runs the session
(``app.session.FlatSession``) on a worker thread and the window renders its events.
"""

"""The "Run" group: Auto flats and Cancel, the status line, progress, time and summary."""

from __future__ import annotations

import html
import shlex
from collections.abc import Sequence
from pathlib import Path

from PyQt6.QtCore import Qt
from PyQt6.QtWidgets import (
    QDoubleSpinBox,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QSizePolicy,
    QVBoxLayout,
)

from app.adu import round_adu
from app.events import ExposureSolved, FinishReason, FlatSaved, SessionFinished


class RunPanel(QGroupBox):
    """The run's buttons and read-outs; the window connects the buttons and writes the text."""

    def __init__(self) -> None:
        super().__init__("Run")
        layout = QVBoxLayout(self)
        self.autoFlatsButton = QPushButton("Auto flats")
        self.autoFlatsButton.setObjectName("autoFlatsButton")
        self.autoFlatsButton.setToolTip("Find the exposure, then capture the flats.")
        self.autoFlatsButton.setMinimumHeight(52)
        self.autoFlatsButton.setSizePolicy(QSizePolicy.Policy.Expanding,
                                           QSizePolicy.Policy.Fixed)
        self.cancelButton = QPushButton("Cancel")
        self.cancelButton.setObjectName("cancelButton")
        self.cancelButton.setToolTip("Stop now: aborts the exposure; flats already written "
                                     "are kept.")
        self.cancelButton.setMinimumHeight(52)
        row = QHBoxLayout()
        row.addWidget(self.autoFlatsButton, 3)
        row.addWidget(self.cancelButton, 1)
        layout.addLayout(row)
        self.liveButton = QPushButton("Live")
        self.liveButton.setObjectName("liveButton")
        self.liveButton.setCheckable(True)
        self.liveButton.setToolTip(
            "Expose again and again without saving: frame, histogram and mean of every\n"
            "frame, to set up the panel. Untick (or start Auto flats) to stop.")
        self.liveExposureSpin = QDoubleSpinBox()
        self.liveExposureSpin.setObjectName("liveExposureSpin")
        self.liveExposureSpin.setRange(0.0, 3600.0)
        self.liveExposureSpin.setDecimals(3)
        self.liveExposureSpin.setSuffix(" s")
        self.liveExposureSpin.setSpecialValueText("auto (toward the target)")
        self.liveExposureSpin.setToolTip("The live view's exposure; 'auto' steers it toward "
                                         "the target, as the flat search does.")
        row = QHBoxLayout()
        row.addWidget(self.liveButton, 1)
        row.addWidget(QLabel("at"))
        row.addWidget(self.liveExposureSpin, 2)
        layout.addLayout(row)
        self.liveLabel = QLabel("")
        self.liveLabel.setObjectName("liveLabel")
        self.liveLabel.setWordWrap(True)
        self.liveLabel.hide()
        layout.addWidget(self.liveLabel)
        self.statusLabel = QLabel("Ready")
        self.statusLabel.setObjectName("statusLabel")
        self.statusLabel.setWordWrap(True)
        layout.addWidget(self.statusLabel)
        self.progressBar = QProgressBar()
        self.progressBar.setObjectName("progressBar")
        self.progressBar.setFormat("no run yet")
        self.progressBar.setRange(0, 1)
        self.progressBar.setValue(0)
        layout.addWidget(self.progressBar)
        self.timeLabel = QLabel("")
        self.timeLabel.setObjectName("timeLabel")
        layout.addWidget(self.timeLabel)
        self.summaryLabel = QLabel()
        self.summaryLabel.setObjectName("summaryLabel")
        self.summaryLabel.setWordWrap(True)
        self.summaryLabel.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.summaryLabel.hide()
        layout.addWidget(self.summaryLabel)
        self.openFolderButton = QPushButton("Open folder")
        self.openFolderButton.setObjectName("openFolderButton")
        self.openFolderButton.hide()
        layout.addWidget(self.openFolderButton)

    def set_running(self, running: bool) -> None:
        """Auto flats and Live while idle, Cancel while running."""
        self.autoFlatsButton.setEnabled(not running)
        self.cancelButton.setEnabled(running)
        self.liveButton.setEnabled(not running)
        self.liveExposureSpin.setEnabled(not running)

    def reset(self, count: int) -> None:
        """Clear the read-outs for a new run of ``count`` flats."""
        self.summaryLabel.hide()
        self.openFolderButton.hide()
        self.progressBar.setRange(0, count)
        self.progressBar.setValue(0)
        self.progressBar.setFormat("%v of %m flats")
        self.statusLabel.setText("Starting…")
        self.timeLabel.setText("")


def cancelled_text(finished: SessionFinished, out_dir: Path | None) -> str:
    """What a cancel leaves, and how to go on: '3 flats kept; continue with: …'."""
    text = finished.kept_text()
    if out_dir is not None:
        text += f"; continue with: autoflats flats --resume {shlex.quote(str(out_dir))}"
    return text


def summary_html(item: SessionFinished, saved: Sequence[FlatSaved],
                 solved: ExposureSolved | None, out_dir: Path | None) -> str:
    """The finished run in a few lines (rich text): outcome, exposure, mean, folder, record."""
    lines = [f"<b>{item.reason.value.capitalize()}</b>: {item.files_text()} written"]
    saved = [s for s in saved if s.image_type != "DARK"]  # the flats' level, not the darks'
    if item.reason is FinishReason.CANCELLED:
        lines.append(html.escape(cancelled_text(item, out_dir)))
    if item.exposure_s is not None:
        lines.append(f"Exposure: {item.exposure_s:.6g} s")
    if saved:
        native = sum(s.mean_native for s in saved) / len(saved)
        adu16 = sum(s.mean_16bit for s in saved) / len(saved)
        lines.append(f"Mean: {round_adu(native)} ADU native = {round_adu(adu16)} ADU 16-bit")
    elif solved is not None:
        lines.append(f"Mean: {round_adu(solved.mean_native)} ADU native = "
                     f"{round_adu(solved.mean_16bit)} ADU 16-bit")
    if out_dir is not None:
        lines.append(f"Folder: {out_dir}")
    if item.session_file is not None:
        lines.append(f"Record: {item.session_file.name}")
    return "<br>".join(lines)

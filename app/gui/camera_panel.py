"""The "Camera" group: the camera picker, Refresh, and what the chosen camera is."""

from __future__ import annotations

from collections.abc import Sequence

from PyQt6.QtCore import Qt
from PyQt6.QtWidgets import QComboBox, QFormLayout, QGroupBox, QHBoxLayout, QLabel, QPushButton

from app.adu import AduScale
from app.gui.worker import CameraFacts
from drivers.base import CameraEntry

ADU_TIP = (
    "ADU (analog-to-digital unit) is the number a pixel reads.\n"
    "A 14-bit sensor reads 0..16383 natively; ZWO cameras deliver it scaled to 16 bits\n"
    "(x4), so most programs show 0..65535. '16-bit' and 'native' are the same light.\n"
    "Full scale is 2^bits - 1 (65535 in 16-bit)."
)


class CameraPanel(QGroupBox):
    """The picker (``cameraCombo``), ``refreshButton`` and the facts label.

    The window connects ``cameraCombo.currentIndexChanged`` and
    ``refreshButton.clicked``; this panel only fills and reads the widgets.
    """

    def __init__(self) -> None:
        super().__init__("Camera")
        form = QFormLayout(self)
        self.cameraCombo = QComboBox()
        self.cameraCombo.setObjectName("cameraCombo")
        self.cameraCombo.setToolTip("Connected ZWO cameras and the built-in simulator.")
        self.refreshButton = QPushButton("Refresh")
        self.refreshButton.setObjectName("refreshButton")
        self.refreshButton.setToolTip("Look for cameras again and re-read the chosen one.")
        row = QHBoxLayout()
        row.addWidget(self.cameraCombo, 1)
        row.addWidget(self.refreshButton)
        form.addRow(row)
        self.cameraFacts = QLabel("—")
        self.cameraFacts.setObjectName("cameraFactsLabel")
        self.cameraFacts.setWordWrap(True)
        self.cameraFacts.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.cameraFacts.setToolTip(ADU_TIP)
        form.addRow(self.cameraFacts)
        self.entries: list[CameraEntry] = []

    def set_cameras(self, entries: Sequence[CameraEntry], wanted: str | None) -> bool:
        """List ``entries`` (without signals) and pick ``wanted``; False if it is not there.

        Without ``wanted`` (or when it is missing) the first real camera is chosen,
        else the simulator.
        """
        self.entries = list(entries)
        combo = self.cameraCombo
        combo.blockSignals(True)
        combo.clear()
        for entry in self.entries:
            label = entry.name if entry.driver == "sim" else f"{entry.name} ({entry.camera_id})"
            combo.addItem(label, entry.camera_id)
            combo.setItemData(combo.count() - 1, entry.summary, Qt.ItemDataRole.ToolTipRole)
        index = combo.findData(wanted) if wanted else -1
        if index < 0 and wanted:
            index = combo.findText(str(wanted))
        found = index >= 0
        if not found:
            real = [i for i, e in enumerate(self.entries) if e.driver != "sim"]
            index = real[0] if real else 0
        combo.setCurrentIndex(index)
        combo.blockSignals(False)
        return found

    def current_camera_id(self) -> str | None:
        """The id of the camera chosen in the picker."""
        data = self.cameraCombo.currentData()
        return str(data) if data is not None else None

    def show_text(self, text: str) -> None:
        """A message in place of the facts ("Reading the camera…")."""
        self.cameraFacts.setText(text)

    def show_facts(self, facts: CameraFacts) -> None:
        """The chosen camera's facts."""
        self.cameraFacts.setText(describe_camera(facts))

    def set_editable(self, editable: bool) -> None:
        """Lock the picker while a session runs."""
        for widget in (self.cameraCombo, self.refreshButton):
            widget.setEnabled(editable)


def describe_camera(facts: CameraFacts) -> str:
    """The camera's facts, one per line."""
    info = facts.info
    scale = AduScale(info.bit_depth)
    colour = f"colour, Bayer {info.bayer_pattern}" if info.bayer_pattern else "mono"
    lines = [
        f"{info.model}",
        f"{info.width} × {info.height} ({info.megapixels:.1f} MP), "
        f"{info.pixel_size_um:g} µm pixels, {colour}",
        f"{info.bit_depth}-bit native (0..{scale.full_scale_native}); delivered as 16-bit "
        f"(×{scale.factor})",
    ]
    at_gain = info.e_per_adu_at(facts.gain)
    if info.e_per_adu and at_gain is not None:
        lines.append(f"{info.e_per_adu:.2f} e⁻/ADU native at gain 0, {at_gain:.2f} at gain "
                     f"{facts.gain}")
    temp = f"{facts.temperature_c:.1f} °C" if facts.temperature_c is not None else "n/a"
    if info.has_cooler:
        cooler = (f"cooler on, set {facts.set_point_c:g} °C" if facts.cooler_on
                  and facts.set_point_c is not None else "cooler on" if facts.cooler_on
                  else "cooler off")
    else:
        cooler = "no cooler"
    lines.append(f"Sensor {temp}, {cooler}")
    return "\n".join(lines)

"""The "Panel, wheel and filters" group: what the whole job drives besides the camera.

A panel picker (none, sim, the panels found on USB serial ports, alnitak/pegasus
auto-detect, or this computer's screen) with a free-text port, a wheel picker, the
brightness (leave / auto / a level), the dark-flats count, the screen controls
(which screen, tint) and the filter table. The window fills the lists (listing runs
on a worker thread) and reads :meth:`JobPanel.job_settings`.
"""

from __future__ import annotations

from collections.abc import Sequence

from PyQt6.QtCore import QSettings
from PyQt6.QtGui import QGuiApplication
from PyQt6.QtWidgets import (
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QSpinBox,
    QWidget,
)

from app.gui.filter_table import FilterTable
from app.gui.job_worker import RigListing
from app.gui.options import setting_float, setting_int
from app.job import JobSettings
from app.settings import FlatSettings, SettingsError
from drivers.screen_panel import SCREEN_SPEC

#: panel families whose port may be typed (or auto-detected when left empty)
PORT_FAMILIES = ("alnitak", "pegasus", "snapcap")
BRIGHTNESS_LEAVE, BRIGHTNESS_AUTO, BRIGHTNESS_LEVEL = "leave", "auto", "level"


class JobPanel(QGroupBox):
    """Panel, wheel, brightness, dark flats, screen and the filter table."""

    def __init__(self) -> None:
        super().__init__("Panel, wheel and filters")
        form = QFormLayout(self)
        self.panelCombo = QComboBox()
        self.panelCombo.setObjectName("panelCombo")
        self.panelCombo.setToolTip(
            "The light panel the job switches and dims. 'This computer's screen' shows a\n"
            "uniform grey full-screen on the screen chosen below (an iPad-style panel).")
        self.panelPortEdit = QLineEdit()
        self.panelPortEdit.setObjectName("panelPortEdit")
        self.panelPortEdit.setPlaceholderText("port, e.g. /dev/ttyUSB0 or COM3 (empty = find)")
        row = QHBoxLayout()
        row.addWidget(self.panelCombo, 1)
        row.addWidget(self.panelPortEdit, 1)
        form.addRow("Light panel", row)
        self.panelStateLabel = QLabel("—")
        self.panelStateLabel.setObjectName("panelStateLabel")
        self.panelStateLabel.setWordWrap(True)
        self.panelStateLabel.setToolTip("The panel's light and cover as the job last read them.")
        form.addRow("", self.panelStateLabel)

        self.screenCombo = QComboBox()
        self.screenCombo.setObjectName("screenCombo")
        self.screenCombo.setToolTip("The screen that becomes the light panel (full-screen; "
                                    "Esc there cancels the run).")
        self.tintSpins: list[QDoubleSpinBox] = []
        tint_row = QHBoxLayout()
        for channel in "rgb":
            spin = QDoubleSpinBox()
            spin.setObjectName(f"tint{channel.upper()}Spin")
            spin.setRange(0.0, 1.0)
            spin.setDecimals(2)
            spin.setSingleStep(0.05)
            spin.setValue(1.0)
            spin.setPrefix(f"{channel.upper()} ")
            spin.setToolTip("Tint: multiplier of the white level for this colour. OSC\n"
                            "sensors see green first under white: lower G (or raise R, B)\n"
                            "until the channels land together.")
            self.tintSpins.append(spin)
            tint_row.addWidget(spin)
        self.screenRow = QWidget()
        screen_form = QFormLayout(self.screenRow)
        screen_form.setContentsMargins(0, 0, 0, 0)
        screen_form.addRow("Screen", self.screenCombo)
        screen_form.addRow("Tint", tint_row)
        form.addRow(self.screenRow)

        self.wheelCombo = QComboBox()
        self.wheelCombo.setObjectName("wheelCombo")
        self.wheelCombo.setToolTip("The filter wheel; its filters fill the table below.")
        form.addRow("Filter wheel", self.wheelCombo)

        self.brightnessCombo = QComboBox()
        self.brightnessCombo.setObjectName("brightnessCombo")
        self.brightnessCombo.addItem("leave as it is", BRIGHTNESS_LEAVE)
        self.brightnessCombo.addItem("auto (exposures 1-10 s)", BRIGHTNESS_AUTO)
        self.brightnessCombo.addItem("level", BRIGHTNESS_LEVEL)
        self.brightnessCombo.setToolTip(
            "auto: per filter, dim or brighten the panel so flats take 1-10 s (long enough\n"
            "to beat PWM flicker); level: one brightness for every filter.")
        self.brightnessSpin = QSpinBox()
        self.brightnessSpin.setObjectName("brightnessSpin")
        self.brightnessSpin.setRange(0, 65535)
        self.brightnessSpin.setValue(128)
        row = QHBoxLayout()
        row.addWidget(self.brightnessCombo, 1)
        row.addWidget(self.brightnessSpin)
        form.addRow("Brightness", row)

        self.darkFlatsSpin = QSpinBox()
        self.darkFlatsSpin.setObjectName("darkFlatsSpin")
        self.darkFlatsSpin.setRange(0, 1000)
        self.darkFlatsSpin.setSpecialValueText("none")
        self.darkFlatsSpin.setToolTip("Dark flats per flat exposure, taken after every filter "
                                      "with the light off (0 = none).")
        form.addRow("Dark flats", self.darkFlatsSpin)

        self.filterTable = FilterTable()
        form.addRow(self.filterTable)
        self.darkFlatsLabel = QLabel("")
        self.darkFlatsLabel.setObjectName("darkFlatsLabel")
        form.addRow("", self.darkFlatsLabel)

        #: filters ticked last time, ticked again once the wheel's names are known
        self.wanted_filters: list[str] = []
        self.set_panels(())
        self.set_wheels(())
        self.refresh_screens()
        self.panelCombo.currentIndexChanged.connect(self._update_visibility)
        self.panelCombo.currentIndexChanged.connect(lambda *_: self.panelStateLabel.setText("—"))
        self.brightnessCombo.currentIndexChanged.connect(self._update_visibility)
        self._update_visibility()

    # -- lists ---------------------------------------------------------------------
    def set_panels(self, found: Sequence[tuple[str, str]]) -> None:
        """None, the simulator, ``found`` ports, auto-detection and the screen."""
        wanted = self.panelCombo.currentData()
        entries = [("none", None), ("simulated panel (sim)", "sim")]
        entries += [(f"{label} ({spec})", spec) for spec, label in found]
        entries += [("Alnitak (find its port, or type it)", "alnitak"),
                    ("Pegasus FlatMaster (find its port, or type it)", "pegasus"),
                    ("Gemini SnapCap (type its port)", "snapcap"),
                    ("this computer's screen", SCREEN_SPEC)]
        _fill(self.panelCombo, entries, wanted)

    def set_wheels(self, found: Sequence[tuple[str, str]]) -> None:
        """None, the simulator and the wheels found."""
        wanted = self.wheelCombo.currentData()
        entries = [("none", None), ("simulated wheel (sim)", "sim")]
        entries += [(f"{label} ({spec})", spec) for spec, label in found]
        _fill(self.wheelCombo, entries, wanted)

    def set_listing(self, listing: RigListing) -> None:
        """The panels and wheels found on the worker thread."""
        self.set_panels(listing.panels)
        self.set_wheels(listing.wheels)

    def refresh_screens(self) -> None:
        """This computer's screens."""
        wanted = self.screenCombo.currentData()
        entries = []
        for index, screen in enumerate(QGuiApplication.screens()):
            size = screen.geometry()
            entries.append((f"{index + 1}: {screen.name() or 'screen'} "
                            f"({size.width()} × {size.height()})", index))
        _fill(self.screenCombo, entries, wanted)

    # -- reading -------------------------------------------------------------------
    def panel_spec(self) -> str | None:
        """The panel as open_devices takes it (with the typed port), or None."""
        spec = self.panelCombo.currentData()
        if spec is None:
            return None
        port = self.panelPortEdit.text().strip()
        if spec in PORT_FAMILIES and port:
            return f"{spec}:{port}"
        return str(spec)

    def wheel_spec(self) -> str | None:
        """The wheel's spec, or None."""
        spec = self.wheelCombo.currentData()
        return str(spec) if spec is not None else None

    def brightness(self) -> int | str | None:
        """None (leave), 'auto' or a level."""
        mode = self.brightnessCombo.currentData()
        if mode == BRIGHTNESS_AUTO:
            return "auto"
        if mode == BRIGHTNESS_LEVEL:
            return self.brightnessSpin.value()
        return None

    def tint(self) -> tuple[float, float, float]:
        """The screen's tint (r, g, b multipliers)."""
        r, g, b = (spin.value() for spin in self.tintSpins)
        return (r, g, b)

    def screen_index(self) -> int:
        """The chosen screen's index in QGuiApplication.screens()."""
        data = self.screenCombo.currentData()
        return int(data) if data is not None else 0

    def wants_job(self) -> bool:
        """Whether the whole job runs (a panel, wheel, filters, brightness or dark flats)."""
        return bool(self.panel_spec() or self.wheel_spec() or self.filterTable.chosen()
                    or self.darkFlatsSpin.value() or self.brightness() is not None)

    def job_settings(self, flats: FlatSettings) -> JobSettings:
        """The job; raises SettingsError saying what to change."""
        filters = tuple(self.filterTable.chosen())
        if filters and not self.wheel_spec():
            raise SettingsError("filters are ticked but no filter wheel is chosen; choose "
                                "the wheel (or sim)")
        brightness = self.brightness()
        if brightness is not None and not self.panel_spec():
            raise SettingsError("a brightness needs a light panel; choose the panel or "
                                "'leave as it is'")
        return JobSettings(flats=flats, filters=filters, brightness=brightness,
                           dark_count=self.darkFlatsSpin.value())

    # -- QSettings -------------------------------------------------------------------
    def load(self, qs: QSettings) -> None:
        """The choices of last time."""
        _choose(self.panelCombo, qs.value("panel") or None)
        self.panelPortEdit.setText(str(qs.value("panel_port", "") or ""))
        _choose(self.wheelCombo, qs.value("wheel") or None)
        _choose(self.brightnessCombo, qs.value("brightness_mode") or BRIGHTNESS_LEAVE)
        self.brightnessSpin.setValue(setting_int(qs.value("brightness_level"), 128))
        self.darkFlatsSpin.setValue(setting_int(qs.value("dark_flats"), 0))
        for spin, key in zip(self.tintSpins, ("tint_r", "tint_g", "tint_b"), strict=True):
            spin.setValue(setting_float(qs.value(key), 1.0))
        self.wanted_filters = [f for f in str(qs.value("filters", "") or "").split(",") if f]

    def save(self, qs: QSettings) -> None:
        """Store the choices (the caller syncs)."""
        qs.setValue("panel", self.panelCombo.currentData() or "")
        qs.setValue("panel_port", self.panelPortEdit.text())
        qs.setValue("wheel", self.wheelCombo.currentData() or "")
        qs.setValue("brightness_mode", self.brightnessCombo.currentData())
        qs.setValue("brightness_level", self.brightnessSpin.value())
        qs.setValue("dark_flats", self.darkFlatsSpin.value())
        for spin, key in zip(self.tintSpins, ("tint_r", "tint_g", "tint_b"), strict=True):
            qs.setValue(key, spin.value())
        qs.setValue("filters", ",".join(self.filterTable.chosen()))

    def set_editable(self, editable: bool) -> None:
        """Lock the choices while a job runs (the tint stays adjustable)."""
        for widget in (self.panelCombo, self.panelPortEdit, self.wheelCombo,
                       self.brightnessCombo, self.brightnessSpin, self.darkFlatsSpin,
                       self.screenCombo):
            widget.setEnabled(editable)
        self.filterTable.set_editable(editable)
        if editable:
            self._update_visibility()

    def _update_visibility(self, *_: object) -> None:
        spec = self.panelCombo.currentData()
        self.screenRow.setVisible(spec == SCREEN_SPEC)
        self.panelPortEdit.setVisible(spec in PORT_FAMILIES)
        self.brightnessSpin.setEnabled(self.brightnessCombo.currentData() == BRIGHTNESS_LEVEL
                                       and self.brightnessCombo.isEnabled())


def _fill(combo: QComboBox, entries: Sequence[tuple[str, object]], wanted: object) -> None:
    combo.blockSignals(True)
    combo.clear()
    for label, data in entries:
        combo.addItem(label, data)
    combo.blockSignals(False)
    _choose(combo, wanted)


def _choose(combo: QComboBox, wanted: object) -> None:
    index = combo.findData(wanted) if wanted is not None else 0
    if index < 0 and isinstance(wanted, str):
        family = wanted.partition(":")[0]  # a port typed last time: family + port
        index = combo.findData(family)
    combo.setCurrentIndex(max(index, 0))

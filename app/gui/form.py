"""The "Flats" group: the session's settings as a form, remembered in QSettings.

:class:`SettingsForm` builds the inputs, loads and saves them, and reads them back
as :class:`app.settings.FlatSettings`. The window connects the signals that redraw
the target (``targetEdit``, ``spaceCombo``, ``toleranceSpin``).
"""

from __future__ import annotations

from pathlib import Path

from PyQt6.QtCore import QRect, QSettings, Qt
from PyQt6.QtGui import QPainter, QPaintEvent, QPalette
from PyQt6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QStyle,
    QStyleOptionFrame,
    QWidget,
)

from app.adu import FULL_SCALE_16BIT, AduScale, AduSpace, Target, TargetError, round_adu
from app.gui.camera_panel import ADU_TIP
from app.gui.options import GuiOptions, default_out_dir, setting_float, setting_int
from app.gui.worker import CameraFacts
from app.settings import MAX_COUNT, FlatSettings, SettingsError

TARGET_TIP = (
    "The mean level the flats aim for: a percentage of full scale (50%) or an ADU value\n"
    "(30000). 50 % keeps flats well clear of clipping and of the non-linear top of the\n"
    "sensor while giving plenty of signal; sensors that go non-linear early (ASI1600)\n"
    "do well at 8-10 k (16-bit).\n\n" + ADU_TIP
)


class SettingsForm(QGroupBox):
    """Flat count, gain, offset, binning, filter, output folder, target and exposure limits."""

    def __init__(self) -> None:
        super().__init__("Flats")
        form = QFormLayout(self)
        self.flatCountSpin = QSpinBox()
        self.flatCountSpin.setObjectName("flatCountSpin")
        self.flatCountSpin.setRange(0, MAX_COUNT)
        self.flatCountSpin.setValue(30)
        self.flatCountSpin.setToolTip(
            "How many flats to take. Averaging N flats cuts the master flat's noise by\n"
            "√N: 30 flats leave 18 % of one flat's noise, 50 leave 14 %.")
        form.addRow("Flat count", self.flatCountSpin)

        self.gainSpin = _default_spin("gainSpin", "Gain (ZWO units, 0.1 dB). Use the gain of "
                                      "your lights; 'camera default' keeps the camera's.")
        self.gainLabel = QLabel("Gain")  # "ISO" for a DSLR
        self.gainLabel.setObjectName("gainLabel")
        form.addRow(self.gainLabel, self.gainSpin)
        self.gainInfo = QLabel()
        self.gainInfo.setObjectName("gainInfoLabel")
        self.gainInfo.setToolTip("Electrons per native ADU at this gain, as the camera "
                                 "reports it (ZWO gain is in 0.1 dB).\n" + ADU_TIP)
        form.addRow("", self.gainInfo)
        self.gainSpin.valueChanged.connect(self._show_gain_info)
        self._facts: CameraFacts | None = None
        self.offsetSpin = _default_spin("offsetSpin", "Offset (black level). Use the offset "
                                        "of your lights; it adds to the bias.")
        form.addRow("Offset", self.offsetSpin)
        self._form = form
        self.binCombo = QComboBox()
        self.binCombo.setObjectName("binCombo")
        self.binCombo.setToolTip("Binning: must match your lights.")
        self.binCombo.addItem("1×1", 1)
        form.addRow("Binning", self.binCombo)
        self.filterEdit = QLineEdit()
        self.filterEdit.setObjectName("filterEdit")
        self.filterEdit.setPlaceholderText("e.g. L, Ha (for headers and file names)")
        form.addRow("Filter", self.filterEdit)

        self.outputDirEdit = ElidedPathEdit()
        self.outputDirEdit.setObjectName("outputDirEdit")
        self.browseButton = QPushButton("Browse…")
        self.browseButton.setObjectName("browseButton")
        self.browseButton.clicked.connect(self.browse)
        row = QHBoxLayout()
        row.addWidget(self.outputDirEdit, 1)
        row.addWidget(self.browseButton)
        form.addRow("Output folder", row)

        self.targetEdit = QLineEdit("50%")
        self.targetEdit.setObjectName("targetEdit")
        self.targetEdit.setToolTip(TARGET_TIP)
        self.spaceCombo = QComboBox()
        self.spaceCombo.setObjectName("spaceCombo")
        self.spaceCombo.addItem("16-bit", AduSpace.BIT16.value)
        self.spaceCombo.addItem("native", AduSpace.NATIVE.value)
        self.spaceCombo.setToolTip(
            "Which scale an ADU number (and the plots) is in.\n" + ADU_TIP)
        row = QHBoxLayout()
        row.addWidget(self.targetEdit, 1)
        row.addWidget(self.spaceCombo)
        form.addRow("Target", row)
        self.targetInfo = QLabel()
        self.targetInfo.setObjectName("targetInfoLabel")
        self.targetInfo.setWordWrap(True)
        self.targetInfo.setToolTip(TARGET_TIP)
        form.addRow("", self.targetInfo)
        self.toleranceSpin = QDoubleSpinBox()
        self.toleranceSpin.setObjectName("toleranceSpin")
        self.toleranceSpin.setRange(0.1, 50.0)
        self.toleranceSpin.setDecimals(1)
        self.toleranceSpin.setValue(5.0)
        self.toleranceSpin.setSuffix(" %")
        self.toleranceSpin.setToolTip("How far a flat's mean may sit from the target, in % of "
                                      "the target.")
        form.addRow("Tolerance", self.toleranceSpin)
        self.minExposureSpin = QDoubleSpinBox()
        self.minExposureSpin.setObjectName("minExposureSpin")
        self.minExposureSpin.setRange(0.0, 600.0)
        self.minExposureSpin.setDecimals(3)
        self.minExposureSpin.setSuffix(" s")
        self.minExposureSpin.setSpecialValueText("camera minimum")
        self.minExposureSpin.setToolTip(
            "Shortest flat exposure. LED panels and tablets flicker (PWM): keep flats at\n"
            "1-3 s or more to avoid bands, dimming the panel if needed.")
        form.addRow("Min exposure", self.minExposureSpin)
        self.maxExposureSpin = QDoubleSpinBox()
        self.maxExposureSpin.setObjectName("maxExposureSpin")
        self.maxExposureSpin.setRange(0.001, 3600.0)
        self.maxExposureSpin.setDecimals(3)
        self.maxExposureSpin.setValue(120.0)
        self.maxExposureSpin.setSuffix(" s")
        self.maxExposureSpin.setToolTip("Longest flat exposure the search may use.")
        form.addRow("Max exposure", self.maxExposureSpin)
        self.historyCheck = QCheckBox("Start from last time's exposure")
        self.historyCheck.setObjectName("historyCheck")
        self.historyCheck.setChecked(True)
        self.historyCheck.setToolTip(
            "Panels are usually as bright as last night: start the search at the exposure "
            "that worked for this camera, gain, offset, binning, filter and target, with the "
            "bias measured then. Usually one test frame, or none. Untick to search from "
            "scratch.")
        form.addRow("", self.historyCheck)
        #: the saved binning, chosen once the camera's bins are known
        self.wanted_bin = 1

    # -- QSettings -------------------------------------------------------------------
    def load(self, qs: QSettings, opts: GuiOptions) -> None:
        """Fill the form from the presets in ``opts``, else ``qs``, else the defaults."""
        count = opts.count if opts.count is not None else setting_int(qs.value("count"), 30)
        self.flatCountSpin.setValue(count)
        gain = opts.gain if opts.gain is not None else setting_int(qs.value("gain"), -1)
        self.gainSpin.setValue(gain)
        offset = opts.offset if opts.offset is not None else setting_int(qs.value("offset"), -1)
        self.offsetSpin.setValue(offset)
        self.wanted_bin = setting_int(qs.value("binning"), 1)
        self.filterEdit.setText(str(qs.value("filter", "") or ""))
        out = opts.out if opts.out is not None else qs.value("out_dir") or default_out_dir()
        self.outputDirEdit.setText(str(out))
        self.targetEdit.setText(opts.target if opts.target is not None
                                else str(qs.value("target", "50%") or "50%"))
        space = str(qs.value("space", AduSpace.BIT16.value))
        self.spaceCombo.setCurrentIndex(max(0, self.spaceCombo.findData(space)))
        self.toleranceSpin.setValue(setting_float(qs.value("tolerance"), 5.0))
        self.minExposureSpin.setValue(setting_float(qs.value("min_exposure"), 0.0))
        self.maxExposureSpin.setValue(setting_float(qs.value("max_exposure"), 120.0))
        self.historyCheck.setChecked(str(qs.value("use_history", "true")).lower() != "false")

    def save(self, qs: QSettings) -> None:
        """Store the form in ``qs`` (the caller syncs)."""
        qs.setValue("count", self.flatCountSpin.value())
        qs.setValue("gain", self.gainSpin.value())
        qs.setValue("offset", self.offsetSpin.value())
        qs.setValue("binning", self.binCombo.currentData() or 1)
        qs.setValue("filter", self.filterEdit.text())
        qs.setValue("out_dir", self.outputDirEdit.text())
        qs.setValue("target", self.targetEdit.text())
        qs.setValue("space", self.spaceCombo.currentData())
        qs.setValue("tolerance", self.toleranceSpin.value())
        qs.setValue("min_exposure", self.minExposureSpin.value())
        qs.setValue("max_exposure", self.maxExposureSpin.value())
        qs.setValue("use_history", self.historyCheck.isChecked())

    # -- reading ---------------------------------------------------------------------
    def space(self) -> AduSpace:
        """The native / 16-bit switch."""
        return AduSpace(self.spaceCombo.currentData())

    def show_target(self, scale: AduScale, *, bit_depth_known: bool) -> tuple[float, float] | None:
        """Explain the target on ``scale``; (native target, native tolerance), None if invalid."""
        try:
            target = Target.parse(self.targetEdit.text(), self.space())
            native = target.native(scale)
        except (TargetError, ValueError) as error:
            self.targetInfo.setText(f"⚠ {error}")
            return None
        if target.is_percent:
            text = scale.describe_percent(target.value)
        else:
            adu16 = scale.to_16bit(native)
            text = (f"{round_adu(native)} native ({scale.bit_depth}-bit) = {round_adu(adu16)} "
                    "16-bit = "
                    f"{100 * adu16 / FULL_SCALE_16BIT:.1f} % of full scale")
        tolerance = native * self.toleranceSpin.value() / 100
        text += f"; ± {round_adu(tolerance)} native"
        if not bit_depth_known:
            text += " (bit depth not known yet)"
        self.targetInfo.setText(text)
        return native, tolerance

    def flat_settings(self) -> FlatSettings:
        """The form as FlatSettings; raises SettingsError saying what to change."""
        try:
            target = Target.parse(self.targetEdit.text(), self.space())
        except TargetError as error:
            raise SettingsError(str(error)) from None
        out_text = self.outputDirEdit.text().strip()
        if not out_text:
            raise SettingsError("choose an output folder")
        gain, offset = self.gainSpin.value(), self.offsetSpin.value()
        facts = self._facts
        if facts is not None and not facts.info.has_offset:
            offset = -1  # no offset on this camera (a DSLR): the field is hidden
        if facts is not None and facts.gain_choices and gain >= 0 \
                and gain not in facts.gain_choices:
            kind = "ISO" if facts.info.gain_kind == "iso" else "gain"
            raise SettingsError(f"{kind} {gain} is not offered by {facts.info.name}; use one "
                                f"of {', '.join(map(str, facts.gain_choices))}")
        min_s = self.minExposureSpin.value()
        return FlatSettings(
            out_dir=Path(out_text).expanduser(),
            count=self.flatCountSpin.value(),
            target=target,
            tolerance_percent=self.toleranceSpin.value(),
            gain=gain if gain >= 0 else None,
            offset=offset if offset >= 0 else None,
            binning=int(self.binCombo.currentData() or 1),
            filter_name=self.filterEdit.text().strip(),
            min_exposure_s=min_s if min_s > 0 else None,
            max_exposure_s=self.maxExposureSpin.value(),
        )

    # -- the camera and the run ------------------------------------------------------
    def apply_facts(self, facts: CameraFacts) -> None:
        """Offer the camera's binnings and show its gain and offset ranges."""
        bins = facts.info.supported_bins
        wanted = self.binCombo.currentData() if self.binCombo.count() > 1 else self.wanted_bin
        self.binCombo.clear()
        for b in bins:
            self.binCombo.addItem(f"{b}×{b}", b)
        self.binCombo.setCurrentIndex(max(0, self.binCombo.findData(wanted)))
        c = facts.controls
        self._facts = facts
        iso = facts.info.gain_kind == "iso"
        self.gainSpin.setMaximum(max(GAIN_SPIN_MAX, int(c.gain.maximum)))
        self.gainSpin.setSpecialValueText(f"{int(c.gain.default)} (camera default)")
        self.offsetSpin.setSpecialValueText(f"{int(c.offset.default)} (camera default)")
        self._show_gain_info()
        self.gainLabel.setText("ISO" if iso else "Gain")
        if iso:
            listed = (", ".join(map(str, facts.gain_choices)) if facts.gain_choices
                      else f"{int(c.gain.minimum)}..{int(c.gain.maximum)}")
            self.gainSpin.setToolTip(f"ISO: one the camera offers ({listed}); camera default "
                                     f"{int(c.gain.default)}. Match your lights.")
        else:
            self.gainSpin.setToolTip(f"Gain (0.1 dB), {int(c.gain.minimum)}.."
                                     f"{int(c.gain.maximum)}; camera default "
                                     f"{int(c.gain.default)}. Match your lights.")
        self._form.setRowVisible(self.offsetSpin, facts.info.has_offset)
        self.offsetSpin.setToolTip(f"Offset, {int(c.offset.minimum)}..{int(c.offset.maximum)}"
                                   f"; camera default {int(c.offset.default)}. Match your "
                                   "lights.")

    def _show_gain_info(self, *_: object) -> None:
        """e⁻/ADU at the chosen gain (the camera's default gain when left at default)."""
        facts = self._facts
        if facts is None:
            self.gainInfo.setText("")
            return
        chosen = self.gainSpin.value()
        gain = chosen if chosen >= 0 else int(facts.controls.gain.default)
        e_per_adu = facts.info.e_per_adu_at(gain)
        kind = "ISO" if facts.info.gain_kind == "iso" else "gain"
        if e_per_adu is None:
            self.gainInfo.setText(f"{kind} {gain}: e⁻/ADU not reported by the camera")
        else:
            self.gainInfo.setText(f"{e_per_adu:.2f} e⁻/ADU (native) at {kind} {gain}")

    def set_editable(self, editable: bool) -> None:
        """Lock the inputs while a session runs (the target text stays readable)."""
        for widget in (self.flatCountSpin, self.gainSpin, self.offsetSpin, self.binCombo,
                       self.filterEdit, self.outputDirEdit, self.browseButton, self.targetEdit,
                       self.spaceCombo, self.toleranceSpin, self.minExposureSpin,
                       self.maxExposureSpin, self.historyCheck):
            widget.setEnabled(editable)

    def browse(self) -> None:
        """Choose the output folder in a dialog."""
        folder = QFileDialog.getExistingDirectory(self.window(), "Output folder",
                                                  self.outputDirEdit.text())
        if folder:
            self.outputDirEdit.setText(folder)


class ElidedPathEdit(QLineEdit):
    """A path field that shows a long path elided in the middle while it is not edited.

    ``text()`` is always the full path; the tooltip shows it too. While the field has
    the focus it is an ordinary line edit.
    """

    TIP = "The folder the flats and session.json are written to."

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.textChanged.connect(self._update_tip)
        self._update_tip(self.text())

    def _update_tip(self, text: str) -> None:
        self.setToolTip(f"{text}\n\n{self.TIP}" if text else self.TIP)

    def _text_rect(self) -> QRect:
        option = QStyleOptionFrame()
        self.initStyleOption(option)
        style = self.style()
        assert style is not None
        rect = style.subElementRect(QStyle.SubElement.SE_LineEditContents, option, self)
        return rect.adjusted(2, 0, -2, 0)

    def displayed_text(self) -> str:
        """What the field shows now: the full text while editing, else it elided."""
        if self.hasFocus():
            return self.text()
        return self.fontMetrics().elidedText(self.text(), Qt.TextElideMode.ElideMiddle,
                                             max(1, self._text_rect().width()))

    def paintEvent(self, event: QPaintEvent | None) -> None:
        """Draw the frame and the elided text (the ordinary line edit while focused)."""
        shown = self.displayed_text()
        if self.hasFocus() or shown == self.text():
            super().paintEvent(event)
            return
        painter = QPainter(self)
        option = QStyleOptionFrame()
        self.initStyleOption(option)
        style = self.style()
        assert style is not None
        style.drawPrimitive(QStyle.PrimitiveElement.PE_PanelLineEdit, option, painter, self)
        role = QPalette.ColorRole.Text
        group = (QPalette.ColorGroup.Active if self.isEnabled()
                 else QPalette.ColorGroup.Disabled)
        painter.setPen(self.palette().color(group, role))
        painter.drawText(self._text_rect(), int(Qt.AlignmentFlag.AlignVCenter
                                                | Qt.AlignmentFlag.AlignLeft), shown)
        painter.end()


#: the gain field's upper end (raised to the camera's highest gain, e.g. ISO 25600)
GAIN_SPIN_MAX = 10_000


def _default_spin(name: str, tip: str) -> QSpinBox:
    spin = QSpinBox()
    spin.setObjectName(name)
    spin.setRange(-1, GAIN_SPIN_MAX)
    spin.setSpecialValueText("camera default")
    spin.setValue(-1)
    spin.setToolTip(tip)
    return spin

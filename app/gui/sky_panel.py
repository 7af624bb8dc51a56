"""The "Light source" group: a light panel (or a steady light) or the twilight sky.

With the sky chosen the job is a sky-flats job (:mod:`app.procedures.sky_flats`),
exactly as ``autoflats flats --sky dusk|dawn [--site LAT,LON[,ELEV_M]]`` builds it:
dusk or dawn, an optional site (else ``$AUTOFLATS_SITE``, else the sky's measured
trend alone). :class:`~app.gui.job_control.JobControl` reads it and disables the
panel, brightness and dark-flats controls, which sky flats refuse.
"""

from __future__ import annotations

import os

from PyQt6.QtCore import QSettings, pyqtSignal
from PyQt6.QtWidgets import QComboBox, QFormLayout, QGroupBox, QLabel, QLineEdit

from app.settings import SettingsError
from app.sky_model import Site, SiteError

#: the site when the field is empty (as the command line reads it)
SITE_ENV = "AUTOFLATS_SITE"
LIGHT_PANEL, LIGHT_SKY = "panel", "sky"
DUSK, DAWN = "dusk", "dawn"
#: why the panel's controls are off while the sky is chosen (their tooltip)
SKY_REFUSES = ("Sky flats use the sky: no panel, no brightness, and no dark flats (each "
               "flat has its own exposure: take a master bias instead).")


class LightSourcePanel(QGroupBox):
    """Panel or twilight sky; dusk or dawn; the site. ``changed`` on any choice."""

    changed = pyqtSignal()

    def __init__(self) -> None:
        super().__init__("Light source")
        form = QFormLayout(self)
        self.lightCombo = QComboBox()
        self.lightCombo.setObjectName("lightSourceCombo")
        self.lightCombo.addItem("light panel or steady light", LIGHT_PANEL)
        self.lightCombo.addItem("twilight sky (sky flats)", LIGHT_SKY)
        self.lightCombo.setToolTip(
            "Twilight sky: every flat's exposure is predicted from a model of the sky,\n"
            "which halves (dusk) or doubles (dawn) every few minutes. At dusk a sky\n"
            "still too bright is waited for, with a countdown.")
        form.addRow("Light", self.lightCombo)
        self.skyCombo = QComboBox()
        self.skyCombo.setObjectName("skyCombo")
        self.skyCombo.addItem("dusk (the sky darkens)", DUSK)
        self.skyCombo.addItem("dawn (the sky brightens)", DAWN)
        self.skyCombo.setToolTip("Dusk takes the least sensitive filters first (narrowband "
                                 "while the sky is bright), dawn the most sensitive.")
        form.addRow("Twilight", self.skyCombo)
        self.siteEdit = QLineEdit()
        self.siteEdit.setObjectName("siteEdit")
        self.siteEdit.setPlaceholderText("LAT,LON[,ELEV_M], e.g. 48.2,16.4,200 (optional)")
        self.siteEdit.setToolTip(
            "Where the scope is (degrees, north and east positive; metres). With it the\n"
            f"sky is modelled in the sun's altitude; empty: ${SITE_ENV} if set, else the\n"
            "sky's measured trend alone.")
        form.addRow("Site", self.siteEdit)
        self.skyNote = QLabel("Sky flats: no panel, brightness or dark flats (take a master "
                              "bias).")
        self.skyNote.setObjectName("skyNoteLabel")
        self.skyNote.setWordWrap(True)
        form.addRow("", self.skyNote)
        self._form = form
        self.lightCombo.currentIndexChanged.connect(self._update)
        self.skyCombo.currentIndexChanged.connect(lambda *_: self.changed.emit())
        self._update()

    # -- reading -------------------------------------------------------------------
    def is_sky(self) -> bool:
        """Whether sky flats are chosen."""
        return bool(self.lightCombo.currentData() == LIGHT_SKY)

    def sky(self) -> str | None:
        """'dusk' or 'dawn' with the sky chosen, else None."""
        return str(self.skyCombo.currentData()) if self.is_sky() else None

    def site(self) -> Site | None:
        """The site typed, else $AUTOFLATS_SITE, else None; SettingsError if malformed."""
        typed = self.siteEdit.text().strip()
        text = typed or os.environ.get(SITE_ENV, "").strip()
        if not text or not self.is_sky():
            return None
        try:
            return Site.parse(text)
        except SiteError as error:
            source = "site" if typed else f"${SITE_ENV}"
            raise SettingsError(f"{source}: {error}") from None

    def choose(self, sky: str | None, site: str = "") -> None:
        """Choose the sky (``sky`` 'dusk'/'dawn') or the panel (None), and the site."""
        self.lightCombo.setCurrentIndex(self.lightCombo.findData(
            LIGHT_SKY if sky else LIGHT_PANEL))
        if sky:
            self.skyCombo.setCurrentIndex(max(0, self.skyCombo.findData(sky)))
        self.siteEdit.setText(site)

    # -- QSettings -------------------------------------------------------------------
    def load(self, qs: QSettings) -> None:
        """The choices of last time."""
        source = str(qs.value("light_source", LIGHT_PANEL) or LIGHT_PANEL)
        self.lightCombo.setCurrentIndex(max(0, self.lightCombo.findData(source)))
        self.skyCombo.setCurrentIndex(max(0, self.skyCombo.findData(
            str(qs.value("sky", DUSK) or DUSK))))
        self.siteEdit.setText(str(qs.value("site", "") or ""))

    def save(self, qs: QSettings) -> None:
        """Store the choices (the caller syncs)."""
        qs.setValue("light_source", self.lightCombo.currentData())
        qs.setValue("sky", self.skyCombo.currentData())
        qs.setValue("site", self.siteEdit.text().strip())

    def set_editable(self, editable: bool) -> None:
        """Lock the choices while a run goes on."""
        self.lightCombo.setEnabled(editable)
        self.skyCombo.setEnabled(editable and self.is_sky())
        self.siteEdit.setEnabled(editable and self.is_sky())

    def _update(self, *_: object) -> None:
        sky = self.is_sky()
        for widget in (self.skyCombo, self.siteEdit, self.skyNote):
            self._form.setRowVisible(widget, sky)
        self.skyCombo.setEnabled(sky and self.lightCombo.isEnabled())
        self.siteEdit.setEnabled(sky and self.lightCombo.isEnabled())
        self.changed.emit()


__all__ = ["DAWN", "DUSK", "LIGHT_PANEL", "LIGHT_SKY", "SITE_ENV", "SKY_REFUSES",
           "LightSourcePanel"]

"""The filter table: one line per filter of the wheel (tick the ones to take), then the
job's progress per filter: flats written, brightness, exposure, status, done ✓."""

from __future__ import annotations

from collections.abc import Sequence

from PyQt6.QtCore import Qt
from PyQt6.QtWidgets import QAbstractItemView, QHeaderView, QTableWidget, QTableWidgetItem

from app.gui.job_worker import FilterRow

COLUMNS = ("Filter", "Flats", "Level", "Exposure", "Status", "Done")
#: what each column means (header tooltips)
TIPS = ("Tick the filters to take", "Flats written / asked for", "Panel brightness used",
        "Flat exposure found", "pending, running, completed or failed", "✓ = every flat written")
NAME, FLATS, BRIGHTNESS, EXPOSURE, STATUS, DONE = range(len(COLUMNS))
DONE_MARK = "✓"


class FilterTable(QTableWidget):
    """Filters from the wheel, ticked to be taken; filled live while the job runs."""

    def __init__(self) -> None:
        super().__init__(0, len(COLUMNS))
        self.setObjectName("filterTable")
        self.setHorizontalHeaderLabels(COLUMNS)
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
        self.setToolTip("The wheel's filters: tick the ones to take flats for (in wheel "
                        "order). Narrowband filters get more light or longer exposures.")
        for column, tip in enumerate(TIPS):
            head = self.horizontalHeaderItem(column)
            if head is not None:
                head.setToolTip(tip)
        header = self.horizontalHeader()
        if header is not None:
            header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
            header.setSectionResizeMode(STATUS, QHeaderView.ResizeMode.Stretch)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        vertical = self.verticalHeader()
        if vertical is not None:
            vertical.hide()
        self.setMinimumHeight(150)
        self.count_per_filter = 0
        #: the wheel's filters (a one-filter job may add a line of its own)
        self.wheel_names: list[str] = []

    def set_filters(self, names: Sequence[str], chosen: Sequence[str]) -> None:
        """One line per wheel filter; ``chosen`` ones ticked (case-insensitive)."""
        wanted = {c.casefold() for c in chosen}
        self.wheel_names = list(names)
        self.setRowCount(0)
        for name in names:
            row = self.rowCount()
            self.insertRow(row)
            item = QTableWidgetItem(name)
            item.setFlags(Qt.ItemFlag.ItemIsUserCheckable | Qt.ItemFlag.ItemIsEnabled)
            item.setCheckState(Qt.CheckState.Checked if name.casefold() in wanted
                               else Qt.CheckState.Unchecked)
            self.setItem(row, NAME, item)
            for column in range(1, len(COLUMNS)):
                self.setItem(row, column, QTableWidgetItem(""))

    def filter_names(self) -> list[str]:
        """Every filter listed."""
        return [self._text(row, NAME) for row in range(self.rowCount())]

    def chosen(self) -> list[str]:
        """The ticked filters, in wheel order."""
        return [self._text(row, NAME) for row in range(self.rowCount())
                if self._name_item(row).checkState() == Qt.CheckState.Checked]

    def set_chosen(self, names: Sequence[str]) -> None:
        """Tick exactly ``names`` (case-insensitive)."""
        wanted = {n.casefold() for n in names}
        for row in range(self.rowCount()):
            self._name_item(row).setCheckState(
                Qt.CheckState.Checked if self._text(row, NAME).casefold() in wanted
                else Qt.CheckState.Unchecked)

    def set_editable(self, editable: bool) -> None:
        """Lock the ticks while a job runs."""
        for row in range(self.rowCount()):
            item = self._name_item(row)
            flags = Qt.ItemFlag.ItemIsEnabled
            if editable:
                flags |= Qt.ItemFlag.ItemIsUserCheckable
            item.setFlags(flags)

    def start_job(self, names: Sequence[str], count: int) -> None:
        """Clear the read-outs; a job without filters is one line named by its filter."""
        self.count_per_filter = count
        self.set_filters(self.wheel_names, self.chosen())  # drop a last one-filter line
        for row in range(self.rowCount()):
            for column in range(1, len(COLUMNS)):
                self._set(row, column, "")
            if self._text(row, NAME) in names:
                self._set(row, STATUS, "waiting")

    def show_rows(self, rows: Sequence[FilterRow]) -> None:
        """The job's state per filter (from the session record)."""
        for line in rows:
            row = self._row_of(line.name)
            if row is None:
                row = self.rowCount()
                self.insertRow(row)
                self.setItem(row, NAME, QTableWidgetItem(line.name))
                for column in range(1, len(COLUMNS)):
                    self.setItem(row, column, QTableWidgetItem(""))
            self._set(row, FLATS, f"{line.flats} / {self.count_per_filter}")
            self._set(row, BRIGHTNESS, "" if line.brightness is None else str(line.brightness))
            self._set(row, EXPOSURE, "" if line.exposure_s is None
                      else f"{line.exposure_s:.4g} s")
            self._set(row, STATUS, line.status)
            done = line.status == "completed" and line.flats >= self.count_per_filter
            self._set(row, DONE, DONE_MARK if done else "")

    def cell_text(self, name: str, column: int) -> str:
        """A cell's text by filter name ('' when the filter is not listed)."""
        row = self._row_of(name)
        return "" if row is None else self._text(row, column)

    # -- helpers ---------------------------------------------------------------------
    def _row_of(self, name: str) -> int | None:
        for row in range(self.rowCount()):
            if self._text(row, NAME).casefold() == name.casefold():
                return row
        return None

    def _name_item(self, row: int) -> QTableWidgetItem:
        item = self.item(row, NAME)
        assert item is not None
        return item

    def _text(self, row: int, column: int) -> str:
        item = self.item(row, column)
        return item.text() if item is not None else ""

    def _set(self, row: int, column: int, text: str) -> None:
        item = self.item(row, column)
        if item is None:
            self.setItem(row, column, QTableWidgetItem(text))
        else:
            item.setText(text)

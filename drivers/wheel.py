"""The filter wheel interface every wheel driver implements, and its records.

python-microscope's ``FilterWheel`` shape: the public methods validate, then call the
driver's ``_do_...`` hooks. Slots are 0-based in the API. Messages for people count
slots from 1, like the labels on a wheel and the default names "1".."N".

A move is the same everywhere: :meth:`FilterWheel.move_to` starts it, then polls
the position on the injected clock until the wheel reads the target, or raises
:class:`FilterWheelTimeoutError` naming the slot and the time waited.

Locking: one re-entrant lock per device guards every driver call; a second lock
serialises moves, so :meth:`position` answers (``None``) from another thread while
a move is under way instead of waiting for it to finish.
"""

from __future__ import annotations

import math
import threading
from abc import abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass

from drivers.clock import Clock, SystemClock
from drivers.device import Device
from drivers.errors import FilterWheelError, FilterWheelTimeoutError

#: how often a move polls the wheel's position (seconds on the wheel's clock)
DEFAULT_POLL_S = 0.05


class FilterWheelValueError(FilterWheelError, ValueError):
    """A slot, filter name or setting the wheel cannot accept (one line, with the fix)."""


@dataclass(frozen=True, slots=True)
class FilterWheelInfo:
    """What a filter wheel is: read once on open."""

    name: str
    model: str
    driver: str
    slot_count: int

    def __post_init__(self) -> None:
        """A wheel has at least one slot."""
        if self.slot_count < 1:
            raise ValueError(f"a filter wheel needs at least 1 slot, got {self.slot_count}")


@dataclass(frozen=True, slots=True)
class WheelEntry:
    """One filter wheel that can be opened, as a listing shows it.

    ``slot_count`` is None when the wheel could not be asked (``note`` says why).
    """

    wheel_id: str
    name: str
    driver: str
    slot_count: int | None
    note: str | None = None


def slot_label(slot: int, names: Sequence[str]) -> str:
    """'slot 5 (Ha)' for 0-based ``slot`` 4; just 'slot 5' when the name is the number."""
    number = str(slot + 1)
    name = names[slot] if 0 <= slot < len(names) else number
    return f"slot {number}" if name == number else f"slot {number} ({name})"


def check_filter_names(names: Sequence[str], slot_count: int) -> tuple[str, ...]:
    """``names`` stripped, or FilterWheelValueError: one per slot, non-empty, unique."""
    if isinstance(names, str):
        raise FilterWheelValueError(
            f"filter names must be a list of {slot_count} names, not the string {names!r}")
    cleaned = tuple(str(n).strip() for n in names)
    if len(cleaned) != slot_count:
        raise FilterWheelValueError(
            f"the wheel has {slot_count} slots but {len(cleaned)} filter names were given "
            f"({', '.join(cleaned) or 'none'}); give one name per slot")
    if any(not n for n in cleaned):
        raise FilterWheelValueError(
            f"filter names must not be empty (slot {cleaned.index('') + 1}); name every slot, "
            "e.g. 'Empty' for a free one")
    seen: dict[str, int] = {}
    for slot, name in enumerate(cleaned):
        if name.casefold() in seen:
            raise FilterWheelValueError(
                f"filter name {name!r} is used for slots {seen[name.casefold()] + 1} and "
                f"{slot + 1}; names must be unique (case does not count)")
        seen[name.casefold()] = slot
    return cleaned


class FilterWheel(Device):
    """A filter wheel: open it, name its slots, move to a slot or a filter.

    Subclasses implement ``_do_open`` (returning the :class:`FilterWheelInfo`),
    ``_do_close``, ``_do_get_position`` and ``_do_start_move``, and may override
    ``_default_filter_names``.
    """

    def __init__(self, *, clock: Clock | None = None, poll_s: float = DEFAULT_POLL_S) -> None:
        """A closed wheel on ``clock``; moves poll every ``poll_s`` seconds."""
        if not (math.isfinite(poll_s) and poll_s > 0):
            raise FilterWheelValueError(f"poll_s must be > 0 seconds, got {poll_s}")
        self._clock: Clock = clock if clock is not None else SystemClock()
        self._poll_s = poll_s
        self._lock = threading.RLock()
        self._move_lock = threading.Lock()
        self._info: FilterWheelInfo | None = None
        self._user_names: tuple[str, ...] | None = None

    # -- hooks -------------------------------------------------------------------------

    @abstractmethod
    def _do_open(self) -> FilterWheelInfo:
        """Connect and learn the slot count."""

    @abstractmethod
    def _do_close(self) -> None:
        """Release the device."""

    @abstractmethod
    def _do_get_position(self) -> int | None:
        """0-based slot, or None while moving."""

    @abstractmethod
    def _do_start_move(self, slot: int) -> None:
        """Start moving to ``slot`` (validated) and return without waiting."""

    def _default_filter_names(self, slot_count: int) -> tuple[str, ...]:
        """Names used until the user gives some: "1".."N"."""
        return tuple(str(i + 1) for i in range(slot_count))

    # -- opening -----------------------------------------------------------------------

    def open(self) -> None:
        """Connect (idempotent). Names given before opening are checked here."""
        with self._lock:
            if self._info is not None:
                return
            info = self._do_open()
            if self._user_names is not None:
                try:
                    check_filter_names(self._user_names, info.slot_count)
                except FilterWheelValueError:
                    self._do_close()
                    raise
            self._info = info

    def close(self) -> None:
        """Release the wheel (idempotent); it stays where it is."""
        with self._lock:
            if self._info is None:
                return
            self._info = None
            self._do_close()

    @property
    def is_open(self) -> bool:
        """Whether the wheel is open."""
        return self._info is not None

    @property
    def info(self) -> FilterWheelInfo:
        """What the wheel is (open wheels only)."""
        info = self._info
        if info is None:
            raise FilterWheelError("the filter wheel is not open; open it first")
        return info

    # -- names -------------------------------------------------------------------------

    @property
    def filter_names(self) -> tuple[str, ...]:
        """One name per slot: the user's names, else the driver's defaults."""
        info = self.info
        if self._user_names is not None:
            return self._user_names
        return self._default_filter_names(info.slot_count)

    def set_filter_names(self, names: Sequence[str]) -> None:
        """Name the slots, in slot order; checked against the slot count when open."""
        with self._lock:
            if self._info is not None:
                self._user_names = check_filter_names(names, self._info.slot_count)
            else:
                self._user_names = check_filter_names(names, len(names))

    def slot_of(self, name: str) -> int:
        """0-based slot holding filter ``name`` (case and spaces around it do not count)."""
        names = self.filter_names
        wanted = str(name).strip().casefold()
        for slot, candidate in enumerate(names):
            if candidate.casefold() == wanted:
                return slot
        raise FilterWheelValueError(
            f"no filter {name!r} in the wheel; its filters are: {', '.join(names)}")

    # -- moving ------------------------------------------------------------------------

    def position(self) -> int | None:
        """0-based slot the wheel is at, or None while it moves."""
        with self._lock:
            count = self.info.slot_count
            slot = self._do_get_position()
        if slot is not None and not 0 <= slot < count:
            raise FilterWheelError(
                f"the filter wheel reported slot {slot + 1} of {count}; calibrate it")
        return slot

    def move_to(self, slot: int, timeout_s: float = 30.0) -> int:
        """Move to 0-based ``slot`` and wait until the wheel is there; the slot reached."""
        count = self.info.slot_count
        if isinstance(slot, bool) or not isinstance(slot, int) or not 0 <= slot < count:
            raise FilterWheelValueError(
                f"slot {slot!r} does not exist; the wheel has slots 0..{count - 1} "
                f"({', '.join(self.filter_names)})")
        if not (math.isfinite(timeout_s) and timeout_s > 0):
            raise FilterWheelValueError(f"timeout_s must be > 0 seconds, got {timeout_s}")
        with self._move_lock:
            with self._lock:
                self._do_start_move(slot)
            deadline = self._clock.monotonic() + timeout_s
            while True:
                now = self._clock.monotonic()  # before the position: a stall is no timeout
                if self.position() == slot:
                    return slot
                if now >= deadline:
                    raise FilterWheelTimeoutError(
                        f"the filter wheel did not reach {slot_label(slot, self.filter_names)} "
                        f"within {timeout_s:g} s; check it is not stuck and its cable")
                self._clock.sleep(self._poll_s)

    def move_to_filter(self, name: str, timeout_s: float = 30.0) -> int:
        """Move to the slot holding filter ``name``; the slot reached."""
        return self.move_to(self.slot_of(name), timeout_s)

"""ZWO EFW filter wheels through libEFWFilter (:mod:`drivers.efw_sdk`).

A wheel is chosen by its 0-based index in the SDK's device list (``efw:0``,
``efw:1``...); on open the index is turned into the wheel's ID (``EFWGetID``) and
every later call uses that ID. Right after ``EFWOpen`` the wheel counts its slots
and ``EFWGetProperty`` answers ``EFW_ERROR_MOVING``: opening retries until it
settles, bounded by ``detect_timeout_s``. ``EFWGetPosition`` reads -1 while moving
(``position()`` is then None). SDK error codes become typed errors:
``EFW_ERROR_REMOVED`` a :class:`FilterWheelDisconnectedError`, the rest a
:class:`FilterWheelError` with a one-line fix.
"""

from __future__ import annotations

import logging

from drivers import efw_sdk
from drivers.clock import Clock, SystemClock
from drivers.efw_sdk import EfwError, EfwLibrary, EfwProperty
from drivers.errors import FilterWheelDisconnectedError, FilterWheelError, FilterWheelTimeoutError
from drivers.wheel import FilterWheel, FilterWheelInfo, WheelEntry

log = logging.getLogger(__name__)

#: listing ids: 'efw:0', 'efw:1'... (the registry also accepts 'zwo:N')
ID_PREFIX = "efw:"
DRIVER = "zwo-efw"
DEFAULT_POLL_S = 0.1
#: how long a wheel may take to count its slots after opening
DEFAULT_DETECT_TIMEOUT_S = 15.0


def wheel_error(error: EfwError, label: str) -> FilterWheelError:
    """The typed, one-line error for an SDK error code."""
    code = error.code
    if code == efw_sdk.EFW_ERROR_REMOVED:
        return FilterWheelDisconnectedError(
            f"the filter wheel {label} was removed ({error.call}); check its USB cable and "
            "power, then reconnect")
    if code in (efw_sdk.EFW_ERROR_INVALID_ID, efw_sdk.EFW_ERROR_INVALID_INDEX):
        return FilterWheelDisconnectedError(
            f"the filter wheel {label} is no longer in the SDK's device list ({error}); "
            "replug it, then reconnect")
    if code == efw_sdk.EFW_ERROR_ERROR_STATE:
        return FilterWheelError(
            f"the filter wheel {label} is in an error state ({error.call}); calibrate it or "
            "unplug it and plug it back in")
    if code == efw_sdk.EFW_ERROR_CLOSED:
        return FilterWheelError(f"the filter wheel {label} is closed ({error.call}); open it")
    return FilterWheelError(
        f"the filter wheel {label} failed: {error}; unplug it and plug it back in")


def read_slots(efw: EfwLibrary, wheel_id: int, clock: Clock, timeout_s: float,
               poll_s: float, label: str) -> EfwProperty:
    """EFWGetProperty of an open wheel, retried while it counts its slots (MOVING)."""
    deadline = clock.monotonic() + timeout_s
    while True:
        try:
            prop = efw.get_property(wheel_id)
        except EfwError as error:
            if error.code != efw_sdk.EFW_ERROR_MOVING:
                raise wheel_error(error, label) from None
        else:
            if prop.slot_count > 0:
                return prop
        if clock.monotonic() >= deadline:
            raise FilterWheelTimeoutError(
                f"the filter wheel {label} did not finish counting its slots within "
                f"{timeout_s:g} s; unplug it and plug it back in")
        clock.sleep(poll_s)


class EfwWheel(FilterWheel):
    """A ZWO EFW filter wheel, the ``index``-th in the SDK's device list."""

    def __init__(
        self,
        index: int = 0,
        *,
        efw: EfwLibrary | None = None,
        clock: Clock | None = None,
        poll_s: float = DEFAULT_POLL_S,
        detect_timeout_s: float = DEFAULT_DETECT_TIMEOUT_S,
        unidirectional: bool | None = None,
    ) -> None:
        """A closed wheel; ``efw`` defaults to the process's loaded library.

        ``unidirectional`` (when not None) is applied on open (``EFWSetDirection``).
        """
        super().__init__(clock=clock if clock is not None else SystemClock(), poll_s=poll_s)
        self.index = index
        self._efw = efw
        self._detect_timeout_s = detect_timeout_s
        self._unidirectional = unidirectional
        self._id: int | None = None
        self._firmware: str | None = None

    @property
    def label(self) -> str:
        """'efw:0' for messages."""
        return f"{ID_PREFIX}{self.index}"

    @property
    def wheel_id(self) -> int:
        """The SDK's ID of the open wheel (from EFWGetID, not the index)."""
        if self._id is None:
            raise FilterWheelError(f"the filter wheel {self.label} is not open; open it first")
        return self._id

    @property
    def firmware_version(self) -> str | None:
        """'3.0.8', or None when the SDK cannot tell."""
        return self._firmware

    def _library(self) -> EfwLibrary:
        if self._efw is None:
            self._efw = efw_sdk.get_efw()
        return self._efw

    def _call_error(self, error: EfwError) -> FilterWheelError:
        return wheel_error(error, self.label)

    # -- hooks -------------------------------------------------------------------------

    def _do_open(self) -> FilterWheelInfo:
        efw = self._library()
        count = efw.num_wheels()
        if not 0 <= self.index < count:
            raise FilterWheelError(
                f"no ZWO filter wheel {self.label}: {count} connected; plug it in (or choose "
                "another with 'autoflats doctor')")
        try:
            wheel_id = efw.wheel_id(self.index)
            efw.open(wheel_id)
        except EfwError as error:
            raise self._call_error(error) from None
        try:
            prop = read_slots(efw, wheel_id, self._clock, self._detect_timeout_s,
                              self._poll_s, self.label)
            if self._unidirectional is not None:
                efw.set_direction(wheel_id, self._unidirectional)
            try:
                self._firmware = efw.firmware_version(wheel_id)
            except EfwError:
                self._firmware = None
        except EfwError as error:
            self._close_quietly(efw, wheel_id)
            raise self._call_error(error) from None
        except FilterWheelError:
            self._close_quietly(efw, wheel_id)
            raise
        self._id = wheel_id
        model = prop.name.strip() or "EFW"
        name = model if model.upper().startswith("ZWO") else f"ZWO {model}"
        log.info("%s %s open: ID %d, %d slots, firmware %s", self.label, name, wheel_id,
                 prop.slot_count, self._firmware)
        return FilterWheelInfo(name, model, DRIVER, prop.slot_count)

    @staticmethod
    def _close_quietly(efw: EfwLibrary, wheel_id: int) -> None:
        try:
            efw.close(wheel_id)
        except EfwError:
            log.debug("EFWClose(%d) failed while giving up", wheel_id, exc_info=True)

    def _do_close(self) -> None:
        wheel_id, self._id = self._id, None
        if wheel_id is not None and self._efw is not None:
            try:
                self._efw.close(wheel_id)
            except EfwError:  # a removed wheel cannot be closed; it is gone either way
                log.debug("EFWClose(%d) failed", wheel_id, exc_info=True)

    def _do_get_position(self) -> int | None:
        try:
            slot = self._library().get_position(self.wheel_id)
        except EfwError as error:
            raise self._call_error(error) from None
        return None if slot == efw_sdk.EFW_IS_MOVING else slot

    def _do_start_move(self, slot: int) -> None:
        efw = self._library()
        deadline = self._clock.monotonic() + self._detect_timeout_s
        while True:
            try:
                efw.set_position(self.wheel_id, slot)
                return
            except EfwError as error:
                busy = error.code == efw_sdk.EFW_ERROR_MOVING
                if not busy or self._clock.monotonic() >= deadline:
                    raise self._call_error(error) from None
            self._clock.sleep(self._poll_s)

    # -- EFW extras --------------------------------------------------------------------

    def set_unidirectional(self, unidirectional: bool) -> None:
        """Turn one way only (True) or take the shorter way (False)."""
        with self._lock:
            try:
                self._library().set_direction(self.wheel_id, unidirectional)
            except EfwError as error:
                raise self._call_error(error) from None

    def is_unidirectional(self) -> bool:
        """Whether the wheel turns one way only."""
        with self._lock:
            try:
                return self._library().get_direction(self.wheel_id)
            except EfwError as error:
                raise self._call_error(error) from None

    def calibrate(self, timeout_s: float = 60.0) -> int:
        """Run EFWCalibrate and wait until the wheel stops; the slot it ends at."""
        with self._move_lock:
            with self._lock:
                try:
                    self._library().calibrate(self.wheel_id)
                except EfwError as error:
                    raise self._call_error(error) from None
            deadline = self._clock.monotonic() + timeout_s
            while True:
                slot = self.position()
                if slot is not None:
                    return slot
                if self._clock.monotonic() >= deadline:
                    raise FilterWheelTimeoutError(
                        f"the filter wheel {self.label} did not finish calibrating within "
                        f"{timeout_s:g} s; check it is not stuck and its cable")
                self._clock.sleep(self._poll_s)


def list_efw_wheels(
    efw: EfwLibrary | None = None,
    *,
    clock: Clock | None = None,
    detect_timeout_s: float = 5.0,
    poll_s: float = DEFAULT_POLL_S,
) -> list[WheelEntry]:
    """Connected EFW wheels ('efw:0'...), with slot counts.

    A wheel reports its slots only once open, so each wheel not already open in this
    process is opened, counted and closed. EfwLibraryLoadError when there is no SDK.
    """
    efw = efw if efw is not None else efw_sdk.get_efw()
    clock = clock if clock is not None else SystemClock()
    entries: list[WheelEntry] = []
    for index in range(efw.num_wheels()):
        label = f"{ID_PREFIX}{index}"
        try:
            wheel_id = efw.wheel_id(index)
            entries.append(_entry(efw, index, wheel_id, clock, detect_timeout_s, poll_s))
        except EfwError as error:
            entries.append(WheelEntry(label, "ZWO EFW", DRIVER, None,
                                      str(wheel_error(error, label))))
        except FilterWheelError as error:
            entries.append(WheelEntry(label, "ZWO EFW", DRIVER, None, str(error)))
    return entries


def _entry(efw: EfwLibrary, index: int, wheel_id: int, clock: Clock,
           detect_timeout_s: float, poll_s: float) -> WheelEntry:
    label = f"{ID_PREFIX}{index}"
    try:
        prop = efw.get_property(wheel_id)
    except EfwError as error:  # INDI sees CLOSED here on some SDKs: not fatal
        if error.code not in (efw_sdk.EFW_ERROR_CLOSED, efw_sdk.EFW_ERROR_MOVING):
            raise
        prop = EfwProperty(wheel_id, "EFW", 0)
    if prop.slot_count <= 0 and wheel_id not in efw.opened:
        efw.open(wheel_id)
        try:
            prop = read_slots(efw, wheel_id, clock, detect_timeout_s, poll_s, label)
        finally:
            EfwWheel._close_quietly(efw, wheel_id)
    model = prop.name.strip() or "EFW"
    name = model if model.upper().startswith("ZWO") else f"ZWO {model}"
    return WheelEntry(label, name, DRIVER, prop.slot_count or None)

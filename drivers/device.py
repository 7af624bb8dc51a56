"""What every device kind shares: open, close, and a ``with`` block around them."""

from __future__ import annotations

from abc import ABC, abstractmethod
from types import TracebackType
from typing import TypeVar

_D = TypeVar("_D", bound="Device")


class Device(ABC):
    """A device that is opened before use and closed after (both idempotent)."""

    @abstractmethod
    def open(self) -> None:
        """Connect to the device."""

    @abstractmethod
    def close(self) -> None:
        """Release the device."""

    @property
    @abstractmethod
    def is_open(self) -> bool:
        """Whether :meth:`open` has connected the device."""

    def __enter__(self: _D) -> _D:
        """Open on entering a ``with`` block."""
        self.open()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Close on leaving it."""
        self.close()

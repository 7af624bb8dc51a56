"""Fixtures for panel tests: an instant clock and pty simulators that always stop."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from drivers.alnitak import AlnitakPanel
from drivers.clock import SimulatedClock
from drivers.panel import LightPanel
from drivers.pty_sim import PtyLineServer

POSIX_ONLY = pytest.mark.skipif(sys.platform == "win32", reason="pseudo-terminals are POSIX only")
#: generous per-try read timeout: tests run on a loaded 2-core box
READ_TIMEOUT_S = 2.0


@pytest.fixture
def clock() -> SimulatedClock:
    """Simulated time that passes instantly (cover moves, settle waits)."""
    return SimulatedClock(time_scale=0.0)


@pytest.fixture
def cleanup() -> Iterator[Callable[[Any], Any]]:
    """Register panels and servers to close or stop after the test, in reverse order."""
    items: list[Any] = []

    def register(item: Any) -> Any:
        items.append(item)
        return item

    yield register
    for item in reversed(items):
        if isinstance(item, LightPanel):
            item.close()
        elif isinstance(item, PtyLineServer):
            item.stop()


@pytest.fixture
def alnitak(clock: SimulatedClock, cleanup: Callable[[Any], Any]
            ) -> Callable[..., tuple[Any, AlnitakPanel]]:
    """Build (server, driver) pairs: ``alnitak(product_id=19, filler='0')``; not yet open."""
    from drivers.alnitak_sim import AlnitakPtyServer

    def build(*, driver: dict[str, Any] | None = None, **server: Any
              ) -> tuple[AlnitakPtyServer, AlnitakPanel]:
        srv = cleanup(AlnitakPtyServer(clock=clock, **server))
        srv.start()
        options: dict[str, Any] = {"clock": clock, "timeout_s": READ_TIMEOUT_S}
        if server.get("snapcap"):
            options["variant"] = "snapcap"
        options.update(driver or {})
        panel = cleanup(AlnitakPanel(srv.port, **options))
        return srv, panel

    return build


@pytest.fixture
def pegasus(clock: SimulatedClock, cleanup: Callable[[Any], Any]
            ) -> Callable[..., tuple[Any, Any]]:
    """Build (server, driver) pairs for the Pegasus FlatMaster; not yet open."""
    from drivers.pegasus import PegasusFlatMaster
    from drivers.pegasus_sim import PegasusPtyServer

    def build(*, driver: dict[str, Any] | None = None, **server: Any
              ) -> tuple[PegasusPtyServer, PegasusFlatMaster]:
        srv = cleanup(PegasusPtyServer(clock=clock, **server))
        srv.start()
        options: dict[str, Any] = {"clock": clock, "timeout_s": READ_TIMEOUT_S}
        options.update(driver or {})
        panel = cleanup(PegasusFlatMaster(srv.port, **options))
        return srv, panel

    return build

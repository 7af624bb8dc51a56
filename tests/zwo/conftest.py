"""Fixtures for the ZWO tests: the fake libASICamera2 built from C."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from drivers import zwo_sdk
from drivers.zwo_sdk import ZwoasiSdk
from tests.zwo import cfake


@pytest.fixture(scope="session")
def cfake_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The fake libASICamera2, compiled once per test session into a temporary folder."""
    if sys.platform == "win32":
        pytest.skip("the fake libASICamera2 is built for Linux and macOS only")
    if cfake.compiler() is None:
        pytest.skip("gcc not found, so the fake libASICamera2 cannot be built "
                    "(Debian: apt-get install gcc)")
    return cfake.build(tmp_path_factory.mktemp("fake_asi"))


@pytest.fixture(scope="session")
def cfake_sdk(cfake_path: Path) -> ZwoasiSdk:
    """The SDK layer over the fake, through a private zwoasi (the real SDK is untouched)."""
    return zwo_sdk.load_isolated_sdk(cfake_path)


@pytest.fixture
def asi(cfake_path: Path, cfake_sdk: ZwoasiSdk) -> cfake.FakeAsi:
    """The fake, reset to two cameras with CameraIDs 3 and 7 at indices 0 and 1."""
    fake = cfake.FakeAsi(cfake_path, cfake_sdk)
    fake.configure()
    return fake

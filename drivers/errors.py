"""Typed camera errors: one root, a few meaningful kinds.

Every message is one line a user at the scope can act on.
"""

from __future__ import annotations


class CameraError(Exception):
    """Root of every error a camera driver raises."""


class CameraDisconnectedError(CameraError):
    """The camera went away (unplugged, powered off, USB reset)."""


class ExposureFailedError(CameraError):
    """The camera reported a failed exposure, even after retries."""


class ExposureTimeoutError(CameraError):
    """An exposure did not finish within its exposure time plus readout margin."""


class ExposureAbortedError(CameraError):
    """The exposure was aborted on request (cancel); not a fault."""


class FrameError(CameraError):
    """The camera delivered a short or corrupt frame."""


class LibraryLoadError(CameraError):
    """The vendor SDK (e.g. libASICamera2) could not be found or loaded."""


class UnsupportedError(CameraError):
    """The camera does not support the requested setting (binning, cooler...)."""


class InvalidValueError(CameraError, ValueError):
    """A setting is outside what the camera accepts."""

"""Typed device errors: one root, one branch per device kind, a few meaningful kinds.

Every message is one line a user at the scope can act on.
"""

from __future__ import annotations


class DeviceError(Exception):
    """Root of every error a device driver raises (camera, light panel, filter wheel)."""


class DeviceDisconnectedError(DeviceError):
    """A device went away (unplugged, powered off, USB or serial port gone)."""


class DeviceTimeoutError(DeviceError):
    """A device did not answer, or did not reach a state, in time."""


class CameraError(DeviceError):
    """Root of every error a camera driver raises."""


class CameraDisconnectedError(CameraError, DeviceDisconnectedError):
    """The camera went away (unplugged, powered off, USB reset)."""


class ExposureFailedError(CameraError):
    """The camera reported a failed exposure, even after retries."""


class ExposureTimeoutError(CameraError, DeviceTimeoutError):
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


class PanelError(DeviceError):
    """Root of every error a light panel (or flip-flat cover) driver raises."""


class PanelDisconnectedError(PanelError, DeviceDisconnectedError):
    """The panel's port went away or the panel stopped answering for good."""


class PanelTimeoutError(PanelError, DeviceTimeoutError):
    """The panel did not answer in time, or its cover did not reach its end state."""


class PanelProtocolError(PanelError):
    """The panel answered something that is not its protocol (garbled, wrong device)."""


class FilterWheelError(DeviceError):
    """Root of every error a filter wheel driver raises."""


class FilterWheelDisconnectedError(FilterWheelError, DeviceDisconnectedError):
    """The filter wheel went away."""


class FilterWheelTimeoutError(FilterWheelError, DeviceTimeoutError):
    """The filter wheel did not arrive at the requested slot in time."""

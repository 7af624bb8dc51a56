"""A simulated DSLR (``--camera sim-dslr``): the simulator's physics behind a DSLR's
controls, so the whole DSLR path runs without a camera.

- Exposure is one of the 1/3-stop speeds from 1/4000 s to 30 s (never bulb); the
  camera reports the nominal speed it used.
- Gain is ISO (100-25600 in 1/3 stops): e-/ADU = e-/ADU at ISO 100 x 100 / ISO.
  There is no offset: the raw black level is fixed (``bias_adu``).
- The raw mosaic has a black level and a white level below 2^bits - 1 (white
  clipping as LibRaw reports it), values MSB-aligned in the frame like every other
  camera here.
- Download is slow (``readout_s_per_mp``: seconds per megapixel).
- Each frame also comes as the camera's own file: a 16-bit PGM of the native raw
  values stands in for a CR2/NEF.

It is a :class:`~drivers.simulator.SimulatedCamera`, so the simulated rig
(``[panel]``, ``[wheel]``) lights it through :func:`drivers.devices.open_devices`.
The sim config's camera keys apply (size, flux, seed, time_scale, faults...).
"""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path

import numpy as np

from drivers.base import CameraControls, CameraInfo, ControlRange, Frame
from drivers.clock import Clock
from drivers.errors import InvalidValueError
from drivers.shutter import THIRD_STOP_ISOS, THIRD_STOP_SPEEDS, parse_speed
from drivers.sim_config import SIM_CONFIG_ENV, SimConfig, sim_config_from_mapping
from drivers.sim_physics import Readout
from drivers.simulator import SimLight, SimulatedCamera, _Exposure, _RenderJob
from drivers.tomlload import load_toml

PRESET_ID = "sim-dslr"
#: raw levels of the simulated body (14-bit, like many Canon bodies)
WHITE_LEVEL = 15000
BLACK_LEVEL = 2048
ISO_BASE = 100
DEFAULT_ISO = 400

DSLR_PRESET = SimConfig(
    model="Simulated DSLR",
    width=6024,
    height=4016,
    bit_depth=14,
    bayer="RGGB",
    pixel_size_um=3.92,
    flux_e_s=2_000.0,
    channel_ratio=(0.55, 1.0, 0.7),
    e_per_adu=4.0,  # at ISO 100
    bias_adu=float(BLACK_LEVEL),
    read_noise_e=4.0,
    dark_current_e_s=0.05,
    full_well_e=60_000.0,
    prnu=0.005,
    vignetting=0.35,
    min_exposure_s=1 / 4000,
    max_exposure_s=30.0,
    gain_max=max(THIRD_STOP_ISOS),
    gain_default=DEFAULT_ISO,
    offset_max=0,
    offset_default=0,
    readout_s_per_mp=0.08,  # about 2 s for 24 MP: raw download over USB
    supported_bins=(1,),
    has_cooler=False,
)


def load_dslr_config(path: str | os.PathLike[str] | None = None, *,
                     use_env: bool = True) -> SimConfig:
    """The DSLR preset, then $AUTOFLATS_SIM_CONFIG, then ``path`` (camera keys only)."""
    config = DSLR_PRESET
    env_path = os.environ.get(SIM_CONFIG_ENV) if use_env else None
    for source in (env_path, path):
        if source:
            config = sim_config_from_mapping(load_toml(Path(source), "sim config"), config)
    return config


class SimulatedDslr(SimulatedCamera):
    """A DSLR made of arithmetic: discrete speeds, ISO, black and white levels."""

    #: as a real DSLR (drivers.gphoto): no exposure is started ahead
    starts_ahead = False

    def __init__(self, config: SimConfig | None = None, *, name: str = "Simulated DSLR",
                 clock: Clock | None = None, light: SimLight | None = None,
                 white_level: int = WHITE_LEVEL) -> None:
        base = config if config is not None else DSLR_PRESET
        self._e_per_adu_base = base.e_per_adu
        super().__init__(base, name=name, clock=clock, light=light)
        black = base.bias_native(0)
        top = (1 << base.bit_depth) - 1
        white = min(white_level, top - 1)
        if not black < white:
            raise InvalidValueError(f"white level {white} must lie above black {black:g}")
        self._white = white
        self._info = replace(self._info, driver="sim-dslr", e_per_adu=None, gain_kind="iso",
                             has_offset=False, black_level=black, white_level=float(white))
        speeds = tuple(s for s in (parse_speed(t) for t in THIRD_STOP_SPEEDS)
                       if s is not None and base.min_exposure_s <= s <= base.max_exposure_s)
        self._speeds = speeds or (base.min_exposure_s,)
        isos = tuple(i for i in THIRD_STOP_ISOS if i <= base.gain_max) or (ISO_BASE,)
        self._isos = isos
        default_iso = min(isos, key=lambda i: abs(i - base.gain_default))
        self._controls = CameraControls(
            exposure_s=ControlRange(self._speeds[0], self._speeds[-1],
                                    min(self._speeds, key=lambda s: abs(s - 0.1))),
            gain=ControlRange(isos[0], isos[-1], default_iso),
            offset=ControlRange(0, 0, 0),
        )
        self._raw: tuple[bytes, str] | None = None
        self._use_iso(default_iso)

    @property
    def info(self) -> CameraInfo:
        """Fixed properties (ISO as gain, no offset, raw black and white levels)."""
        return self._info

    @property
    def iso_choices(self) -> tuple[int, ...]:
        """The ISO values the body offers."""
        return self._isos

    def exposure_choices_s(self) -> tuple[float, ...] | None:
        """The shutter speeds (s), ascending; bulb is never offered."""
        return self._speeds

    def reported_e_per_adu(self) -> float | None:
        """DSLRs do not report e-/ADU."""
        return None

    def last_raw_file(self) -> tuple[bytes, str] | None:
        """The last frame as the camera's own file (a 16-bit PGM stands in for a CR2)."""
        return self._raw

    def true_e_per_adu(self) -> float:
        """Hidden truth for tests: e-/ADU at the current ISO."""
        return self.config.e_per_adu

    def _use_iso(self, iso: int) -> None:
        self.config = replace(self.config, e_per_adu=self._e_per_adu_base * ISO_BASE / iso)

    def _do_open(self) -> None:
        super()._do_open()
        self._use_iso(int(self._controls.gain.default))

    def _do_set_gain(self, gain: int) -> None:
        self._check_connected()
        if gain not in self._isos:
            raise InvalidValueError(
                f"ISO {gain} is not offered by {self._info.name}; use one of "
                f"{', '.join(map(str, self._isos))}")
        self._use_iso(gain)

    def true_mean_native(self, exposure_s: float, flux_e_s: float | None = None) -> float:
        """Hidden truth: the noise-free mean at ``exposure_s`` (ISO in the config)."""
        saved = self._gain
        self._gain = 0  # the config already holds this ISO's e-/ADU
        try:
            return super().true_mean_native(exposure_s, flux_e_s)
        finally:
            self._gain = saved

    def _start_render(self, exposure: _Exposure, base_flux: float) -> _RenderJob:
        """As the simulator's, with the ISO's e-/ADU in the config (gain 0 in the law)."""
        light = self._light_for(exposure, base_flux)
        shape = self.frame_shape
        buffer, self._spare = self._spare, None
        if buffer is None or buffer.shape != shape:
            buffer = np.empty(shape, dtype=np.uint16)
        readout = Readout(gain=0, offset=0, binning=self.binning)
        job = _RenderJob(exposure, buffer, lambda: self._render(job, light, readout))
        job.start()
        return job

    def _do_read_frame(self, out: Frame | None) -> Frame:
        frame = super()._do_read_frame(out)
        shift = 16 - self.config.bit_depth
        np.minimum(frame, np.uint16(self._white << shift), out=frame)
        native = frame >> np.uint16(shift)
        height, width = native.shape
        header = f"P5\n{width} {height}\n65535\n".encode("ascii")
        self._raw = (header + native.astype(">u2").tobytes(), ".pgm")
        return frame


__all__ = ["DSLR_PRESET", "PRESET_ID", "SimulatedDslr", "load_dslr_config"]

"""A physics-grade simulated camera that behaves like a ZWO ASI camera.

The physics (:mod:`drivers.sim_physics`): photo-electrons = flux x vignetting x PRNU
x dust x the CFA channel's response over the integration time; shot and read noise,
dark current, full-well clipping, e-/ADU(gain) = e-/ADU(0) / 10^(gain/200), the
sensor's response curve, bias, ADC clipping, quantisation, MSB alignment. The
settings and their TOML keys live in :mod:`drivers.sim_config`.

Response curve (``nonlinearity`` n, ``linear_limit`` L): with F the native ADC full
scale and x = (linear signal above bias) / F, the camera records F * y(x) where
k = min(L, (1 - n)^2), y(x) = x for x <= k and y(x) = k + c ln(1 + (x - k) / c) above
it, c chosen so that y(1) = 1 - n. Strictly increasing, continuous slope, linear
below the knee, exactly n short at full scale, still rising above it.

Exposures: the camera rounds a request to its exposure grid (``exposure_step_s``)
and reports that applied time; the light integrates over the applied time plus a
hidden ``exposure_offset_s``. The light a frame sees (flux, or a :class:`SimLight`,
drift at mid-exposure, per-frame ``flux_jitter``, PWM flicker) is known when the
exposure starts, so the frame renders on a worker thread during the simulated
exposure, as a real camera's frame arrives during readout; ``read_frame`` only
waits for it and copies it out. At most one render is in flight per camera.

Noise comes from ``seed`` (fresh from OS entropy when absent); the fixed pattern
from ``pattern_seed``, the same simulated sensor in every run, cached per binning.
Simulated time runs on an injectable clock. The simulator knows its true flux and
bias; the exposure solver never asks for them.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from drivers import sim_physics
from drivers.base import (
    Camera,
    CameraControls,
    CameraInfo,
    ControlRange,
    ExposureStatus,
    Frame,
    binned_shape,
)
from drivers.clock import Clock, SimulatedClock
from drivers.errors import CameraDisconnectedError, CameraError, FrameError
from drivers.sim_config import (
    COLOR_PRESET,
    PRESETS,
    SIM_CONFIG_ENV,
    SimConfig,
    SimConfigError,
    SimFaults,
    load_sim_config,
    sim_config_from_mapping,
)
from drivers.sim_physics import (
    POISSON_BELOW_E,
    Float64Array,
    FloatArray,
    Light,
    Readout,
    Response,
)

__all__ = [
    "COLOR_PRESET",
    "POISSON_BELOW_E",
    "PRESETS",
    "SIM_CONFIG_ENV",
    "SimConfig",
    "SimConfigError",
    "SimFaults",
    "SimLight",
    "SimulatedCamera",
    "load_sim_config",
    "sim_config_from_mapping",
]

#: a frame renders in bands of about this many pixels (small float scratch, quick abort)
BAND_PIXELS = 1 << 20


class SimLight(Protocol):
    """A light source for the simulated rig (a panel behind a filter, the sky)."""

    def flux_e_s(self) -> float:
        """Photo-electrons/s per pixel at the field centre (mono or green pixel), now.

        A light whose flux changes during a frame (the twilight sky) may also offer
        ``mean_flux_e_s(start_s, duration_s)``: its mean over the integration window
        (camera clock seconds); the camera then uses that instead. A coloured light
        (a tinted screen) may offer ``channel_flux_factors()``: (r, g, b) multipliers a
        colour camera applies on top of its ``channel_ratio`` (mono cameras ignore it).
        """


class SimulatedCamera(Camera):
    """A camera made of arithmetic, with the ZWO SDK's behaviour and timing."""

    #: the frame is ready at the end of the simulated readout: poll fast then
    poll_interval_s = 0.005

    def __init__(
        self,
        config: SimConfig | None = None,
        *,
        name: str = "Simulator",
        clock: Clock | None = None,
        light: SimLight | None = None,
    ) -> None:
        self.config = config if config is not None else SimConfig()
        super().__init__(clock if clock is not None else SimulatedClock(self.config.time_scale))
        cfg = self.config
        self._info = CameraInfo(
            name=name,
            model=cfg.model,
            driver="sim",
            width=cfg.width,
            height=cfg.height,
            bit_depth=cfg.bit_depth,
            bayer_pattern=cfg.bayer,
            pixel_size_um=cfg.pixel_size_um,
            e_per_adu=cfg.e_per_adu * cfg.reported_e_per_adu_factor,
            supported_bins=tuple(sorted(set(cfg.supported_bins))),
            has_cooler=cfg.has_cooler,
        )
        self._controls = CameraControls(
            exposure_s=ControlRange(cfg.min_exposure_s, cfg.max_exposure_s,
                                    min(max(0.1, cfg.min_exposure_s), cfg.max_exposure_s)),
            gain=ControlRange(0, cfg.gain_max, cfg.gain_default),
            offset=ControlRange(0, cfg.offset_max, cfg.offset_default),
        )
        self._response = Response.for_config(cfg.nonlinearity, cfg.linear_limit)
        self._patterns: dict[int, tuple[FloatArray, Float64Array]] = {}
        self._pattern_lock = threading.Lock()
        self._rng = np.random.default_rng(cfg.seed)
        self._light = light
        self._frames_started = 0
        self._exposure: _Exposure | None = None
        self._job: _RenderJob | None = None
        self._spare: Frame | None = None
        #: wall seconds reads spent waiting for renders still running after the
        #: simulated readout (the host CPU being slower than a real camera's readout)
        self.render_wait_s = 0.0
        self._disconnected = False
        self._cooler_on = False
        self._set_point_c: float | None = None
        self._opened_at_s = 0.0

    # -- description -------------------------------------------------------------
    @property
    def info(self) -> CameraInfo:
        """Fixed properties, from the configuration (e-/ADU as the camera reports it)."""
        return self._info

    @property
    def controls(self) -> CameraControls:
        """Exposure, gain and offset ranges."""
        return self._controls

    @property
    def readout_s(self) -> float:
        """Readout time grows with the number of pixels read."""
        height, width = self.frame_shape
        return self.config.readout_s_per_mp * height * width / 1e6

    @property
    def frames_started(self) -> int:
        """How many exposures have been started (the fault table's frame count)."""
        return self._frames_started

    @property
    def is_exposing(self) -> bool:
        """Whether an exposure is running (for tests: the camera is left idle)."""
        exposure = self._exposure
        return exposure is not None and not exposure.finished

    @property
    def response(self) -> Response:
        """The sensor's response curve y(x) (x, y: shares of ADC full scale)."""
        return self._response

    # -- the simulated rig -------------------------------------------------------
    def set_light(self, light: SimLight | None) -> None:
        """Take the light from ``light`` from the next exposure on (None: ``flux_e_s``)."""
        with self._lock:
            self._light = light

    # -- truth, for tests and benchmarks only ------------------------------------
    def true_mean_native(self, exposure_s: float, flux_e_s: float | None = None) -> float:
        """The noise-free whole-frame mean (native ADU) at an applied ``exposure_s``.

        Linear and unclipped, without drift, jitter or flicker; the hidden exposure
        offset is included. ``flux_e_s``: at this (mean) flux instead of the light's
        now. Hidden truth: tests use it to judge the solver; the solver never calls it.
        """
        _, row_means = self._pattern(self.binning)
        integration_s = exposure_s + self.config.exposure_offset_s
        flux = self._base_flux_e_s() if flux_e_s is None else flux_e_s
        rate = flux * self.binning**2
        electrons = float(row_means.mean()) * rate * integration_s
        electrons += self.config.dark_current_e_s * self.binning**2 * integration_s
        return self.config.bias_native(self.offset) + electrons / self.config.e_per_adu_at(
            self.gain
        )

    # -- hooks -------------------------------------------------------------------
    def _do_open(self) -> None:
        self._check_connected()
        self._opened_at_s = self.clock.monotonic()

    def _do_close(self) -> None:
        self._exposure = None
        self._retire_job()
        self._spare = None

    def _do_set_gain(self, gain: int) -> None:
        self._check_connected()

    def _do_set_offset(self, offset: int) -> None:
        self._check_connected()

    def _do_set_binning(self, binning: int) -> None:
        self._check_connected()

    def _check_connected(self) -> None:
        if self._disconnected:
            raise CameraDisconnectedError(
                f"{self._info.name} was disconnected; check the USB cable and power"
            )

    def _do_start_exposure(self, exposure_s: float) -> float:
        self._check_connected()
        self._retire_job()
        base_flux = self._base_flux_e_s()
        self._frames_started += 1
        number = self._frames_started
        faults = self.config.faults
        if faults.disconnect_at_frame is not None and number >= faults.disconnect_at_frame:
            self._disconnected = True
            self._check_connected()
        applied_s = sim_physics.exposure_on_grid(self.config, exposure_s)
        now = self.clock.monotonic()
        mean_flux = getattr(self._light, "mean_flux_e_s", None)
        if mean_flux is not None:  # a light that changes during the frame: its mean
            base_flux = self._checked_flux(
                mean_flux(now, applied_s + self.config.exposure_offset_s))
        factors = getattr(self._light, "channel_flux_factors", None)
        exposure = _Exposure(
            number=number,
            exposure_s=applied_s,
            started_s=now,
            ends_s=now + applied_s + self.readout_s,
            hangs=number in faults.hang_at_frames,
            fails=number in faults.fail_at_frames,
            short_buffer=number in faults.short_buffer_at_frames,
            channel_factors=_checked_factors(factors()) if factors is not None else None,
        )
        self._exposure = exposure
        if not (exposure.hangs or exposure.fails or exposure.short_buffer):
            self._job = self._start_render(exposure, base_flux)
        return applied_s

    def _do_exposure_status(self) -> ExposureStatus:
        self._check_connected()
        exposure = self._exposure
        if exposure is None:
            return ExposureStatus.IDLE
        if exposure.hangs or self.clock.monotonic() < exposure.ends_s:
            return ExposureStatus.WORKING
        return ExposureStatus.FAILED if exposure.fails else ExposureStatus.SUCCESS

    def _do_read_frame(self, out: Frame | None) -> Frame:
        self._check_connected()
        exposure = self._exposure
        if exposure is None or self._do_exposure_status() is not ExposureStatus.SUCCESS:
            raise CameraError("no finished exposure to read; start an exposure first")
        exposure.finished = True
        if exposure.short_buffer:
            height, width = self.frame_shape
            raise FrameError(
                f"{self._info.name} returned {height * width} of "
                f"{2 * height * width} bytes; frame rejected"
            )
        job = self._job
        if job is None or job.exposure is not exposure:  # read again: render again
            self._retire_job()
            job = self._start_render(exposure, self._base_flux_e_s())
        self._job = None
        waited = time.perf_counter()
        try:
            job.join()
            if job.error is not None:
                self._spare = job.buffer
                raise job.error
            if out is None:
                return job.buffer  # the caller owns it; the next render takes a new one
            np.copyto(out, job.buffer)  # the simulated USB transfer
            self._spare = job.buffer
            return out
        finally:
            # A real camera's frame is in the caller's buffer at the end of its
            # readout; a render still running then, and the copy, are the simulator's
            # own (host CPU) cost, kept apart.
            self.render_wait_s += time.perf_counter() - waited

    def _do_abort_exposure(self) -> None:
        if self._exposure is not None:
            self._exposure.finished = True
        self._exposure = None
        if self._job is not None:
            self._job.cancel.set()  # the next start or close joins it

    def _do_temperature_c(self) -> float | None:
        self._check_connected()
        if self._cooler_on and self._set_point_c is not None:
            return self._set_point_c
        return self.config.ambient_c

    def set_cooler(self, enabled: bool, set_point_c: float | None = None) -> None:
        """Switch the simulated cooler (it reaches its set-point at once)."""
        if not self.config.has_cooler:
            super().set_cooler(enabled, set_point_c)
        with self._lock:
            self._cooler_on = enabled
            if set_point_c is not None:
                self._set_point_c = float(set_point_c)

    def cooler_state(self) -> tuple[bool, float | None]:
        """(cooler on, set-point)."""
        return (self._cooler_on, self._set_point_c)

    # -- physics -----------------------------------------------------------------
    def _base_flux_e_s(self) -> float:
        """The light at the field centre now (e-/s per unbinned mono/green pixel)."""
        if self._light is None:
            return self.config.flux_e_s
        return self._checked_flux(self._light.flux_e_s())

    @staticmethod
    def _checked_flux(value: float) -> float:
        flux = float(value)
        if not (math.isfinite(flux) and flux >= 0):
            raise CameraError(
                f"the simulated light gave {flux!r} e-/s; it must be a finite number >= 0"
            )
        return flux

    def _light_for(self, exposure: _Exposure, base_flux: float) -> Light:
        """The light one frame integrates, fixed at its start (draws the jitter)."""
        cfg = self.config
        integration_s = exposure.exposure_s + cfg.exposure_offset_s
        drift = cfg.faults.flux_drift_per_s
        if drift:  # the exponential's exact mean over the integration window
            start_s = exposure.started_s - self._opened_at_s
            u = drift * integration_s
            base_flux *= math.exp(drift * start_s) * (math.expm1(u) / u if u else 1.0)
        if cfg.flux_jitter:
            base_flux *= max(float(self._rng.normal(1.0, cfg.flux_jitter)), 1e-6)
        flicker = sim_physics.flicker_rows(cfg.faults, exposure.started_s, integration_s,
                                           self.readout_s, self.frame_shape[0])
        return Light(rate_e_s=base_flux * self.binning**2, integration_s=integration_s,
                     flicker=flicker, channel_factors=exposure.channel_factors)

    def _pattern(self, binning: int) -> tuple[FloatArray, Float64Array]:
        """Relative response per pixel (1 = centre of a green/mono pixel) and its
        row means, cached per binning; safe to call from the render thread."""
        with self._pattern_lock:
            cached = self._patterns.get(binning)
            if cached is None:
                height, width = binned_shape(self._info, binning)
                pattern = sim_physics.fixed_pattern(self.config, height, width)
                cached = (pattern, pattern.mean(axis=1, dtype=np.float64))
                self._patterns[binning] = cached
            return cached

    def _start_render(self, exposure: _Exposure, base_flux: float) -> _RenderJob:
        """Start rendering ``exposure``'s frame on a worker thread."""
        light = self._light_for(exposure, base_flux)
        shape = self.frame_shape
        buffer, self._spare = self._spare, None
        if buffer is None or buffer.shape != shape:
            buffer = np.empty(shape, dtype=np.uint16)
        readout = Readout(gain=self.gain, offset=self.offset, binning=self.binning)
        job = _RenderJob(exposure, buffer, lambda: self._render(job, light, readout))
        job.start()
        return job

    def _render(self, job: _RenderJob, light: Light, readout: Readout) -> None:
        """The worker: render ``job``'s frame band by band until done or cancelled."""
        cfg = self.config
        pattern, row_means = self._pattern(readout.binning)
        poisson = sim_physics.mean_electrons(cfg, row_means, light,
                                             readout.binning) < POISSON_BELOW_E
        height, width = pattern.shape
        rows_per_band = max(1, BAND_PIXELS // width)
        for top in range(0, height, rows_per_band):
            if job.cancel.is_set():
                return
            sim_physics.render_band(cfg, self._response, pattern, light, readout,
                                    slice(top, min(top + rows_per_band, height)),
                                    poisson, self._rng, job.buffer)

    def _retire_job(self) -> None:
        """Cancel and join an unread render, keeping its buffer for the next one."""
        job, self._job = self._job, None
        if job is not None:
            job.cancel.set()
            job.join()
            self._spare = job.buffer


@dataclass(slots=True)
class _Exposure:
    number: int
    exposure_s: float
    started_s: float
    ends_s: float
    hangs: bool
    fails: bool
    short_buffer: bool
    finished: bool = False
    #: a coloured light's (r, g, b) factors, fixed at the start (None: white)
    channel_factors: tuple[float, float, float] | None = None


def _checked_factors(values: tuple[float, float, float]) -> tuple[float, float, float]:
    r, g, b = (float(v) for v in values)
    if not all(math.isfinite(v) and v >= 0 for v in (r, g, b)):
        raise CameraError(f"the simulated light gave channel factors {values!r}; they "
                          "must be finite numbers >= 0")
    return (r, g, b)


class _RenderJob:
    """One frame rendering on a worker thread into ``buffer``."""

    def __init__(self, exposure: _Exposure, buffer: Frame, work: Callable[[], None]) -> None:
        self.exposure = exposure
        self.buffer = buffer
        self.cancel = threading.Event()
        self.error: BaseException | None = None
        self._work = work
        self._thread = threading.Thread(target=self._run, daemon=True,
                                        name=f"sim-render-{exposure.number}")

    def start(self) -> None:
        """Begin rendering."""
        self._thread.start()

    def join(self) -> None:
        """Wait until the render has finished, failed or given up after a cancel."""
        self._thread.join()

    def _run(self) -> None:
        try:
            self._work()
        except BaseException as error:  # handed to the reader
            self.error = error

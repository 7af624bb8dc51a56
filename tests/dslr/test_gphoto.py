"""The gphoto2 DSLR driver over the fake libgphoto2, the raw decoder, the speed list
and the choice from a discrete list."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from app.cli import doctor
from app.solver import LinearFit, choose_from_list
from drivers.errors import FrameError, InvalidValueError
from drivers.gphoto import GphotoCamera, list_gphoto_cameras, open_gphoto_camera
from drivers.raw_decode import _decode_pgm, _mosaic_from_rawpy
from drivers.shutter import THIRD_STOP_SPEEDS, parse_speed, speed_table
from tests.dslr.fake_gphoto import BLACK, WHITE, FakeGphotoBackend, decode_fake_raw


def _camera(backend: FakeGphotoBackend) -> GphotoCamera:
    return GphotoCamera(backend.port, backend=backend, decoder=decode_fake_raw,
                        clock=backend.clock)


def test_open_sets_raw_only_ram_and_a_fixed_iso_and_reads_the_raw_levels() -> None:
    backend = FakeGphotoBackend()
    with _camera(backend) as cam:
        session = backend.sessions[0]
        assert session.config["imageformat"][1] == "RAW"
        assert session.config["capturetarget"][1] == "Internal RAM"
        assert session.config["iso"][1] == "400" and cam.gain == 400
        info = cam.info
        assert (info.black_level, info.white_level, info.bit_depth) == (BLACK, WHITE, 14)
        assert info.bayer_pattern == "RGGB" and info.gain_kind == "iso"
        # the probe's download (2 s in the fake); instant time runs on while the fake's
        # capture thread waits for a core, so a loaded host measures a little more
        assert not info.has_offset and 1.9 <= cam.readout_s <= 2.6


def test_speeds_are_the_fixed_list_and_bulb_is_never_used() -> None:
    backend = FakeGphotoBackend()
    with _camera(backend) as cam:
        speeds = cam.exposure_choices_s()
        assert speeds is not None and speeds == tuple(sorted(speeds))
        assert len(speeds) == len(THIRD_STOP_SPEEDS) and max(speeds) == 30
        assert cam.capture(0.65).exposure_s == pytest.approx(0.6)  # nearest in ratio
        assert backend.sessions[0].config["shutterspeed"][1] == "0.6"
        assert cam.capture(100.0).exposure_s == 30  # clamped, never bulb


def test_the_raw_file_is_kept_as_the_camera_wrote_it() -> None:
    backend = FakeGphotoBackend()
    with _camera(backend) as cam:
        frame = cam.capture(0.1).frame
        raw = cam.last_raw_file()
        assert raw is not None and raw[1] == ".CR2"
        mosaic = decode_fake_raw(*raw)
        assert np.array_equal(frame >> 2, mosaic.values[:frame.shape[0], :frame.shape[1]])


def test_iso_must_be_one_the_body_offers() -> None:
    backend = FakeGphotoBackend()
    with _camera(backend) as cam:
        cam.set_gain(1600)
        assert backend.sessions[0].config["iso"][1] == "1600"
        with pytest.raises(InvalidValueError):
            cam.set_gain(1700)


def test_listing_and_opening_by_port() -> None:
    backend = FakeGphotoBackend()
    entries, note = list_gphoto_cameras(backend)
    assert note is None and [e.camera_id for e in entries] == ["gphoto:usb:001,004"]
    camera = open_gphoto_camera("gphoto:usb:001,004", backend=backend)
    assert camera is not None and camera.port == "usb:001,004"
    assert open_gphoto_camera("qhy:0", backend=backend) is None


def test_speed_texts() -> None:
    assert parse_speed("1/4000") == pytest.approx(0.00025)
    assert parse_speed("0.3") == 0.3 and parse_speed('30"') == 30 and parse_speed("2.5s") == 2.5
    assert parse_speed("bulb") is None and parse_speed("Time") is None
    assert list(speed_table(["bulb", "1/2", "1", "1/2"])) == [0.5, 1.0]


def test_pgm_and_libraw_mosaics() -> None:
    values = np.arange(12, dtype=np.uint16).reshape(3, 4) * 1000
    pgm = b"P5\n4 3\n65535\n" + values.astype(">u2").tobytes()
    assert np.array_equal(_decode_pgm(pgm).values, values)
    with pytest.raises(FrameError):
        _decode_pgm(pgm[:-5])
    raw = SimpleNamespace(
        raw_image_visible=values, num_colors=3, color_desc=b"RGBG",
        raw_colors_visible=np.array([[1, 0], [2, 3]]), black_level_per_channel=[510, 512, 514, 512],
        white_level=16383, camera_white_level_per_channel=[15520, 15520, 15520, 15520])
    mosaic = _mosaic_from_rawpy(raw)
    assert mosaic.bayer_pattern == "GRBG" and mosaic.black_level == 512
    assert mosaic.white_level == 15520 and mosaic.bit_depth == 14


def test_the_model_chooses_the_listed_speed_nearest_the_target() -> None:
    fit = LinearFit(bias_native=2048, rate_native_per_s=1000, fitted=True)
    speeds = (4.0, 5.0, 6.0, 8.0)
    choice = choose_from_list(fit, speeds, target_native=8000, tolerance_native=200,
                              ceiling_native=13000)
    assert choice is not None and choice.exposure_s == 6.0 and choice.within
    choice = choose_from_list(fit, speeds, 6548, 200, 13000)  # 4.5 s: between 4 and 5
    assert choice is not None and not choice.within
    assert choice.exposure_s in (4.0, 5.0)
    # never past the linear ceiling while another speed stays under it
    choice = choose_from_list(fit, speeds, 12000, 200, 9000)
    assert choice is not None and choice.exposure_s == 6.0


def test_doctor_on_windows_says_dslrs_are_not_covered() -> None:
    check = doctor.check_gphoto2("win32")
    assert check.status is doctor.Status.WARN and "Windows" in check.detail

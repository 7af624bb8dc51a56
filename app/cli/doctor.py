"""``autoflats doctor``: check what breaks real-camera setups and say how to fix each.

Checks, each pass / warn / fail with a fix: the ZWO SDK (path, version), libusb,
udev rules (Linux), ``usbfs_memory_mb`` against the sensor (Linux), the cameras
visible with their properties (each opened and closed once), and the output folder
(writable, with free space for the planned flats). Then a filter wheel section: the
EFW SDK (libEFWFilter: path, version) and the ZWO wheels visible with their slot
counts. A missing EFW SDK or wheel only warns (many setups have no wheel); an EFW
SDK that was asked for (``ZWO_EFW_LIB``) but cannot load fails. Last, other cameras:
the QHY SDK (libqhyccd: path, version, cameras) and DSLR support (python-gphoto2 with
libgphoto2's version, rawpy, cameras; Windows not covered); missing ones only warn.
Exit code 1 on any fail.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import math
import os
import shutil
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from enum import Enum
from pathlib import Path

from drivers import efw_sdk, qhy_sdk, zwo_sdk
from drivers.base import binned_shape
from drivers.efw_sdk import EfwStatus
from drivers.errors import CameraError, FilterWheelError
from drivers.qhy_sdk import QhyError
from drivers.zwo_sdk import SdkStatus

#: ZWO's recommendation for usbfs_memory_mb (the kernel default is 16)
USBFS_RECOMMENDED_MB = 200
USBFS_FILE = Path("/sys/module/usbcore/parameters/usbfs_memory_mb")
UDEV_DIRS = (Path("/etc/udev/rules.d"), Path("/lib/udev/rules.d"),
             Path("/usr/lib/udev/rules.d"), Path("/run/udev/rules.d"))
ZWO_USB_VENDOR = "03c3"
RULES_NAME = "99-zwo-asi.rules"
RULES_FILE = Path(__file__).resolve().parents[1] / "resources" / "udev" / RULES_NAME
#: frame assumed for the disk check when no camera is connected (a 26 MP sensor)
DEFAULT_SENSOR = (6248, 4176)
FITS_BLOCK = 2880


class Status(Enum):
    """Outcome of one check."""

    PASS = "pass"
    WARN = "warn"
    FAIL = "fail"


@dataclass(frozen=True, slots=True)
class Check:
    """One line of the report."""

    name: str
    status: Status
    detail: str
    fix: str | None = None


@dataclass(frozen=True, slots=True)
class CameraSeen:
    """A connected camera as the doctor saw it."""

    camera_id: str
    name: str
    width: int
    height: int

    @property
    def frame_bytes(self) -> int:
        """RAW16 bytes of a full-sensor frame."""
        return 2 * self.width * self.height


@dataclass(frozen=True)
class DoctorEnv:
    """Where the doctor looks; tests point these at temporary files."""

    platform: str = sys.platform
    usbfs_file: Path = USBFS_FILE
    udev_dirs: tuple[Path, ...] = UDEV_DIRS
    rules_file: Path = RULES_FILE


# -- the checks ---------------------------------------------------------------------------

def check_sdk(status: SdkStatus) -> Check:
    """The SDK library is found and loads; its version."""
    if status.sdk is None:
        return Check("ZWO SDK", Status.FAIL, status.error or "ZWO SDK not found",
                     f"pip install 'autoflats[zwo-sdk]' (or pip install --no-deps pyzwoasi), "
                     f"or set {zwo_sdk.ENV_VAR}=/path/to/libASICamera2")
    source = {"pyzwoasi": "from the pyzwoasi wheel", "system": "system library",
              zwo_sdk.ENV_VAR: f"from ${zwo_sdk.ENV_VAR}"}.get(status.source or "",
                                                              status.source or "")
    return Check("ZWO SDK", Status.PASS,
                 f"libASICamera2 {status.version or '(version unknown)'} at {status.path}"
                 f" ({source})")


def check_libusb(env: DoctorEnv) -> Check:
    """libusb-1.0, which the SDK needs on Linux and macOS."""
    if env.platform == "win32":
        return Check("libusb", Status.PASS, "not needed on Windows (ZWO's USB driver is used)")
    path = zwo_sdk.libusb_path()
    if path:
        return Check("libusb", Status.PASS, f"libusb-1.0 found ({path})")
    fix = ("brew install libusb" if env.platform == "darwin"
           else "sudo apt install libusb-1.0-0 (Debian/Ubuntu/Raspberry Pi OS); "
                "sudo dnf install libusb1 (Fedora)")
    return Check("libusb", Status.FAIL, "libusb-1.0 not found; the ZWO SDK cannot load", fix)


def udev_install_command(env: DoctorEnv) -> str:
    """The shell command that installs the rules file."""
    reload = "sudo udevadm control --reload-rules && sudo udevadm trigger"
    if env.rules_file.is_file():
        return (f"sudo install -m 0644 {env.rules_file} /etc/udev/rules.d/{RULES_NAME} && "
                f"{reload}; then unplug and replug the camera")
    rule = f'SUBSYSTEMS=="usb", ATTR{{idVendor}}=="{ZWO_USB_VENDOR}", MODE="0666"'
    return (f"echo '{rule}' | sudo tee /etc/udev/rules.d/{RULES_NAME} && {reload}; then "
            "unplug and replug the camera")


def check_udev(env: DoctorEnv) -> Check:
    """A udev rule gives users access to ZWO cameras (USB vendor 03c3), Linux only."""
    if env.platform != "linux":
        return Check("udev rules", Status.PASS, "not needed on this system")
    for directory in env.udev_dirs:
        try:
            files = sorted(directory.glob("*.rules"))
        except OSError:
            continue
        for path in files:
            try:
                text = path.read_text(encoding="utf-8", errors="replace").lower()
            except OSError:
                continue
            if ZWO_USB_VENDOR in text:
                return Check("udev rules", Status.PASS, f"ZWO rule found in {path}")
    return Check("udev rules", Status.WARN,
                 f"no udev rule for ZWO cameras (USB vendor {ZWO_USB_VENDOR}); only root "
                 "can open them", udev_install_command(env))


def check_usbfs(env: DoctorEnv, cameras: Sequence[CameraSeen]) -> Check:
    """usbfs_memory_mb large enough for the largest connected sensor, Linux only."""
    if env.platform != "linux":
        return Check("USB memory", Status.PASS, "usbfs_memory_mb is a Linux setting; not needed")
    fix = (f"sudo sh -c 'echo {USBFS_RECOMMENDED_MB} > {env.usbfs_file}' (until reboot); "
           "to make it stick, install the udev rules (see 'udev rules'): they raise it "
           "whenever a ZWO camera is plugged in")
    try:
        value = int(env.usbfs_file.read_text(encoding="ascii").strip())
    except (OSError, ValueError):
        return Check("USB memory", Status.WARN,
                     f"cannot read {env.usbfs_file}; large frames may fail", fix)
    if value == 0:
        return Check("USB memory", Status.PASS, "usbfs_memory_mb = 0 (no limit)")
    largest = max(cameras, key=lambda c: c.frame_bytes, default=None)
    if largest is not None:
        frame_mb = math.ceil(largest.frame_bytes / 2**20)
        if value < frame_mb:
            return Check("USB memory", Status.FAIL,
                         f"usbfs_memory_mb = {value} MB is smaller than one {frame_mb} MB "
                         f"frame of {largest.name}; downloads will fail", fix)
    if value < USBFS_RECOMMENDED_MB:
        return Check("USB memory", Status.WARN,
                     f"usbfs_memory_mb = {value} MB; ZWO recommends {USBFS_RECOMMENDED_MB} "
                     "MB for large sensors", fix)
    return Check("USB memory", Status.PASS, f"usbfs_memory_mb = {value} MB")


def check_cameras(status: SdkStatus, env: DoctorEnv) -> tuple[Check, list[CameraSeen]]:
    """Cameras the SDK sees, each opened once to read its controls."""
    from drivers.zwo import ZwoCamera, list_zwo_cameras

    if status.sdk is None:
        return Check("cameras", Status.WARN,
                     "cannot look for ZWO cameras without the SDK (see above)"), []
    try:
        entries, _ = list_zwo_cameras(status.sdk)
    except CameraError as error:
        return Check("cameras", Status.FAIL, f"listing cameras failed: {error}",
                     "unplug and replug the camera; check the USB cable and power"), []
    if not entries:
        return Check("cameras", Status.WARN, "no ZWO camera found",
                     "plug the camera in (USB3 port, camera powered for cooling), then run "
                     "'autoflats doctor' again"), []
    seen: list[CameraSeen] = []
    lines: list[str] = []
    failures: list[str] = []
    for entry in entries:
        index = int(entry.camera_id.split(":", 1)[1])
        try:
            with ZwoCamera(index, name=entry.name, sdk=status.sdk) as camera:
                info, controls = camera.info, camera.controls
                temperature = camera.temperature_c()
        except CameraError as error:
            failures.append(f"{entry.camera_id} {entry.name}: cannot open ({error})")
            continue
        height, width = binned_shape(info, 1)
        seen.append(CameraSeen(entry.camera_id, entry.name, width, height))
        temp = f", sensor {temperature:.1f} °C" if temperature is not None else ""
        lines.append(
            f"{entry.camera_id} {entry.summary}; e-/ADU {info.e_per_adu or '?'}, bins "
            f"{'/'.join(map(str, info.supported_bins))}, gain {controls.gain.minimum:g}.."
            f"{controls.gain.maximum:g}, offset {controls.offset.minimum:g}.."
            f"{controls.offset.maximum:g}, exposure {controls.exposure_s.minimum * 1e6:g} us.."
            f"{controls.exposure_s.maximum:g} s{temp}")
    if failures:
        fix = ("close other programs using the camera (NINA, SharpCap, INDI...); "
               + ("install the udev rules: " + udev_install_command(env)
                  if env.platform == "linux" else "unplug and replug it"))
        return Check("cameras", Status.FAIL, "; ".join(failures + lines), fix), seen
    return Check("cameras", Status.PASS, "; ".join(lines)), seen


def check_output(out: Path, count: int, cameras: Sequence[CameraSeen]) -> Check:
    """The output folder is writable and has room for ``count`` flats."""
    if cameras:
        largest = max(cameras, key=lambda c: c.frame_bytes)
        frame_bytes, basis = largest.frame_bytes, f"{largest.name}"
    else:
        frame_bytes = 2 * DEFAULT_SENSOR[0] * DEFAULT_SENSOR[1]
        basis = "a 26 MP sensor; no camera connected"
    per_file = math.ceil((frame_bytes + 2 * FITS_BLOCK) / FITS_BLOCK) * FITS_BLOCK
    needed = per_file * count
    out = out.expanduser()
    existing = out
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if existing.exists() and not existing.is_dir():
        return Check("output folder", Status.FAIL, f"{existing} is a file, not a folder",
                     "choose another --out folder")
    if existing == out:
        try:
            with tempfile.NamedTemporaryFile(dir=out, prefix=".autoflats-doctor-"):
                pass
        except OSError as error:
            return Check("output folder", Status.FAIL, f"cannot write in {out} ({error})",
                         "choose a folder you can write to with --out, or fix its permissions")
        where = f"{out} is writable"
    else:
        if not os.access(existing, os.W_OK | os.X_OK):
            return Check("output folder", Status.FAIL,
                         f"{out} does not exist and {existing} is not writable",
                         "choose a folder you can write to with --out")
        where = f"{out} will be created in {existing}"
    free = shutil.disk_usage(existing).free
    detail = (f"{where}; {_size(free)} free, {count} flats need {_size(needed)} "
              f"(for {basis})")
    if free < needed:
        return Check("output folder", Status.FAIL, detail,
                     "free some space or choose another disk with --out")
    if free < 2 * needed:
        return Check("output folder", Status.WARN, detail + "; little room beyond that",
                     "free some space before long sessions")
    return Check("output folder", Status.PASS, detail)


def check_efw_sdk(status: EfwStatus) -> Check:
    """libEFWFilter is found and loads; its version. Optional unless asked for."""
    if status.library is None:
        fix = (f"install ZWO's EFW SDK (libEFWFilter, zwoastro.com developer downloads or "
               f"INDI's libasi package) or set {efw_sdk.ENV_VAR}=/path/to/libEFWFilter; "
               "not needed without a ZWO filter wheel")
        detail = status.error or "EFW SDK not found (libEFWFilter)"
        if not status.configured:  # plain absence: the fix line says how to install it
            detail = detail.split("; ", 1)[0]
        return Check("EFW SDK", Status.FAIL if status.configured else Status.WARN, detail, fix)
    source = {"system": "system library", efw_sdk.ENV_VAR: f"from ${efw_sdk.ENV_VAR}"}.get(
        status.source or "", status.source or "")
    return Check("EFW SDK", Status.PASS,
                 f"libEFWFilter {status.version or '(version unknown)'} at {status.path}"
                 f" ({source})")


def check_wheels(status: EfwStatus) -> Check:
    """ZWO filter wheels the EFW SDK sees, each with its slot count."""
    from drivers.efw import list_efw_wheels

    if status.library is None:
        return Check("filter wheels", Status.WARN,
                     "cannot look for ZWO filter wheels without the EFW SDK (see above)")
    try:
        entries = list_efw_wheels(status.library)
    except FilterWheelError as error:
        return Check("filter wheels", Status.FAIL, f"listing filter wheels failed: {error}",
                     "unplug and replug the filter wheel; check its USB cable")
    if not entries:
        return Check("filter wheels", Status.WARN, "no ZWO filter wheel found",
                     "plug the wheel in (directly, or into the camera's USB hub with the "
                     "camera powered), then run 'autoflats doctor' again; ignore this if you "
                     "use no wheel")
    lines = [f"{e.wheel_id} {e.name}, {e.slot_count} slots" for e in entries
             if e.slot_count is not None]
    failures = [f"{e.wheel_id} {e.name}: {e.note or 'slot count unknown'}" for e in entries
                if e.slot_count is None]
    if failures:
        return Check("filter wheels", Status.FAIL, "; ".join(failures + lines),
                     "close other programs using the wheel (NINA, SharpCap, INDI...), then "
                     "unplug and replug it")
    return Check("filter wheels", Status.PASS, "; ".join(lines))


def check_qhy_sdk() -> Check:
    """The QHY SDK (libqhyccd, optional): where it is, its version, the cameras it sees."""
    path = qhy_sdk.find_library()
    if path is None:
        return Check("QHY SDK", Status.WARN, "not installed (only needed for QHY cameras)",
                     "pip install 'autoflats[qhy]' (Linux x86-64/arm64, Windows); on macOS "
                     f"install QHY's SDK and set {qhy_sdk.LIB_ENV}=/path/to/libqhyccd.dylib")
    try:
        sdk = qhy_sdk.get_sdk()
        version = sdk.version()
        ids = sdk.scan()
    except (CameraError, QhyError) as error:
        return Check("QHY SDK", Status.FAIL, f"libqhyccd at {path} does not work: {error}",
                     "reinstall it: pip install --force-reinstall qhyccd")
    seen = f"{len(ids)} camera(s): {', '.join(ids)}" if ids else "no QHY camera found"
    return Check("QHY SDK", Status.PASS, f"libqhyccd {version} at {path}; {seen}")


def check_gphoto2(platform: str = sys.platform) -> Check:
    """python-gphoto2 and rawpy (optional, for DSLRs): versions and cameras seen."""
    if platform == "win32":
        return Check("DSLR (gphoto2)", Status.WARN,
                     "DSLRs are not supported on Windows (libgphoto2 does not run there)",
                     "use Linux or macOS for DSLR flats")
    missing = [name for name, module in (("python-gphoto2", "gphoto2"), ("rawpy", "rawpy"))
               if importlib.util.find_spec(module) is None]
    if missing:
        return Check("DSLR (gphoto2)", Status.WARN,
                     f"{' and '.join(missing)} not installed (only needed for DSLRs)",
                     "pip install 'autoflats[dslr]'")
    import gphoto2
    import rawpy

    version = gphoto2.gp_library_version(gphoto2.GP_VERSION_SHORT)
    try:
        found = gphoto2.Camera.autodetect()
        cameras = [f"{name} on {port}" for name, port in found]
    except gphoto2.GPhoto2Error as error:
        return Check("DSLR (gphoto2)", Status.FAIL, f"listing cameras failed: {error}",
                     "close other programs that hold the camera (a file manager), replug it")
    seen = ", ".join(cameras) if cameras else "no camera found (on, in M mode, USB)"
    return Check("DSLR (gphoto2)", Status.PASS,
                 f"libgphoto2 {version[0] if version else '?'}, rawpy "
                 f"{getattr(rawpy, '__version__', '?')}; {seen}")


def run_other_camera_checks() -> list[Check]:
    """QHY and DSLR support (both optional: a missing one only warns)."""
    return [check_qhy_sdk(), check_gphoto2()]


def _size(nbytes: int) -> str:
    for unit, scale in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if nbytes >= scale:
            return f"{nbytes / scale:.1f} {unit}"
    return f"{nbytes} B"


# -- running ----------------------------------------------------------------------------

def run_checks(out: Path, count: int, env: DoctorEnv | None = None,
               status: SdkStatus | None = None) -> list[Check]:
    """Every check in order."""
    env = env or DoctorEnv()
    status = status if status is not None else zwo_sdk.sdk_status()
    checks = [check_sdk(status), check_libusb(env), check_udev(env)]
    cameras_check, cameras = check_cameras(status, env)
    checks += [check_usbfs(env, cameras), cameras_check, check_output(out, count, cameras)]
    return checks


def run_wheel_checks(status: EfwStatus | None = None) -> list[Check]:
    """The filter wheel section: the EFW SDK, then the wheels."""
    status = status if status is not None else efw_sdk.efw_status()
    return [check_efw_sdk(status), check_wheels(status)]


def report_json(checks: Sequence[Check], wheel_checks: Sequence[Check] = (),
                other_checks: Sequence[Check] = ()) -> str:
    """The report as JSON: {"ok": ..., "checks": [{"name", "status", "detail", "fix"}]}.

    Wheel checks go under "filter_wheels", QHY and DSLR ones under "other_cameras",
    in the same rows (only when given).
    """
    report: dict[str, object] = {
        "ok": not any(c.status is Status.FAIL
                      for c in [*checks, *wheel_checks, *other_checks]),
        "checks": [{**asdict(c), "status": c.status.value} for c in checks]}
    if wheel_checks:
        report["filter_wheels"] = [{**asdict(c), "status": c.status.value}
                                   for c in wheel_checks]
    if other_checks:
        report["other_cameras"] = [{**asdict(c), "status": c.status.value}
                                   for c in other_checks]
    return json.dumps(report, indent=2, ensure_ascii=False)


def report_text(checks: Sequence[Check], wheel_checks: Sequence[Check] = (),
                other_checks: Sequence[Check] = ()) -> str:
    """The report for people: one line per check, then the fix, then a summary.

    Wheel checks follow under a 'filter wheels' heading, QHY and DSLR checks under
    'other cameras', in the same shape.
    """
    width = max(len(c.name) for c in [*checks, *wheel_checks, *other_checks])
    lines = []
    for section, rows in (("", checks), ("filter wheels (ZWO EFW):", wheel_checks),
                          ("other cameras (QHY, DSLR):", other_checks)):
        if section and rows:
            lines += ["", section]
        for check in rows:
            lines.append(
                f"{check.status.value.upper():<4}  {check.name:<{width}}  {check.detail}")
            if check.fix and check.status is not Status.PASS:
                lines.append(f"{'':<4}  {'':<{width}}  fix: {check.fix}")
    everything = [*checks, *wheel_checks, *other_checks]
    counts = {s: sum(c.status is s for c in everything) for s in Status}
    lines.append(f"{counts[Status.PASS]} passed, {counts[Status.WARN]} warnings, "
                 f"{counts[Status.FAIL]} failed")
    return "\n".join(lines)


def run_doctor(args: argparse.Namespace) -> int:
    """The ``doctor`` subcommand: print the report; 1 if any check failed, else 0."""
    checks = run_checks(Path(args.out), int(args.count))
    wheel_checks = run_wheel_checks()
    other_checks = run_other_camera_checks()
    print(report_json(checks, wheel_checks, other_checks) if args.json
          else report_text(checks, wheel_checks, other_checks), flush=True)
    return 1 if any(c.status is Status.FAIL
                    for c in [*checks, *wheel_checks, *other_checks]) else 0

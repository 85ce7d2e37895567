"""What a lab needs before the gate can run, read without changing anything: the build (who it
is for), and each handset (adb, build, bootloader, image, identity, flow, radio, clock).

Every check says ok, missing or warn, what it saw, and how to fix it. `devicelab doctor` prints
them; the gate refuses a build or a handset with a missing check at once (`refuse_build`,
`refuse_handset`) rather than waiting out boot timeouts.
"""

from __future__ import annotations

import ipaddress
import socket
import time
import zipfile
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Literal

from devicelab.adb import keys
from devicelab.adb.client import AdbClient
from devicelab.errors import ConfigError, DevicelabError, LabNotReadyError
from devicelab.handset import Handset
from devicelab.model.builds import BUILDS_DIR, Build
from devicelab.model.inventory import HandsetEntry, ProxySpec

Status = Literal["ok", "missing", "warn"]
#: HMD Global's USB vendor id: what a udev rule must name for a Nokia to be usable without root
HMD_USB_VENDOR = "2e04"
UDEV_FIX = (f'add SUBSYSTEM=="usb", ATTR{{idVendor}}=="{HMD_USB_VENDOR}", MODE="0660", GROUP="plugdev" to '
            "/etc/udev/rules.d/51-android.rules, `sudo udevadm control --reload-rules`, put yourself in plugdev, "
            "replug the cable, then `adb kill-server`")
USB_DEBUGGING_FIX = ("finish the setup wizard by hand, then Settings > About phone > tap Build number 7 times, "
                     "Settings > System > Developer options > USB debugging on, and accept \"Allow USB debugging?\" "
                     "with \"Always allow from this computer\" ticked")
#: where an A/B OTA package says what it is for and what it installs
OTA_METADATA = "META-INF/com/android/metadata"
#: seconds a fastboot question may take before the handset counts as not in its bootloader
FASTBOOT_PROBE = 3.0
#: a device clock this far from the host's makes the timeline and TLS validity suspect
CLOCK_SKEW = 120.0


@dataclass(frozen=True)
class Check:
    subject: str  # "build" or a handset id
    name: str
    status: Status
    detail: str
    fix: str = ""

    def as_dict(self) -> dict[str, str]:
        return asdict(self)


def ok(subject: str, name: str, detail: str) -> Check:
    return Check(subject, name, "ok", detail)


def missing(subject: str, name: str, detail: str, fix: str) -> Check:
    return Check(subject, name, "missing", detail, fix)


def warn(subject: str, name: str, detail: str, fix: str = "") -> Check:
    return Check(subject, name, "warn", detail, fix)


# -- the build -----------------------------------------------------------------------------------
def build_checks(build: Build) -> list[Check]:
    """What the build lets a lab do, from its file alone."""
    subject = f"build {build.name}"
    access = build.access
    found: list[Check] = []
    if access.kind == "retail":
        found.append(missing(
            subject, "build type",
            f"a retail {build.build_type} build: after the flash and wipe its USB debugging is off until a person "
            "finishes the setup wizard and turns it on, and every host key waits for a tap on "
            "\"Allow USB debugging?\"; the gate cannot drive its first boot",
            "gate a lab build of this firmware (access: kind: lab, adb_at_boot: true, adb_keys: [lab]; the lab "
            f"key's public half is {keys.lab_key_path()}.pub), or for a phone as bought: " + USB_DEBUGGING_FIX))
    else:
        found.append(ok(subject, "build type", f"a {build.build_type} lab build, adb on at boot"
                                               + (", the lab's adb key baked in" if access.adb_keys else "")))
    if build.build_type != "user":
        found.append(ok(subject, "CA", "adb root: the gate installs its CA in the system store after every reboot"))
    elif "lab" in access.system_cas:
        found.append(ok(subject, "CA", "the lab's CA is baked into the system store"))
    else:
        found.append(warn(subject, "CA", "a user build without the lab's CA in its system store: TLS stays unread",
                          "bake the lab's CA into the build (access: system_cas: [lab]), or gate a userdebug build"))
    return found


def refuse_build(build: Build, *, walked_by_operator: bool = False) -> None:
    """LabNotReadyError when the build cannot be gated at all (seconds, not boot timeouts). A
    retail build is refused unless a person walks its wizard behind the gateway (no adb needed)."""
    for check in build_checks(build):
        if check.status == "missing" and not (walked_by_operator and check.name == "build type"):
            raise LabNotReadyError(f"{check.subject}: {check.name}: {check.detail}", fix=check.fix, step="preflight")


def image_check(subject: str, entry: HandsetEntry, build: Build) -> Check:
    """A real image for a physical handset; a generated stand-in only where the inventory says the
    handset is one that boots them (`kind: virtual`)."""
    if build.image is None:
        if entry.tags.get("kind") == "virtual":
            return ok(subject, "image", f"{build.name}: a generated image (this handset boots them)")
        return missing(subject, "image", f"{build.name} names no factory image (HMD publishes none): devicelab would "
                       "flash a generated stand-in, which a physical handset refuses to boot",
                       "name a factory image zip in the build file (`image:`), or run the gate with --no-flash on a "
                       "handset that already runs the build")
    path = Path(build.image)
    if not path.is_file():
        return missing(subject, "image", f"{path} does not exist", "put the factory image zip there")
    try:
        with zipfile.ZipFile(path) as archive:
            info = archive.read("android-info.txt").decode(errors="replace")
    except (OSError, KeyError, zipfile.BadZipFile) as exc:
        return missing(subject, "image", f"{path}: not a factory image ({exc})", "use the zip `fastboot update` takes")
    boards = [line.split("=", 1)[1].strip() for line in info.splitlines() if line.startswith("require board=")]
    if boards and build.bootloader.product not in "|".join(boards).split("|"):
        return missing(subject, "image", f"{path} is for board {boards[0]}, the build for {build.bootloader.product}",
                       "use the image made for this product")
    return ok(subject, "image", f"{path} (board {build.bootloader.product})")


def ota_check(subject: str, entry: HandsetEntry, build: Build) -> Check:
    """The build's signed full OTA (what recovery installs on a locked phone): a real one for a
    physical handset; a generated one only where the inventory says the handset accepts them."""
    if build.ota.package is None:
        if entry.tags.get("kind") == "virtual":
            return ok(subject, "ota", f"{build.name}: a generated OTA signed with {build.ota_key} (this handset "
                      "accepts them)")
        return missing(subject, "ota", f"{build.name} names no OTA package: devicelab would sideload a generated "
                       "stand-in, whose signature a physical handset's recovery refuses",
                       "name the build's signed full OTA zip in the build file (`ota: {package: FILE}`)")
    path = Path(build.ota.package)
    path = path if path.is_absolute() else BUILDS_DIR / path
    try:
        with zipfile.ZipFile(path) as archive:
            meta = archive.read(OTA_METADATA).decode(errors="replace")
    except (OSError, KeyError, zipfile.BadZipFile) as exc:
        return missing(subject, "ota", f"{path}: not an OTA package ({exc})",
                       "use the signed full OTA zip (it holds META-INF/com/android/metadata)")
    fields = dict(line.split("=", 1) for line in meta.splitlines() if "=" in line)
    device = build.system_properties()["ro.product.device"]
    if fields.get("pre-device") != device:
        return missing(subject, "ota", f"{path} is for device {fields.get('pre-device')}, the build for {device}",
                       "use the OTA made for this product")
    return ok(subject, "ota", f"{path} (device {device}, {fields.get('post-build', '?')})")


def locked_check(subject: str, entry: HandsetEntry, slots: str, build: Build | None, *, debuggable: bool,
                 no_flash: bool, upgrade: bool = False) -> Check:
    """A locked bootloader refuses fastboot flash and erase: the gate goes through recovery instead
    (devicelab.handset.recovery) when the running build allows `adb root` (recovery is reached
    through it), the build to gate does too (its factory reset), and its OTA package is one the
    handset's recovery can take."""
    refused = f"locked ({slots}): fastboot flash, update and erase are refused"
    unlock = ("unlock it: Developer options > OEM unlocking, then `fastboot flashing unlock` (this wipes the "
              "phone)")
    if not debuggable:
        return missing(subject, "bootloader", refused + "; the way through recovery needs `adb root`, which "
                       "the running user build refuses", unlock + "; or put a userdebug lab build on it, which the "
                       "gate installs (adb sideload) and resets through recovery")
    if upgrade:
        return missing(subject, "bootloader", refused + "; an upgrade run's update is a fastboot flash", unlock)
    if build is not None and not no_flash:
        if build.build_type == "user":
            return missing(subject, "bootloader", refused + f"; {build.name} is a user build: the factory reset "
                           "through recovery after its install needs `adb root`", "gate a userdebug lab build of "
                           "this firmware, or " + unlock)
        ota = ota_check(subject, entry, build)
        if ota.status != "ok":
            return missing(subject, "bootloader", f"{refused}; {ota.detail}", ota.fix)
    return ok(subject, "bootloader", f"locked ({slots}): the build goes on through recovery (`adb sideload` of its "
              "signed full OTA), the factory reset through recovery (FACTORY_RESET as root)")


# -- a handset -----------------------------------------------------------------------------------
def adb_state(client: AdbClient, serial: str) -> tuple[str, str]:
    """The raw state column of `adb devices` for `serial` (`no permissions` kept whole), and the line."""
    for line in client.host_request("host:devices-l").splitlines():
        parts = line.split()
        if parts and parts[0] == serial:
            state = "no permissions" if "no permissions" in line else (parts[1] if len(parts) > 1 else "")
            return state, line
    return "absent", ""


def adb_check(subject: str, state: str, line: str) -> Check:
    if state == "device":
        return ok(subject, "adb", "device")
    if state == "unauthorized":
        return missing(subject, "adb", "unauthorized: the handset does not know this adb server's key",
                       "accept \"Allow USB debugging?\" on the phone with \"Always allow\" ticked, or use a lab build "
                       f"with the lab's key baked in; the server must offer it (ADB_VENDOR_KEYS={keys.lab_key_path()}, "
                       "which every adb server devicelab starts sets)")
    if state == "no permissions":
        return missing(subject, "adb", line.strip() or "no permissions", UDEV_FIX)
    if state in ("offline", "authorizing", "connecting"):
        return missing(subject, "adb", state, "replug the cable (or `adb reconnect offline`); check the USB host")
    if state in ("bootloader", "recovery", "sideload", "rescue"):
        return warn(subject, "adb", f"the handset is in {state}", "boot it into Android (`fastboot reboot`)")
    return missing(subject, "adb", "not listed by the adb server: USB debugging is off, or the cable is out",
                   USB_DEBUGGING_FIX + "; or check the cable and the USB host")


def proxy_check(subject: str, entry: HandsetEntry, proxy: ProxySpec) -> Check:
    """Whether the phone can reach the capture proxy where the lab file puts it."""
    dial = proxy.advertise_host or proxy.listen_host
    if proxy.mode == "gateway":
        return gateway_check(subject, entry)
    if proxy.mode != "regular":
        return ok(subject, "proxy", f"{proxy.mode}: the handset's tunnel app dials {dial}")
    if not ipaddress.ip_address(dial).is_loopback:
        return ok(subject, "proxy", f"the handset dials {dial} over the lab network (its Wi-Fi must reach it)")
    if proxy.adb_reverse:
        return ok(subject, "proxy", f"{dial} of the host, reached over `adb reverse`")
    return missing(subject, "proxy", f"the proxy listens on {dial} of this machine: a phone on USB cannot reach it "
                   "(its own loopback is itself)",
                   "set `proxy: {adb_reverse: true}` in the lab file, or listen on the lab network "
                   "(`listen_host: 0.0.0.0`, `advertise_host:` this machine's address on the handsets' Wi-Fi)")


def gateway_check(subject: str, entry: HandsetEntry) -> Check:
    """Behind the lab gateway: where the handset is. A physical one on the interface the inventory
    names (it must exist on this host); a virtual one is plugged in by its lab."""
    place = entry.gateway
    if place is None:
        if entry.tags.get("kind") == "virtual":
            return ok(subject, "gateway", "the virtual lab plugs it into the gateway's namespaces")
        return missing(subject, "gateway", "capture mode gateway, but the inventory does not say which interface "
                       "of this host the handset is on", "add `gateway: {interface: wlan1, kind: hostapd, address: "
                       "<its reserved address>}` to the handset in the lab file (README: Gateway capture)")
    if place.netns:
        found = Path(f"/run/netns/{place.netns}").exists()
        where = f"network namespace {place.netns}"
    else:
        try:
            socket.if_nametoindex(place.interface)
            found, where = True, "this host"
        except OSError:
            found, where = False, "this host"
    if not found:
        return missing(subject, "gateway", f"{place.kind} interface {place.interface} is not on {where}",
                       f"bring the {place.kind} link up on the gateway host, or fix handsets.N.gateway.interface")
    return ok(subject, "gateway", f"{place.kind} on {place.interface} ({where}), the handset at {place.address}")


def handset_checks(handset: Handset, client: AdbClient, build: Build | None, *, no_flash: bool = False,
                   proxy: ProxySpec | None = None) -> list[Check]:
    """Every check of one handset; those that need adb are skipped (not failed) when adb is missing."""
    entry = handset.entry
    subject = entry.id
    state, line = adb_state(client, entry.adb.serial)
    found = [adb_check(subject, state, line)]
    if proxy is not None:
        found.append(proxy_check(subject, entry, proxy))
    if state in ("absent", "offline", "bootloader"):
        found += _bootloader_checks(handset, build)
    if state != "device":
        if build is not None and not no_flash:
            found.append(image_check(subject, entry, build))
        return found
    try:
        found += _running_checks(handset, build, no_flash=no_flash)
    except DevicelabError as exc:
        found.append(missing(subject, "handset", f"reading it failed: {exc}", "check the cable and adb"))
    return found


def _bootloader_checks(handset: Handset, build: Build | None) -> list[Check]:
    """A handset off adb may sit in its bootloader: ask fastboot (bounded), as `getvar` answers."""
    subject = handset.entry.id
    try:
        values = {name: handset.fastboot.getvar(name, timeout=FASTBOOT_PROBE)
                  for name in ("unlocked", "current-slot", "slot-count", "product")}
    except DevicelabError:
        return []  # not in fastboot either: the adb check says what to do
    slots = f"slot {values['current-slot']} of {values['slot-count']}"
    found = [warn(subject, "fastboot", f"in the bootloader (product {values['product']})",
                  "`fastboot reboot` before the doctor reads the rest")]
    if values["unlocked"] != "yes":
        found.append(missing(subject, "bootloader", f"locked ({slots}): fastboot flash, update and erase are refused",
                             "unlock it: Developer options > OEM unlocking, then `fastboot flashing unlock` (this "
                             "wipes the phone)"))
    else:
        found.append(ok(subject, "bootloader", f"unlocked ({slots})"))
    if build is not None and values["product"] != build.bootloader.product:
        found.append(missing(subject, "product", f"getvar product is {values['product']}, the build is for "
                             f"{build.bootloader.product}", "gate a build made for this handset"))
    return found


def _running_checks(handset: Handset, wanted: Build | None, *, no_flash: bool) -> list[Check]:
    subject = handset.entry.id
    props = handset.properties()
    found: list[Check] = []
    build_type = props.get("ro.build.type", "?")
    debuggable = props.get("ro.debuggable", "0") == "1"
    secure = props.get("ro.adb.secure", "0")
    found.append(ok(subject, "build", f"{props.get('ro.build.fingerprint', '?')} ({build_type}, ro.debuggable="
                                      f"{int(debuggable)}, ro.adb.secure={secure}, adb root "
                                      f"{'available' if debuggable else 'refused'})"))
    locked = props.get("ro.boot.flash.locked", "")
    slot = props.get("ro.boot.slot_suffix", "")
    slots = f"slot {slot.lstrip('_') or '?'} of {'2 (A/B)' if slot else '1'}"
    if locked == "1":  # --no-flash too: its factory reset goes through recovery then
        found.append(locked_check(subject, handset.entry, slots, wanted, debuggable=debuggable, no_flash=no_flash))
    else:
        found.append(ok(subject, "bootloader", f"unlocked ({slots})"))
        if wanted is not None and not no_flash:
            found.append(image_check(subject, handset.entry, wanted))
    if wanted is not None and no_flash and props.get("ro.build.fingerprint") != wanted.fingerprint:
        found.append(missing(subject, "build", f"runs {props.get('ro.build.fingerprint')}, not {wanted.fingerprint}",
                             f"flash {wanted.name} (unlocked bootloader) or install its OTA first"))
    found.append(_flow_check(subject, (wanted.fingerprint if wanted else props.get("ro.build.fingerprint", ""))))
    found.append(_identity_check(handset, subject))
    found += _radio_checks(handset, props, subject)
    found.append(_clock_check(handset, subject))
    return found


def _flow_check(subject: str, fingerprint: str) -> Check:
    from devicelab.flows.model import flow_for_fingerprint

    try:
        flow = flow_for_fingerprint(fingerprint)
    except ConfigError:
        return missing(subject, "flow", f"no setup-wizard flow matches {fingerprint}",
                       "record one (`devicelab flow record`) or add the fingerprint to a flow in fixtures/flows/")
    return ok(subject, "flow", f"flow {flow.family} matches {fingerprint}")


def _identity_check(handset: Handset, subject: str) -> Check:
    identity = handset.identity()
    kinds = sorted({kind for kind, _ in identity.identifiers()})
    if not identity.imei and not identity.serial:
        return missing(subject, "identity", f"read: {', '.join(kinds) or 'nothing'}; no IMEI and no serial",
                       "a leak cannot be recognised without them: check the phone's `service call iphonesubinfo`")
    return ok(subject, "identity", f"readable: {', '.join(kinds)}")


def _radio_checks(handset: Handset, props: dict[str, str], subject: str) -> list[Check]:
    sim_state, _operator = handset.sim_state()
    airplane = handset.shell("settings get global airplane_mode_on", timeout=10).stdout.strip()
    wifi = handset.shell("settings get global wifi_on", timeout=10).stdout.strip()
    found = [ok(subject, "SIM", f"{sim_state} ({props.get('gsm.sim.operator.alpha') or 'no operator'})")
             if sim_state == "READY" else warn(subject, "SIM", f"{sim_state or 'unknown'}",
                                               "the gate inserts its SIM with --sim (or the lab's SIM switcher)")]
    if airplane == "1":
        found.append(missing(subject, "network", "airplane mode is on", "turn airplane mode off"))
    else:
        found.append(ok(subject, "network", f"Wi-Fi {'on' if wifi == '1' else 'off'}, airplane mode off"))
    return found


def _clock_check(handset: Handset, subject: str) -> Check:
    skew = handset.device_time() - time.time()
    if abs(skew) > CLOCK_SKEW:
        return warn(subject, "clock", f"{skew:+.0f} s from the host's clock",
                    "turn on automatic time, or set it (`adb shell date`) before the gate")
    return ok(subject, "clock", f"{skew:+.0f} s from the host's clock")


def refuse_handset(checks: list[Check]) -> None:
    """LabNotReadyError for the first check of a handset that makes the gate impossible."""
    for check in checks:
        if check.status == "missing":
            raise LabNotReadyError(f"{check.subject}: {check.name}: {check.detail}", fix=check.fix,
                                   step="preflight")

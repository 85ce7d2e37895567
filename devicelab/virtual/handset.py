"""A virtual Nokia handset: hardware identity, flash storage, a SIM slot, and a boot state
machine that starts and stops its adbd and fastboot services as a real handset does.

All methods run on the lab's event loop (devicelab.virtual.lab); tests reach them through
`VirtualLab.call`.
"""

from __future__ import annotations

import asyncio
import enum
import hashlib
import logging
from typing import TYPE_CHECKING, Literal, Protocol

from devicelab.model.builds import Build
from devicelab.model.sims import SimProfile
from devicelab.virtual import image, procfs, screen
from devicelab.virtual.adbd.reverse import Reverse
from devicelab.virtual.android import AndroidSystem, Radio, UserData
from devicelab.virtual.clock import DeviceClock
from devicelab.virtual.fs import VirtualFS
from devicelab.virtual.identity import HardwareIdentity
from devicelab.virtual.net import trust
from devicelab.virtual.recovery import Recovery
from devicelab.virtual.shell.registry import register_main_class
from devicelab.virtual.storage import Storage
from devicelab.virtual.ui import hooks as ui
from devicelab.virtual.ui import render
from devicelab.virtual.usbdebug import UsbDebugging, bake_keys

if TYPE_CHECKING:
    from devicelab.virtual.net.stack import HandsetNetwork

log = logging.getLogger(__name__)

# uiautomator2's on-device server: `app_process / com.wetest.uia2.Main` starts it
register_main_class(ui.MAIN_CLASS, ui.uia2_main)
# `screencap` shows what the screen shows: the wizard, dialogs, the launcher
screen.set_frame_source(render.screenshot)

RebootTarget = Literal["system", "bootloader", "recovery"]

#: Folders every booted system has.
BASE_DIRS = (
    "/system/app", "/system/priv-app", "/system/framework", "/system/bin", "/vendor/overlay",
    "/data/local/tmp", "/data/system", "/data/misc/user/0/cacerts-added", "/data/app",
    "/sdcard/Download", "/sdcard/DCIM", "/cache/recovery", "/proc/net", "/dev",
    "/system/etc/security/cacerts", "/apex/com.android.conscrypt/cacerts", "/storage/emulated/0",
)


#: Read-only even for root once booted: B2N is system-as-root with dm-verity (no `adb remount`).
VERITY = ("/system", "/vendor")


class BootState(enum.StrEnum):
    OFF = "off"
    BOOTLOADER = "bootloader"
    BOOTING = "booting"  # adbd is up, sys.boot_completed is not yet 1
    BOOTED = "booted"
    RECOVERY = "recovery"  # recovery's menu (adbd only on a debuggable build)
    SIDELOAD = "sideload"  # recovery's "Apply update from ADB": minadbd serves `adb sideload` alone


class Service(Protocol):
    """Something the handset runs only in some states (adbd, the fastboot target)."""

    async def start(self) -> None: ...

    async def stop(self) -> None: ...


class VirtualHandset:
    def __init__(
        self,
        name: str,
        hardware: HardwareIdentity,
        *,
        sim: SimProfile | None = None,
        clock_scale: float = 1.0,
        boot_seconds: float | None = None,
        reboot_delay: float = 0.05,
    ) -> None:
        self.name = name
        self.hardware = hardware
        self.storage = Storage()
        self.userdata = UserData()
        self.radio = Radio(sim=sim)
        self.fs = VirtualFS()
        self.clock = DeviceClock(scale=clock_scale)
        self.state = BootState.OFF
        self.system: AndroidSystem | None = None
        self.adbd: Service | None = None
        self.fastbootd: Service | None = None
        self.boot_seconds = boot_seconds  # None: the build's own boot time
        self.reboot_delay = reboot_delay
        #: a boot loop: every system boot resets this many seconds after adbd came up (None: boots complete)
        self.boot_loop_seconds: float | None = None
        self.boot_resets = 0  # boots the loop cut short, since power-on
        self._userdata_generation = -1
        self._transition: asyncio.Task[None] | None = None
        self._boot_timer: asyncio.TimerHandle | None = None
        self.state_changed = asyncio.Event()
        #: device-local TCP services (`adb forward` / `tcp:PORT` targets): device port -> the
        #: loopback (host, port) where the service really listens
        self.local_ports: dict[int, tuple[str, int]] = {}
        self._system_laid_out = b""
        #: the lab's virtual internet as this handset sees it (None: no network at all)
        self.network: HandsetNetwork | None = None
        #: the USB debugging switch, the host keys adbd trusts, the "Allow USB debugging?" prompt
        self.usb = UsbDebugging(self)
        #: `adb reverse` rules: handset ports that lead to host ports over the adb link
        self.reverse = Reverse(self)
        #: recovery: what the bootloader message asks of it, its log, sideload installs
        self.recovery = Recovery(self)

    # -- provisioning (the factory, before the handset leaves it) ------------------------
    def install(self, build: Build) -> None:
        """Write a build to the current slot, as a factory would; its bootloader is locked or not
        as the build says (devinfo)."""
        self.storage.current_slot = build.bootloader.current_slot
        self.storage.unlocked = not build.bootloader.locked
        # "OEM unlocking" is off on a shop's phone: `flashing unlock` is refused too
        self.storage.unlock_allowed = not build.bootloader.locked
        self.storage.write("system", image.system_image(build))
        for part in ("boot", "vendor", "vbmeta", "dtbo"):
            self.storage.write(part, image.small_image(build, part))

    def installed_build(self) -> Build:
        """The build on the current slot, or ImageError when that slot would not boot."""
        return image.read_system_image(self.storage.read("system"))

    # -- state machine -------------------------------------------------------------------
    def reboot(self, target: RebootTarget = "system") -> None:
        """Start a reboot; returns at once (the connection that asked is dropped)."""
        if self._transition is not None and not self._transition.done():
            self._transition.cancel()
        self._transition = asyncio.get_running_loop().create_task(self._reboot(target))

    async def power_on(self, target: RebootTarget = "system") -> None:
        await self._enter(target)

    async def power_off(self) -> None:
        transition = self._transition
        if transition is not None and not transition.done() and transition is not asyncio.current_task():
            transition.cancel()  # a reboot under way (a boot loop's) must not bring the handset back
        await self._leave()
        self._set_state(BootState.OFF)

    async def _reboot(self, target: RebootTarget) -> None:
        await self._leave()
        self._set_state(BootState.OFF)
        await asyncio.sleep(self.reboot_delay)
        await self._enter(target)

    async def _leave(self) -> None:
        if self.network is not None:
            self.network.shutdown()
        if self._boot_timer is not None:
            self._boot_timer.cancel()
            self._boot_timer = None
        for service in (self.adbd, self.fastbootd):
            if service is not None:
                await service.stop()
        self.usb.forget_prompt()
        self.fs.drop_mounts()  # tmpfs is memory: a reboot or power-off loses it
        self.system = None

    async def _enter(self, target: RebootTarget) -> None:
        if target == "bootloader":
            self._set_state(BootState.BOOTLOADER)
            if self.fastbootd is not None:
                await self.fastbootd.start()
            return
        if target == "recovery":
            await self._enter_recovery()
            return
        try:
            build = self.installed_build()
        except image.ImageError as exc:
            log.warning("%s: slot %s does not boot (%s); staying in the bootloader",
                        self.name, self.storage.current_slot, exc)
            await self._enter("bootloader")
            return
        self._boot_system(build)
        if self.adbd is not None and self.usb.enabled():  # a retail build's adbd stays down
            await self.adbd.start()
        if self.boot_loop_seconds is not None:
            self._boot_timer = asyncio.get_running_loop().call_later(self.boot_loop_seconds, self._boot_reset)
            return
        seconds = self.boot_seconds if self.boot_seconds is not None else build.boot_seconds
        self._boot_timer = asyncio.get_running_loop().call_later(seconds, self._boot_completed)

    def loop_boots(self, seconds: float) -> None:
        """From now on every boot resets `seconds` after adbd came up, before `sys.boot_completed`
        (a boot in progress too): adb appears and vanishes, over and over, as on a bootlooping phone."""
        self.boot_loop_seconds = seconds
        if self.state == BootState.BOOTING and self._boot_timer is not None:
            self._boot_timer.cancel()
            self._boot_timer = asyncio.get_running_loop().call_later(seconds, self._boot_reset)

    def _boot_reset(self) -> None:
        self._boot_timer = None
        if self.system is None:
            return
        self.boot_resets += 1
        # what a crash-looping system_server leaves in the log before the watchdog resets the phone
        self.system.logcat.write("init", "Reboot ending, rebooting: reboot,system_server_crash (boot loop)",
                                 level="E", pid=1)
        self.reboot("system")

    def _boot_system(self, build: Build) -> None:
        if self._userdata_generation != self.storage.userdata_generation:
            self._userdata_generation = self.storage.userdata_generation
            self.userdata = UserData()
            self.fs.wipe("/data")
            self.fs.wipe("/sdcard")
        # the factory lays /system out; once booted, dm-verity keeps it read-only even for root
        self.fs.drop_mounts()
        self.fs.verity = ()
        first_boot = not self.userdata.android_id
        if first_boot:
            self.userdata.first_boot_defaults(build)
        self.userdata.boot_count += 1
        # /system is what was flashed: laid out again only when a new image was written; a tmpfs a
        # root user mounted over part of it (a CA overlay) was dropped above, as on a real B2N
        image_key = hashlib.sha256(self.storage.read("system")).digest()
        if image_key != self._system_laid_out:
            self._lay_out_system_partition(build)
            self._system_laid_out = image_key
        for folder in BASE_DIRS:  # init makes these on every boot (a wipe removed /data's)
            self.fs.mkdirs(folder)
        self.clock.mark_boot()
        self.system = AndroidSystem(build, self.hardware, self.userdata, self.radio, self.fs, self.clock)
        # what the bootloader hands the kernel: the lock state, and the slot it booted
        self.system.props.update({
            "ro.boot.flash.locked": "0" if self.storage.unlocked else "1",
            "ro.boot.verifiedbootstate": "orange" if self.storage.unlocked else "green",
            "ro.boot.slot_suffix": f"_{self.storage.current_slot}",
        })
        procfs.install(self.system)
        ui.attach(self)
        if self.network is not None:
            self.network.system_started(self.system)
        self.system.logcat.write("init", f"init first stage started! build={build.fingerprint}", pid=1)
        self.fs.verity = VERITY
        self._set_state(BootState.BOOTING)

    def _boot_completed(self) -> None:
        self._boot_timer = None
        if self.system is None:
            return
        self.system.props["sys.boot_completed"] = "1"
        self.system.props["dev.bootcomplete"] = "1"
        self.system.logcat.write("ActivityManager", "Boot completed", pid=self.system.system_server_pid())
        self.storage.slot_successful[self.storage.current_slot] = True
        self._set_state(BootState.BOOTED)
        if self.network is not None:
            self.network.boot_completed()

    def _lay_out_system_partition(self, build: Build) -> None:
        self.fs.wipe("/system")
        self.fs.wipe("/vendor")
        for folder in BASE_DIRS:
            self.fs.mkdirs(folder)
        props = build.system_properties()
        build_prop = "".join(f"{k}={v}\n" for k, v in sorted(props.items()))
        self.fs.write("/system/build.prop", build_prop.encode(), mode=0o644)
        for pkg in build.packages:
            if pkg.path.startswith(("/system/", "/vendor/")):
                self.fs.write(pkg.path, f"virtual apk {pkg.name}\n".encode(), make_parents=True)
        self.fs.write("/system/bin/sh", b"\x7fELF virtual sh\n", mode=0o755)
        bake_keys(build, self.fs)
        trust.bake_cas(build, self.fs)

    async def _enter_recovery(self) -> None:
        """Recovery does what the bootloader message asks: wipe and reboot, wait for a sideload,
        or show its menu."""
        args = self.recovery.take_args()
        self.recovery.begin(args)
        if "--wipe_data" in args:
            self.recovery.say("-- Wiping data...")
            self.factory_reset()
            self.recovery.say("Data wipe complete.")
            await self._enter("system")
            return
        if any(arg.startswith("--sideload") for arg in args):
            self._set_state(BootState.SIDELOAD)
            self.recovery.say("Now send the package you want to apply to the device with "
                              "\"adb sideload <filename>\"...")
            if self.adbd is not None:
                await self.adbd.start()
            return
        self._set_state(BootState.RECOVERY)
        if self.adbd is not None and self.recovery.menu_has_adb():
            await self.adbd.start()

    def stay_in_recovery_menu(self) -> None:
        """After a sideload that does not reboot: minadbd stops, the menu is shown."""
        async def to_menu() -> None:
            if self.adbd is not None:
                await self.adbd.stop()
            self._set_state(BootState.RECOVERY)
            if self.adbd is not None and self.recovery.menu_has_adb():
                await self.adbd.start()

        if self._transition is not None and not self._transition.done():
            self._transition.cancel()
        self._transition = asyncio.get_running_loop().create_task(to_menu())

    def factory_reset(self) -> None:
        """Wipe userdata and metadata: on the next boot Android starts over (new Android ID,
        setup wizard again)."""
        self.storage.erase("userdata")
        self.storage.erase("metadata")
        self.fs.wipe("/cache/recovery")

    def _set_state(self, state: BootState) -> None:
        self.state = state
        log.debug("%s: %s", self.name, state)
        self.state_changed.set()
        self.state_changed = asyncio.Event()

    async def wait_for_state(self, state: BootState, timeout: float) -> None:
        async def wait() -> None:
            while self.state != state:
                await self.state_changed.wait()

        await asyncio.wait_for(wait(), timeout)

    # -- the SIM slot --------------------------------------------------------------------
    def insert_sim(self, sim: SimProfile | None) -> None:
        """Put a SIM in the slot (None: take it out)."""
        self.radio.sim = sim
        if self.system is not None:
            self.system.refresh_radio()
            self.system.logcat.write(
                "TelephonyManager",
                f"SIM state changed: {self.radio.sim_state}",
                pid=1001,
            )
            if self.network is not None:
                self.network.sim_changed()

"""Recovery of a virtual B2N: the bootloader message (BCB) that sends it there, the wipe it does
for `--wipe_data`, and sideload mode (minadbd), where `adb sideload` streams a signed full OTA
block by block and recovery verifies and installs it into the other slot.

As strict as a real Android 9 recovery: in sideload mode adbd serves `sideload-host:` and nothing
else (no shell, no reboot); a user build's recovery menu has no adbd at all; a package for
another product, an older build, or signed with a key the running build does not trust is refused
and nothing is written.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import TYPE_CHECKING

from devicelab.virtual import image, ota
from devicelab.virtual.adbd.stream import AdbStream, StreamClosed

if TYPE_CHECKING:
    from devicelab.model.builds import Build
    from devicelab.virtual.handset import VirtualHandset

log = logging.getLogger(__name__)

#: what `adb sideload` ends the transfer on (adb's kMinadbdServicesExit*)
DONE, FAIL = b"DONEDONE", b"FAILFAIL"
#: recovery waits this long for a block before it gives the install up (the host went away)
BLOCK_TIMEOUT = 60.0
#: the biggest package this recovery reads (a B2N full OTA is ~1.5 GB; virtual ones are small)
MAX_PACKAGE = 64 * 1024 * 1024
BCB_PREFIX = "recovery\n"


class Recovery:
    """One handset's recovery: its arguments, its log, and the sideload install."""

    def __init__(self, handset: VirtualHandset) -> None:
        self.handset = handset
        self.auto_reboot = False
        self.lines: list[str] = []  # /tmp/recovery.log of this recovery boot
        self.last_log = ""  # what the previous recovery boot logged (/cache/recovery/last_log)
        self.busy = False  # a sideload is being served: a second one is refused

    # -- the bootloader message (misc partition) ------------------------------------------------
    def request(self, *args: str) -> None:
        """What the framework's RecoverySystem and adbd's `reboot sideload` write before rebooting."""
        self.handset.storage.write("misc", (BCB_PREFIX + "".join(f"{a}\n" for a in args)).encode())

    def take_args(self) -> list[str]:
        """Recovery reads its arguments and clears them (a second reboot lands in Android again)."""
        text = self.handset.storage.read("misc").decode(errors="replace")
        self.handset.storage.erase("misc")
        if not text.startswith(BCB_PREFIX):
            return []
        return [line for line in text[len(BCB_PREFIX) :].splitlines() if line]

    def say(self, line: str) -> None:
        self.lines.append(line)
        log.info("%s recovery: %s", self.handset.name, line)

    def begin(self, args: list[str]) -> None:
        self.last_log, self.lines = "\n".join(self.lines), []
        self.auto_reboot = "--sideload_auto_reboot" in args
        self.say(f"Starting recovery (pid 412) with arguments: {' '.join(args) or '(none)'}")

    # -- sideload --------------------------------------------------------------------------------
    async def serve_sideload(self, spec: str, stream: AdbStream) -> None:
        """`sideload-host:SIZE:BLOCKSIZE`: ask for blocks (`%08d`), verify, install, answer."""
        handset = self.handset
        ok = False
        self.busy = True
        try:
            size, block_size = (int(part) for part in spec.split(":"))
            if not 0 < size <= MAX_PACKAGE or not 0 < block_size <= 1024 * 1024:
                raise ValueError(f"bad sideload size {size} or block size {block_size}")
            package = await self._fetch(stream, size, block_size)
            self.say("Verifying update package...")
            verified = ota.check_package(package, handset.installed_build())
            self.say("Update package verification took 0.1 s (result 0).")
            self.say("Installing update...")
            self._install(verified.build)
            self.say("Install completed with status 0.")
            ok = True
        except ota.PackageRefused as exc:
            for line in str(exc).splitlines():
                self.say(line)
            self.say("Installation aborted.")
        except (ValueError, TimeoutError, StreamClosed, image.ImageError) as exc:
            self.say(f"E:sideload failed: {exc}")
            self.say("Installation aborted.")
        finally:
            self.busy = False
        with contextlib.suppress(StreamClosed):
            await stream.write(DONE if ok else FAIL)
            await stream.wait_sent()
        stream.close()
        self._after_sideload(ok)

    async def _fetch(self, stream: AdbStream, size: int, block_size: int) -> bytes:
        """Read the whole package: the last block first (the footer, as verification does)."""
        count = -(-size // block_size)
        blocks: dict[int, bytes] = {}
        for number in [count - 1, *range(count - 1)]:
            await stream.write(b"%08d" % number)
            want = min(block_size, size - number * block_size)
            blocks[number] = await asyncio.wait_for(stream.read_exactly(want), BLOCK_TIMEOUT)
        return b"".join(blocks[n] for n in range(count))

    def _install(self, build: Build) -> None:
        """A/B: the payload goes into the other slot, which becomes active; userdata stays."""
        storage = self.handset.storage
        target = "b" if storage.current_slot == "a" else "a"
        storage.images[f"system_{target}"] = image.system_image(build)
        for part in ("boot", "vendor", "vbmeta", "dtbo"):
            storage.images[f"{part}_{target}"] = image.small_image(build, part)
        storage.set_active(target)

    def _after_sideload(self, ok: bool) -> None:
        """Auto-reboot after the install; after a failure only where the error stays hidden: a
        debuggable build's recovery shows it and waits in its menu."""
        handset = self.handset
        if not self.auto_reboot:
            handset.stay_in_recovery_menu()
            return
        if not ok and self._debuggable():
            handset.stay_in_recovery_menu()
            return
        self.say("Rebooting automatically.")
        handset.reboot("system")

    def _debuggable(self) -> bool:
        try:
            return self.handset.installed_build().build_type != "user"
        except image.ImageError:
            return False

    def menu_has_adb(self) -> bool:
        """A debuggable build's recovery starts adbd in its menu (state `recovery`); a user one does not."""
        return self._debuggable()

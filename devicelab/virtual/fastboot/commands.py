"""One fastboot session: the commands of a Qualcomm ABL bootloader, answered with its texts.

A session lives as long as one TCP connection (one `fastboot` run). Its download buffer goes
with it, so a connection that drops mid-download leaves nothing to flash.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from devicelab.virtual import image
from devicelab.virtual.fastboot import sparse
from devicelab.virtual.fastboot.protocol import FrameReader, ProtocolError, encode_reply
from devicelab.virtual.fastboot.variables import all_variables, getvar
from devicelab.virtual.storage import SLOTS, Storage

if TYPE_CHECKING:
    from devicelab.virtual.fastbootd import FastbootTarget
    from devicelab.virtual.handset import RebootTarget

log = logging.getLogger(__name__)

#: ABL's MAX_GPT_NAME_SIZE: longer partition names are refused before anything else.
MAX_PARTITION_NAME = 36
#: The virtual storage keeps images in memory: a sparse image may expand to at most this.
MAX_EXPANDED_BYTES = 512 * 1024 * 1024

Handler = Callable[[str], Awaitable[None]]


class Session:
    """Reads commands from one client and answers each one."""

    def __init__(self, target: FastbootTarget, frames: FrameReader, writer: asyncio.StreamWriter) -> None:
        self.target = target
        self.handset = target.handset
        self.frames = frames
        self.writer = writer
        self.download: bytearray | None = None
        self._exact: dict[str, Handler] = {
            "reboot": self._reboot_to("system"),
            "reboot-bootloader": self._reboot_to("bootloader"),
            "reboot-recovery": self._reboot_to("recovery"),
            "continue": self._continue,
            "flashing unlock": self._set_lock(unlocked=True),
            "flashing lock": self._set_lock(unlocked=False),
            "oem device-info": self._device_info,
            "oem enable-charger-screen": self._charger_screen(enabled=True),
            "oem disable-charger-screen": self._charger_screen(enabled=False),
        }
        self._prefixed: dict[str, Handler] = {
            "getvar:": self._getvar,
            "download:": self._download,
            "flash:": self._flash,
            "erase:": self._erase,
            "set_active": self._set_active,
        }

    @property
    def storage(self) -> Storage:
        return self.handset.storage

    async def run(self) -> None:
        """Serve commands until the client goes away (or the framing breaks: ProtocolError)."""
        while True:
            raw = await self.frames.command()
            if raw is None:
                return
            command = raw.decode("ascii", "replace")
            log.debug("%s: fastboot %r", self.handset.name, command)
            await self.dispatch(command)

    async def dispatch(self, command: str) -> None:
        handler = self._exact.get(command)
        argument = ""
        if handler is None:
            for prefix, candidate in self._prefixed.items():
                if command.startswith(prefix):
                    handler, argument = candidate, command[len(prefix) :]
                    break
        if handler is None:
            await self.fail("unknown command")
            return
        try:
            await handler(argument)
        except (ProtocolError, ConnectionError, asyncio.IncompleteReadError, TimeoutError):
            raise  # the connection itself failed: nobody to answer
        except Exception as exc:
            # A bug here must cost one FAIL, not the bootloader: say what broke, keep serving.
            log.exception("%s: fastboot %r failed", self.handset.name, command)
            await self.fail(f"internal error: {type(exc).__name__}")

    # -- replies -------------------------------------------------------------------------
    async def _send(self, kind: bytes, text: str) -> None:
        self.writer.write(encode_reply(kind, text))
        # a client that stops reading is dropped like an idle one (TimeoutError)
        await asyncio.wait_for(self.writer.drain(), self.target.idle_timeout)

    async def okay(self, text: str = "") -> None:
        await self._send(b"OKAY", text)

    async def fail(self, text: str) -> None:
        await self._send(b"FAIL", text)

    async def info(self, text: str) -> None:
        await self._send(b"INFO", text)

    # -- variables -----------------------------------------------------------------------
    async def _getvar(self, name: str) -> None:
        facts = self.target.facts()
        if name == "all":
            for key, value in all_variables(facts, self.storage).items():
                await self.info(f"{key}:{value}")
            await self.okay()
            return
        found = getvar(name, facts, self.storage)
        if found is None:
            await self.fail("GetVar Variable Not found")
        else:
            await self.okay(found)

    # -- download and flash --------------------------------------------------------------
    async def _download(self, argument: str) -> None:
        if len(argument) > 8:
            await self.fail("Invalid argument size")
            return
        try:
            size = int(argument, 16)
        except ValueError:
            size = 0
        if size <= 0:
            await self.fail("Failed to get the number of bytes to download")
            return
        if size > self.target.max_download_size:
            await self.fail("Requested download size is more than max allowed")
            return
        self.download = None
        await self._send(b"DATA", f"{size:08x}")
        buffer = bytearray()  # grows with what arrives: announcing a size costs the client nothing
        async for piece in self.frames.payload(size):
            buffer += piece
        self.download = buffer
        await self.okay()

    async def _flash(self, partition: str) -> None:
        data = self.download
        if data is None:
            await self.fail("No data to flash")
            return
        if len(partition) >= MAX_PARTITION_NAME:
            await self.fail("Invalid partition name")
            return
        if not self.storage.unlocked:
            await self.fail("Flashing is not allowed in Lock State")
            return
        name = self.storage.resolve(partition)
        size = Storage.size_of(name)
        if sparse.is_sparse(data):
            if size is None:
                await self.fail("Partition not found")
                return
            # expanding a large image takes a while: keep the lab's other handsets responsive
            contents = await asyncio.to_thread(self._expand, data, self.storage.read(name), name, size)
            if not self.target.running:
                return  # the handset left the bootloader meanwhile: the write never happened
            if isinstance(contents, str):
                await self.fail(contents)
                return
        else:
            if size is None:
                # ABL looks the name up again with the current slot appended, and reports that
                await self.fail(f"({name}_{self.storage.current_slot}) No such partition")
                return
            if len(data) > size:
                await self.fail("Error flashing partition : Volume Full")
                return
            contents = bytes(data)
        self.storage.write(name, contents)
        log.info("%s: flashed %s (%d bytes)", self.handset.name, name, len(contents))
        await self.okay()

    def _expand(self, data: bytearray, base: bytes, name: str, size: int) -> bytes | str:
        """The partition contents a sparse image leaves over `base`, or the FAIL text."""
        try:
            header = sparse.read_header(data)
            if header.expanded_size > MAX_EXPANDED_BYTES and header.expanded_size <= size:
                return "Error flashing partition : Out of Resources"
            return bytes(sparse.apply(data, base, size))
        except sparse.SparseError as exc:
            log.info("%s: sparse image for %s refused: %s", self.handset.name, name, exc)
            return f"Error flashing partition : {exc.status}"

    async def _erase(self, partition: str) -> None:
        if len(partition) >= MAX_PARTITION_NAME:
            await self.fail("Invalid partition name")
            return
        if not self.storage.unlocked:
            await self.fail("Erase is not allowed in Lock State")
            return
        try:
            self.storage.erase(partition)
        except KeyError:
            await self.fail("Check device console.")
            return
        await self.okay()

    # -- slots, lock state, device info --------------------------------------------------
    async def _set_active(self, argument: str) -> None:
        if not self.storage.unlocked:
            await self.fail("Slot Change is not allowed in Lock State")
            return
        if not argument.startswith(":"):
            await self.fail("set_active _a or _b should be entered")
            return
        slot = argument[1:]
        if len(slot) >= 3:
            await self.fail("Invalid Slot")
            return
        if slot.removeprefix("_") not in SLOTS:
            await self.fail("Invalid Slot Suffix")
            return
        self.storage.set_active(slot.removeprefix("_"))
        await self.okay()

    def _set_lock(self, *, unlocked: bool) -> Handler:
        async def handle(_: str) -> None:
            if self.storage.unlocked == unlocked:
                await self.fail(f"Device already : {'unlocked!' if unlocked else 'locked!'}")
                return
            if unlocked and not self.storage.unlock_allowed:
                await self.fail("Flashing Unlock is not allowed")
                return
            # Changing the lock state wipes user data, so nothing on it outlives the change.
            self.storage.unlocked = unlocked
            self.handset.factory_reset()
            await self.okay()

        return handle

    async def _device_info(self, _: str) -> None:
        storage = self.storage
        lines = {
            "Device tampered": False,
            "Verity mode": storage.verity_enforcing,
            "Device unlocked": storage.unlocked,
            "Device critical unlocked": storage.unlock_critical,
            "Charger screen enabled": storage.charger_screen,
        }
        for label, value in lines.items():
            await self.info(f"{label}: {str(value).lower()}")
        await self.okay()

    def _charger_screen(self, *, enabled: bool) -> Handler:
        async def handle(_: str) -> None:
            self.storage.charger_screen = enabled
            await self.okay()

        return handle

    # -- leaving the bootloader ----------------------------------------------------------
    def _reboot_to(self, where: RebootTarget) -> Handler:
        async def handle(_: str) -> None:
            await self.okay()
            self.handset.reboot(where)

        return handle

    async def _continue(self, _: str) -> None:
        try:
            self.handset.installed_build()
        except image.ImageError as exc:
            log.info("%s: continue refused: %s", self.handset.name, exc)
            await self.fail("Failed to load image from partition: Load Error")
            return
        await self.okay()
        self.handset.reboot("system")

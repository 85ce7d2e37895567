"""USB debugging on a virtual handset, as Android gates it: the `adb_enabled` setting (which the
build's access decides after a wipe), the host keys adbd trusts (`/adb_keys` baked into the build,
`/data/misc/adb/adb_keys` remembered from "Always allow"), and the "Allow USB debugging?" prompt.

A person answers the prompt and flips the switch in Developer options; in the virtual lab the
control channel stands in for that finger (devicelab.virtual.control), because uiautomator2
needs adb, which is exactly what is missing.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from devicelab.adb import keys

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey

    from devicelab.model.builds import Build
    from devicelab.virtual.fs import VirtualFS
    from devicelab.virtual.handset import VirtualHandset

log = logging.getLogger(__name__)

BAKED_KEYS = "/adb_keys"
USER_KEYS = "/data/misc/adb/adb_keys"


class UsbDebuggingError(ValueError):
    """What the person at the handset cannot do right now (the control op's error)."""


@dataclass
class Prompt:
    """"Allow USB debugging?" on the screen, for one host key; every link waiting on it."""

    key: bytes
    fingerprint: str
    grants: list[Callable[[], None]] = field(default_factory=list)


def bake_keys(build: Build, fs: VirtualFS) -> None:
    """Write the build's baked host keys to /adb_keys, as the OEM's build system does."""
    lines = [keys.lab_public_key() + b" devicelab-lab\n" for baked in build.access.adb_keys if baked == "lab"]
    if lines:
        fs.write(BAKED_KEYS, b"".join(lines), mode=0o644)


class UsbDebugging:
    """One handset's adbd authorizer (devicelab.virtual.adbd.connection.Authorizer) and switch."""

    def __init__(self, handset: VirtualHandset) -> None:
        self.handset = handset
        self.prompt: Prompt | None = None

    # -- the Authorizer adbd asks --------------------------------------------------------
    def required(self) -> bool:
        """A secure adbd of the running system asks; recovery's adbd does not."""
        system = self.handset.system
        return system is not None and system.getprop("ro.adb.secure") == "1"

    def trusted(self) -> list[RSAPublicKey]:
        found: list[RSAPublicKey] = []
        fs = self.handset.fs
        for path in (BAKED_KEYS, USER_KEYS):
            if not fs.exists(path):
                continue
            for line in fs.read(path).splitlines():
                try:
                    found.append(keys.parse_android_public_key(line))
                except ValueError:
                    continue  # adbd skips a line it cannot read
        return found

    def ask(self, public_key: bytes, grant: Callable[[], None]) -> None:
        if self.prompt is None or self.prompt.key != public_key:
            self.prompt = Prompt(public_key, keys.fingerprint(public_key))
            system = self.handset.system
            if system is not None:
                system.logcat.write("UsbDebuggingManager", f"Received public key: {public_key[:16].decode()}...",
                                    pid=system.system_server_pid())
            self._show(self.prompt)
        self.prompt.grants.append(grant)

    def _show(self, prompt: Prompt) -> None:
        """SystemUI's dialog over whatever is on screen (screenshots show it)."""
        from devicelab.virtual.ui.device import UiUnavailable, ui_state
        from devicelab.virtual.ui.screens import Screen, Widget

        dialog = Screen(
            id="usb_debugging", kind="dialog", package="com.android.systemui", activity=".UsbDebuggingActivity",
            title="Allow USB debugging?", title_id="android:id/alertTitle", cancelable=False,
            description=f"The computer's RSA key fingerprint is:\n{prompt.fingerprint}",
            widgets=(Widget(kind="checkbox", id="alwaysUse", text="Always allow from this computer",
                            key="usb_always_allow"),),
            footer=(Widget(kind="button", id="android:id/button2", text="Cancel", action="dismiss"),
                    Widget(kind="button", id="android:id/button1", text="OK", action="dismiss")),
        )
        try:
            ui_state(self.handset).inject(dialog, now=True)
        except UiUnavailable:
            log.info("%s: no screen to show the USB debugging prompt on", self.handset.name)

    def _hide(self) -> None:
        from devicelab.virtual.ui.device import UiUnavailable, ui_state

        try:
            state = ui_state(self.handset)
        except UiUnavailable:
            return
        if state.overlay is not None and state.overlay.id == "usb_debugging":
            state.inject_cleared()

    # -- the person at the handset -------------------------------------------------------
    def answer(self, *, allow: bool, always: bool) -> dict[str, str]:
        """Tap "Allow" (with "Always allow from this computer" ticked or not) or "Cancel"."""
        prompt, self.prompt = self.prompt, None
        if prompt is None:
            raise UsbDebuggingError("no \"Allow USB debugging?\" prompt is on the screen")
        self._hide()
        if allow and always:
            fs = self.handset.fs
            fs.mkdirs("/data/misc/adb")
            fs.append(USER_KEYS, prompt.key + b"\n")
        if allow:
            for grant in prompt.grants:
                grant()
        return {"fingerprint": prompt.fingerprint, "answer": "allow" if allow else "cancel"}

    def enabled(self) -> bool:
        system = self.handset.system
        return system is not None and system.settings("global").get("adb_enabled") == "1"

    async def switch(self, *, on: bool) -> dict[str, str]:
        """Settings > System > Developer options > USB debugging (reachable once setup is done)."""
        system = self.handset.system
        if system is None:
            raise UsbDebuggingError(f"the handset is {self.handset.state}, not running Android")
        if not system.setup_complete():
            raise UsbDebuggingError("the setup wizard is not finished: Developer options are out of reach")
        settings = system.settings("global")
        settings["development_settings_enabled"] = "1"
        settings["adb_enabled"] = "1" if on else "0"
        system.props["init.svc.adbd"] = "running" if on else "stopped"
        adbd = self.handset.adbd
        if adbd is not None:
            await (adbd.start() if on else adbd.stop())
        return {"adb_enabled": settings["adb_enabled"]}

    def forget_prompt(self) -> None:
        """The screen goes dark (reboot, power off): the prompt is gone, and so are its links."""
        self.prompt = None

"""Helpers for the shell and Android-model tests: a handset booted on the test's own event
loop (no adbd, no adb server), and shorthands to run command lines on it."""

from __future__ import annotations

from devicelab.model.builds import load_build
from devicelab.model.sims import load_sim
from devicelab.virtual.handset import BootState, VirtualHandset
from devicelab.virtual.identity import HardwareIdentity
from devicelab.virtual.shell import ShellResult, run

LEAKY = "nokia7plus-00WW_3_22C"
FIXED = "nokia7plus-00WW_3_22C_SP05"
USERDEBUG = "nokia7plus-00WW_3_22C-userdebug"
CHINA = "nokia7plus-00CN_3_340"


async def boot(build: str = LEAKY, sim: str | None = "telenor-no", *, name: str = "shell-test",
               provisioned: bool = False, clock_scale: float = 1.0) -> VirtualHandset:
    """A handset booted to Android (sys.boot_completed=1)."""
    handset = VirtualHandset(name, HardwareIdentity.generate(name), sim=load_sim(sim) if sim else None,
                             boot_seconds=0, clock_scale=clock_scale)
    handset.install(load_build(build))
    await handset.power_on()
    await handset.wait_for_state(BootState.BOOTED, 5)
    if provisioned:  # setup done, then a reboot: the system comes up on the home screen
        assert handset.system is not None
        handset.system.settings("secure")["user_setup_complete"] = "1"
        handset.system.settings("global")["device_provisioned"] = "1"
        await handset.power_off()
        await handset.power_on()
        await handset.wait_for_state(BootState.BOOTED, 5)
    return handset


async def out(handset: VirtualHandset, command: str, *, root: bool = False) -> str:
    """stdout of a command that must succeed."""
    result = await run(handset, command, root=root)
    assert result.exit_code == 0, (command, result)
    return result.stdout.decode()


async def sh(handset: VirtualHandset, command: str, *, root: bool = False, stdin: bytes = b"") -> ShellResult:
    return await run(handset, command, root=root, stdin=stdin)

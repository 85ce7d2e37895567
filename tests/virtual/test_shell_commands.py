"""Commands lab tools send, in Android 9's output formats: getprop/setprop, settings, pm, files,
md5sum, id, ps, wm, input, am, monkey, dumpsys (as adbutils and uiautomator2 parse it),
app_process, reboot."""

from __future__ import annotations

import asyncio
import hashlib
import io
import re
import struct
import zipfile
from collections.abc import Callable, Coroutine
from typing import Any

from devicelab.virtual.events import InputEvent
from devicelab.virtual.handset import BootState
from devicelab.virtual.shell import register_main_class, run
from devicelab.virtual.shell.io import CommandContext
from devicelab.virtual.shell.registry import unregister_main_class
from tests.virtual.shell_helpers import CHINA, USERDEBUG, boot, out, sh

# The regular expressions adbutils 2.12 applies to these outputs (adbutils/shell.py).
FOCUSED_RE = re.compile(r"mCurrentFocus=Window{.*\s+(?P<package>[^\s]+)/(?P<activity>[^\s]+)\}")
RESUMED_RE = re.compile(r"mResumedActivity: ActivityRecord\{.*?\s+(?P<package>[^\s]+)/(?P<activity>[^\s]+)\s.*?\}")
TOP_RE = re.compile(r"ACTIVITY (?P<package>[^\s]+)/(?P<activity>[^/\s]+) \w+ pid=(?P<pid>\d+)")
ORIENTATION_RE = re.compile(r".*?orientation=(?P<orientation>\d+)")


def scenario(body: Callable[[], Coroutine[Any, Any, None]]) -> None:
    """Run an async test body on a fresh loop."""
    asyncio.run(body())


def test_getprop_lists_every_property_sorted_in_brackets() -> None:
    async def body() -> None:
        handset = await boot()
        text = await out(handset, "getprop")
        lines = text.splitlines()
        assert all(re.fullmatch(r"\[[^\]]+\]: \[.*\]", line) for line in lines)
        names = [line[1 : line.index("]")] for line in lines]
        assert names == sorted(names)
        assert "[ro.build.version.sdk]: [28]" in lines
        assert "[sys.boot_completed]: [1]" in lines
        assert await out(handset, "getprop ro.build.fingerprint") == \
            "Nokia/Onyx_00WW/B2N_sprout:9/PPR1.180610.011/00WW_3_22C:user/release-keys\n"
        assert await out(handset, "getprop no.such.prop") == "\n"
        assert await out(handset, "getprop no.such.prop fallback") == "fallback\n"

    scenario(body)


def test_setprop_follows_android_rules() -> None:
    async def body() -> None:
        handset = await boot()
        assert (await sh(handset, "setprop debug.lab 1")).exit_code == 0
        assert await out(handset, "getprop debug.lab") == "1\n"
        refused = await sh(handset, "setprop persist.sys.timezone UTC")
        assert refused.exit_code == 1
        assert refused.stderr == b"setprop: failed to set property 'persist.sys.timezone' to 'UTC'\n"
        assert (await sh(handset, "setprop persist.sys.timezone UTC", root=True)).exit_code == 0
        assert (await sh(handset, "setprop ro.build.type eng", root=True)).exit_code == 1  # ro.* once set
        assert (await sh(handset, "setprop ro.lab.new 1", root=True)).exit_code == 0
        assert (await sh(handset, "setprop ro.lab.new 2", root=True)).exit_code == 1
        assert (await sh(handset, "setprop debug.long " + "x" * 92)).exit_code == 1

    scenario(body)


def test_settings_get_put_delete_list() -> None:
    async def body() -> None:
        handset = await boot()
        system = handset.system
        assert system is not None
        assert await out(handset, "settings get secure android_id") == system.userdata.android_id + "\n"
        assert re.fullmatch(r"[0-9a-f]{16}\n", await out(handset, "settings get secure android_id"))
        assert await out(handset, "settings get secure bluetooth_address") == handset.hardware.bt_mac.upper() + "\n"
        assert await out(handset, "settings get global no_such_key") == "null\n"
        assert await out(handset, "settings put system font_scale 1.3; settings get system font_scale") == "1.3\n"
        assert await out(handset, "settings --user 0 get system font_scale") == "1.3\n"
        assert await out(handset, "settings delete system font_scale") == "Deleted 1 rows\n"
        assert await out(handset, "settings delete system font_scale") == "Deleted 0 rows\n"
        listing = (await out(handset, "settings list global")).splitlines()
        assert "device_provisioned=0" in listing
        assert listing == sorted(listing)
        bad = await sh(handset, "settings get nowhere x")
        assert bad.exit_code == 255
        assert b"Settings provider (settings) commands" in bad.stderr
        await out(handset, "settings put global wifi_on 0")
        assert not system.radio.wifi_enabled

    scenario(body)


def test_pm_list_packages_shapes() -> None:
    async def body() -> None:
        handset = await boot()
        plain = (await out(handset, "pm list packages")).splitlines()
        assert "package:com.qualcomm.qti.autoregistration" in plain
        full = (await out(handset, "pm list packages -f -U")).splitlines()
        assert "package:/system/priv-app/Settings/Settings.apk=com.android.settings uid:1000" in full
        assert all(re.fullmatch(r"package:/\S+\.apk=[\w.]+ uid:\d+", line) for line in full)
        assert await out(handset, "pm list packages -3") == ""
        assert await out(handset, "pm list packages autoreg") == \
            "package:com.evenwell.autoregistration\npackage:com.evenwell.autoregistration.overlay.base\n" \
            "package:com.evenwell.autoregistration.overlay.base.s600ww\npackage:com.qualcomm.qti.autoregistration\n"
        assert await out(handset, "pm path com.android.settings") == \
            "package:/system/priv-app/Settings/Settings.apk\n"
        missing = await sh(handset, "pm path com.nope")
        assert (missing.exit_code, missing.stdout) == (1, b"")

    scenario(body)


def test_pm_disable_clear_uninstall_install() -> None:
    async def body() -> None:
        handset = await boot()
        client = "com.qualcomm.qti.autoregistration"
        assert await out(handset, f"pm disable-user --user 0 {client}") == \
            f"Package {client} new state: disabled-user\n"
        assert f"package:{client}\n" in await out(handset, "pm list packages -d")
        assert f"package:{client}\n" not in await out(handset, "pm list packages -e")
        assert await out(handset, f"pm enable {client}") == f"Package {client} new state: enabled\n"
        assert await out(handset, "pm clear com.android.settings") == "Success\n"
        failed = await sh(handset, "pm clear com.nope")
        assert (failed.exit_code, failed.stdout) == (1, b"Failed\n")
        assert (await sh(handset, f"pm uninstall {client}")).stdout == b"Failure [DELETE_FAILED_INTERNAL_ERROR]\n"
        assert await out(handset, f"pm uninstall -k --user 0 {client}") == "Success\n"
        assert client not in await out(handset, "pm list packages")
        assert client in await out(handset, "pm list packages -u")
        unknown = await sh(handset, "pm disable-user com.nope")
        assert unknown.exit_code == 255
        assert b"Unknown package: com.nope" in unknown.stderr
        # an APK pushed to /data/local/tmp installs for user 0 as a third-party package
        assert await out(handset, "echo 'virtual apk com.example.app' > /data/local/tmp/app.apk; "
                                  "pm install -r /data/local/tmp/app.apk") == "Success\n"
        assert await out(handset, "pm list packages -3 -U") == "package:com.example.app uid:10100\n"
        assert await out(handset, "pm uninstall com.example.app") == "Success\n"

    scenario(body)


def binary_manifest(package: str) -> bytes:
    """A minimal binary AndroidManifest.xml (AXML): a UTF-16 string pool and <manifest package=...>."""
    strings = ["package", "manifest", package]
    encoded = [struct.pack("<H", len(t)) + t.encode("utf-16-le") + b"\0\0" for t in strings]
    offsets, position = [], 0
    for item in encoded:
        offsets.append(position)
        position += len(item)
    body = b"".join(encoded)
    body += b"\0" * (-len(body) % 4)
    pool_header = 28 + 4 * len(strings)
    pool = struct.pack("<HHIIIIII", 0x0001, 28, pool_header + len(body), len(strings), 0, 0, pool_header, 0)
    pool += struct.pack(f"<{len(strings)}I", *offsets) + body
    attribute = struct.pack("<IIIHBBI", 0xFFFFFFFF, 0, 2, 8, 0, 0x03, 2)
    element = struct.pack("<HHIII", 0x0102, 16, 36 + len(attribute), 1, 0xFFFFFFFF)
    element += struct.pack("<IIHHHHHH", 0xFFFFFFFF, 1, 20, 20, 1, 0, 0, 0) + attribute
    return struct.pack("<HHI", 0x0003, 8, 8 + len(pool) + len(element)) + pool + element


def test_pm_install_reads_the_package_of_a_real_apk_and_of_a_stream() -> None:
    async def body() -> None:
        handset = await boot()
        archive = io.BytesIO()
        with zipfile.ZipFile(archive, "w") as apk:
            apk.writestr("AndroidManifest.xml", binary_manifest("com.example.real"))
            apk.writestr("classes.dex", b"dex\n035\0")
        handset.fs.write("/data/local/tmp/real.apk", archive.getvalue())
        assert await out(handset, "pm install /data/local/tmp/real.apk") == "Success\n"
        streamed = b"virtual apk com.example.streamed\n"
        result = await sh(handset, f"cmd package install -S {len(streamed)}", stdin=streamed)
        assert (result.exit_code, result.stdout) == (0, b"Success\n")
        assert await out(handset, "pm list packages -3") == "package:com.example.real\npackage:com.example.streamed\n"
        handset.fs.write("/data/local/tmp/junk.apk", b"not a zip")
        junk = await sh(handset, "pm install /data/local/tmp/junk.apk")
        assert junk.exit_code == 1
        assert junk.stdout.startswith(b"Failure [INSTALL_PARSE_FAILED_NOT_APK")
        missing = await sh(handset, "pm install /data/local/tmp/none.apk")
        assert missing.stderr.startswith(b"Error: Unable to open file: /data/local/tmp/none.apk\n")

    scenario(body)


def test_files_ls_cat_rm_mkdir_and_md5sum() -> None:
    async def body() -> None:
        handset = await boot()
        payload = b"u2 jar bytes\x00\xff" * 1000
        handset.fs.write("/data/local/tmp/u2.jar", payload)
        expected = hashlib.md5(payload).hexdigest()
        assert await out(handset, "toybox md5sum /data/local/tmp/u2.jar") == f"{expected}  /data/local/tmp/u2.jar\n"
        assert await out(handset, "md5sum /data/local/tmp/u2.jar") == f"{expected}  /data/local/tmp/u2.jar\n"
        missing = await sh(handset, "toybox md5sum /data/local/tmp/none.jar")
        assert missing.exit_code == 1
        assert missing.stderr == b"md5sum: /data/local/tmp/none.jar: No such file or directory\n"
        assert await out(handset, "mkdir -p /sdcard/a/b && ls /sdcard/a") == "b\n"
        exists = await sh(handset, "mkdir /sdcard/a")
        assert exists.stderr == b"mkdir: '/sdcard/a': File exists\n"
        long = await out(handset, "ls -l /data/local/tmp")
        assert re.search(r"^-rw-r--r-- 1 root\s+root\s+14000 \d{4}-\d\d-\d\d \d\d:\d\d u2.jar$", long, re.M)
        assert (await sh(handset, "ls /data")).stderr == b"ls: /data: Permission denied\n"
        assert "data" in await out(handset, "ls /", root=True)
        assert await out(handset, "rm /data/local/tmp/u2.jar; ls /data/local/tmp") == ""
        assert (await sh(handset, "rm /data/local/tmp/u2.jar")).exit_code == 1
        assert (await sh(handset, "rm -f /data/local/tmp/u2.jar")).exit_code == 0
        assert (await sh(handset, "rm -rf /sdcard/a")).exit_code == 0
        assert await out(handset, "cat /system/build.prop | grep -c ro.build.fingerprint") == "1\n"
        assert (await sh(handset, "rm /system/build.prop")).stderr == \
            b"rm: /system/build.prop: Read-only file system\n"

    scenario(body)


def test_id_whoami_and_ps() -> None:
    async def body() -> None:
        handset = await boot()
        assert (await out(handset, "id")).startswith(
            "uid=2000(shell) gid=2000(shell) groups=2000(shell),1004(input),1007(log),1011(adb),")
        assert (await out(handset, "id")).endswith(" context=u:r:shell:s0\n")
        assert await out(handset, "whoami") == "shell\n"
        assert await out(handset, "whoami", root=True) == "root\n"
        table = (await out(handset, "ps -A")).splitlines()
        assert table[0] == "USER           PID  PPID     VSZ    RSS WCHAN            ADDR S NAME"
        rows = [line.split() for line in table[1:]]
        assert all(len(row) == 9 for row in rows)
        by_name = {row[-1]: row for row in rows}
        assert by_name["init"][:2] == ["root", "1"]
        assert by_name["system_server"][0] == "system"
        assert by_name["com.android.systemui"][0] == "u0_a23"
        assert by_name["com.google.android.setupwizard"][0] == "u0_a19"  # first boot: the wizard is up
        short = (await out(handset, "ps")).splitlines()
        assert 1 < len(short) < 5  # this shell and ps itself

    scenario(body)


def test_wm_size_density_and_display_orientation() -> None:
    async def body() -> None:
        handset = await boot()
        assert await out(handset, "wm size") == "Physical size: 1080x2160\n"
        assert await out(handset, "wm density") == "Physical density: 420\n"
        await out(handset, "wm size 720x1440")
        assert await out(handset, "wm size") == "Physical size: 1080x2160\nOverride size: 720x1440\n"
        await out(handset, "wm size reset")
        orientations = [m.group("orientation") for line in (await out(handset, "dumpsys display")).splitlines()
                        if (m := ORIENTATION_RE.search(line))]
        assert orientations[0] == "0"

    scenario(body)


def test_monkey_and_am_start_move_the_focus_as_adbutils_reads_it() -> None:
    async def body() -> None:
        handset = await boot(provisioned=True)
        windows = await out(handset, "dumpsys window windows")
        match = FOCUSED_RE.search(windows)
        assert match
        assert match.group("package") == "com.google.android.apps.nexuslauncher"
        text = await out(handset, "monkey -p com.android.settings -c android.intent.category.LAUNCHER 1")
        assert text.startswith("  bash arg: -p\n  bash arg: com.android.settings\n")
        assert "Events injected: 1\n" in text
        match = FOCUSED_RE.search(await out(handset, "dumpsys window windows"))
        assert match
        assert (match.group("package"), match.group("activity")) == \
            ("com.android.settings", "com.android.settings.Settings")
        resumed = RESUMED_RE.search(await out(handset, "dumpsys activity activities"))
        assert resumed
        assert resumed.group("package") == "com.android.settings"
        top = TOP_RE.search(await out(handset, "dumpsys activity top"))
        assert top is not None
        assert f"{top.group('pid')}\n" == await out(handset, "pidof com.android.settings")
        await out(handset, "am force-stop com.android.settings")
        assert (await sh(handset, "pidof com.android.settings")).exit_code == 1
        started = await out(handset, "am start -W -a android.intent.action.MAIN -c android.intent.category.LAUNCHER "
                                     "-n com.android.settings/.Settings")
        assert started.startswith("Starting: Intent { act=android.intent.action.MAIN "
                                  "cat=[android.intent.category.LAUNCHER] cmp=com.android.settings/.Settings }\n")
        assert "Status: ok\nActivity: com.android.settings/.Settings\n" in started
        nope = await sh(handset, "monkey -p com.nope 1")
        assert nope.exit_code == 252
        assert b"No activities found to run, monkey aborted." in nope.stderr
        bad = await sh(handset, "am start -n com.nope/.Main")
        assert bad.stderr == b"Error type 3\nError: Activity class {com.nope/com.nope.Main} does not exist.\n"

    scenario(body)


def test_input_events_are_recorded_and_keys_act() -> None:
    async def body() -> None:
        handset = await boot(provisioned=True)
        system = handset.system
        assert system is not None
        seen: list[InputEvent] = []

        def record(event: InputEvent) -> bool:
            seen.append(event)
            return False  # not handled: the system's own reaction still runs

        system.input.subscribe(record)
        await out(handset, "input tap 540 1200; input text 'hello%sworld'; input keyevent KEYCODE_BACK; "
                           "input swipe 100 200 300 400 10")
        assert [e.kind for e in seen] == ["tap", "text", "keyevent", "swipe"]
        assert (seen[0].x, seen[0].y) == (540.0, 1200.0)
        assert seen[1].text == "hello world"
        assert seen[2].keycode == 4
        assert (seen[3].x2, seen[3].y2, seen[3].duration_ms) == (300.0, 400.0, 10)
        await out(handset, "monkey -p com.android.settings 1")
        await out(handset, "input keyevent 3")  # HOME
        assert system.focused_activity == system.home_activity()
        await out(handset, "input keyevent POWER")
        assert not system.screen_on
        assert "mHoldingDisplaySuspendBlocker=false" in await out(handset, "dumpsys power")
        bad = await sh(handset, "input tap x y")
        assert bad.exit_code == 1
        assert bad.stderr.startswith(b"Error: Invalid arguments for command: tap\n")

    scenario(body)


def test_am_broadcast_output_and_subscribers() -> None:
    async def body() -> None:
        handset = await boot()
        system = handset.system
        assert system is not None
        text = await out(handset, "am broadcast -a com.example.PING --es who lab")
        assert text == "Broadcasting: Intent { act=com.example.PING flg=0x400000 (has extras) }\n" \
                       "Broadcast completed: result=0\n"
        system.broadcasts.subscribe(lambda intent: intent.action == "ADB_KEYBOARD_INPUT_TEXT")
        handled = await out(handset, "am broadcast -a ADB_KEYBOARD_INPUT_TEXT --es msg hi")
        assert handled.endswith('Broadcast completed: result=-1, data="success"\n')
        assert system.broadcasts.events[-1].extras == (("msg", "hi"),)

    scenario(body)


def test_svc_wifi_and_data() -> None:
    async def body() -> None:
        handset = await boot()
        system = handset.system
        assert system is not None
        await out(handset, "svc wifi disable; svc data disable")
        radio = system.radio
        assert (radio.wifi_enabled, radio.mobile_data) == (False, False)
        assert await out(handset, "settings get global wifi_on; settings get global mobile_data") == "0\n0\n"
        assert (await out(handset, "dumpsys wifi")).startswith("Wi-Fi is disabled\n")
        await out(handset, "svc wifi enable")
        assert radio.wifi_enabled
        assert f"MAC: {handset.hardware.wifi_mac}" in await out(handset, "dumpsys wifi")
        assert (await out(handset, "cmd wifi set-wifi-enabled disabled; echo $?")).endswith("255\n")

    scenario(body)


def test_app_process_dispatches_on_the_main_class() -> None:
    calls: list[tuple[list[str], str]] = []

    async def main(ctx: CommandContext) -> int:
        calls.append((ctx.argv, ctx.env.get("CLASSPATH", "")))
        await ctx.out("serving\n")
        return 0

    register_main_class("com.example.lab.Main", main)
    try:
        async def body() -> None:
            handset = await boot()
            command = "CLASSPATH=/data/local/tmp/lab.jar app_process / com.example.lab.Main -p 9008"
            missing = await sh(handset, command)
            assert missing.exit_code == 1  # the jar is not pushed yet
            assert b"Error: Could not find class 'com.example.lab.Main'" in missing.stderr
            handset.fs.write("/data/local/tmp/lab.jar", b"PK\x03\x04")
            assert await out(handset, command) == "serving\n"
            assert calls == [(["com.example.lab.Main", "-p", "9008"], "/data/local/tmp/lab.jar")]
            unknown = await sh(handset, "CLASSPATH=/data/local/tmp/lab.jar app_process / com.nope.Main")
            assert unknown.exit_code == 1
            assert b"ClassNotFoundException" in unknown.stderr
            assert "Events injected: 1" in await out(
                handset, "app_process /system/bin com.android.commands.monkey.Monkey -p com.android.settings 1")

        scenario(body)
    finally:
        unregister_main_class("com.example.lab.Main")


def test_reboot_from_the_shell() -> None:
    async def body() -> None:
        handset = await boot(USERDEBUG)
        assert (await sh(handset, "reboot bootloader")).exit_code == 0
        await handset.wait_for_state(BootState.BOOTLOADER, 5)
        assert handset.system is None

    scenario(body)


def test_recovery_has_a_shell_but_no_android() -> None:
    async def body() -> None:
        handset = await boot()
        await handset.power_off()
        await handset.power_on("recovery")
        result = await run(handset, "getprop ro.build.id; echo hi")
        assert result.exit_code == 0
        assert result.stdout == b"hi\n"
        assert b"getprop: inaccessible or not found" in result.stderr

    scenario(body)


def test_china_build_has_no_google_home() -> None:
    async def body() -> None:
        handset = await boot(CHINA, sim="china-telecom", provisioned=True)
        match = FOCUSED_RE.search(await out(handset, "dumpsys window windows"))
        assert match
        assert match.group("package") == "com.evenwell.launcher"
        assert "Telecom" in await out(handset, "getprop gsm.sim.operator.alpha")

    scenario(body)

"""The Android system model behind the shell: logcat in threadtime, screencap, the serving cell
in telephony.registry, first-boot focus, and what survives a reboot."""

from __future__ import annotations

import asyncio
import io
import re
import struct

from PIL import Image, ImageDraw

from devicelab.model.sims import load_sim
from devicelab.virtual import screen
from devicelab.virtual.android import AndroidSystem
from devicelab.virtual.handset import BootState
from devicelab.virtual.shell import BufferIO, execute
from tests.virtual.shell_helpers import CHINA, boot, out, sh

#: `logcat -v threadtime`: date, time.ms, pid, tid, priority, tag, message (AOSP logprint.c).
THREADTIME = re.compile(r"^(\d\d-\d\d) (\d\d:\d\d:\d\d\.\d{3}) +(\d+) +(\d+) ([VDIWEF]) (.*?)\s*: (.*)$")
CELL = re.compile(r"CellIdentityLte:\{ mCi=(\d+) mPci=(\d+) mTac=(\d+) mEarfcn=\d+ mBandwidth=\d+ "
                  r"mMcc=(\d+) mMnc=(\d+) mAlphaLong=([^ ]+(?: [^ ]+)*) mAlphaShort=")


def test_logcat_dump_is_threadtime_in_device_time() -> None:
    async def body() -> None:
        handset = await boot()
        system = handset.system
        assert system is not None
        system.logcat.write("ZZHC", "Params: {\"IMEI1\":\"x\"}", pid=4321, tid=4330, level="D")
        lines = (await out(handset, "logcat -d")).splitlines()
        assert lines[0] == "--------- beginning of main"
        entries = [THREADTIME.match(line) for line in lines[1:]]
        assert all(entries), lines
        last = entries[-1]
        assert last is not None
        assert last.group(3, 4, 5, 6, 7) == ("4321", "4330", "D", "ZZHC", "Params: {\"IMEI1\":\"x\"}")
        assert lines[-1].endswith(" 4321  4330 D ZZHC    : Params: {\"IMEI1\":\"x\"}")
        tail = (await out(handset, "logcat -v threadtime -d -T 1")).splitlines()
        assert len(tail) == 2
        assert tail[1] == lines[-1]
        brief = (await out(handset, "logcat -d -v brief -s ZZHC")).splitlines()
        assert brief[1:] == ["D/ZZHC    ( 4321): Params: {\"IMEI1\":\"x\"}"]
        assert await out(handset, "logcat -d ZZHC:S *:D | grep -c ZZHC; true") == "0\n"
        assert (await out(handset, "logcat -c; logcat -d")) == ""
        assert (await sh(handset, "logcat -b nosuch -d")).exit_code == 1

    asyncio.run(body())


def test_logcat_radio_buffer_and_all() -> None:
    async def body() -> None:
        handset = await boot()
        system = handset.system
        assert system is not None
        system.logcat.write("RILJ", "[UNSL]< UNSOL_CELL_INFO_LIST", buffer="radio", pid=1001)
        assert "RILJ" not in await out(handset, "logcat -d")
        radio = await out(handset, "logcat -b radio -d")
        assert radio.startswith("--------- beginning of radio\n")
        assert "RILJ" in radio
        assert "RILJ" in await out(handset, "logcat -b all -d")

    asyncio.run(body())


def test_logcat_follows_until_the_host_closes() -> None:
    async def body() -> None:
        handset = await boot()
        system = handset.system
        assert system is not None
        io_ = BufferIO()
        task = asyncio.create_task(execute(handset, "logcat -v brief -s Lab", io_))
        await asyncio.sleep(0.05)
        system.logcat.write("Lab", "first live line", pid=77)
        await asyncio.sleep(0.05)
        io_.closed.set()
        assert await asyncio.wait_for(task, 3) == 0
        assert b"I/Lab     (   77): first live line\n" in io_.out

    asyncio.run(body())


def test_screencap_png_and_raw() -> None:
    async def body() -> None:
        handset = await boot(provisioned=True)
        result = await sh(handset, "screencap -p")
        assert result.exit_code == 0
        assert result.stdout.startswith(b"\x89PNG\r\n\x1a\n")
        image = Image.open(io.BytesIO(result.stdout))
        image.load()
        assert image.size == (1080, 2160)
        assert image.getpixel((540, 1000)) != (0, 0, 0)  # the home screen is drawn, not a black frame
        raw = (await sh(handset, "screencap")).stdout
        assert struct.unpack_from("<III", raw) == (1080, 2160, 1)
        assert len(raw) == 12 + 1080 * 2160 * 4
        await out(handset, "screencap -p /sdcard/shot.png")
        assert Image.open(io.BytesIO(handset.fs.read("/sdcard/shot.png"))).size == (1080, 2160)
        assert (await sh(handset, "screencap /system/shot.png")).exit_code == 1
        await out(handset, "input keyevent POWER")
        dark = Image.open(io.BytesIO((await sh(handset, "screencap -p")).stdout))
        assert dark.getextrema() == ((0, 0), (0, 0), (0, 0))

    asyncio.run(body())


def test_renderers_can_take_over_a_package() -> None:
    async def body() -> None:
        handset = await boot()
        system = handset.system
        assert system is not None
        package = system.focused_activity.partition("/")[0]
        calls: list[tuple[int, int, int, int]] = []

        def paint_red(system_: AndroidSystem, draw: ImageDraw.ImageDraw, box: tuple[int, int, int, int]) -> None:
            calls.append(box)
            draw.rectangle(box, "red")

        screen.register_renderer(package, paint_red)
        try:
            image = screen.render(system)
        finally:
            screen.unregister_renderer(package)
        assert calls == [(0, 63, 1080, 2160 - 126)]
        assert image.getpixel((540, 1000)) == (255, 0, 0)

    asyncio.run(body())


def test_telephony_registry_shows_the_serving_cell_of_the_sim() -> None:
    async def body() -> None:
        handset = await boot(CHINA, sim="china-telecom")
        sim = load_sim("china-telecom")
        dump = await out(handset, "dumpsys telephony.registry")
        match = CELL.search(dump)
        assert match is not None
        assert match.groups()[:5] == (str(sim.cell.eci), str(sim.cell.pci), str(sim.cell.tac), sim.mcc, sim.mnc)
        assert match.group(6) == "China Telecom"
        assert "mVoiceRegState=0(IN_SERVICE)" in dump
        assert "mVoiceOperatorNumeric=46011" in dump
        handset.insert_sim(None)
        empty = await out(handset, "dumpsys telephony.registry")
        assert CELL.search(empty) is None
        assert "mVoiceRegState=1(OUT_OF_SERVICE)" in empty
        assert "mCellInfo=[]" in empty

    asyncio.run(body())


def test_first_boot_shows_the_setup_wizard_and_state_survives_a_reboot() -> None:
    async def body() -> None:
        handset = await boot()
        system = handset.system
        assert system is not None
        assert system.focused_activity == "com.google.android.setupwizard/.SetupWizardActivity"
        android_id = await out(handset, "settings get secure android_id")
        await out(handset, "pm disable-user com.qualcomm.qti.autoregistration; "
                           "settings put global device_provisioned 1; settings put secure user_setup_complete 1; "
                           "echo kept > /sdcard/note")
        handset.reboot()
        await asyncio.sleep(0.2)
        await handset.wait_for_state(BootState.BOOTED, 5)
        assert await out(handset, "settings get secure android_id") == android_id
        assert "package:com.qualcomm.qti.autoregistration" in await out(handset, "pm list packages -d")
        assert await out(handset, "cat /sdcard/note") == "kept\n"
        assert handset.system is not None
        assert handset.system.focused_activity == handset.system.home_activity()
        handset.factory_reset()
        handset.reboot()
        await asyncio.sleep(0.2)
        await handset.wait_for_state(BootState.BOOTED, 5)
        assert await out(handset, "settings get secure android_id") != android_id
        assert await out(handset, "pm list packages -d") == ""

    asyncio.run(body())

"""The builds' apps on the device clock: who sends what, when, and only when they should."""

from __future__ import annotations

import asyncio
import gzip
import json

import blackboxprotobuf

from devicelab.model.builds import load_build
from devicelab.model.sims import load_sim
from devicelab.virtual import consent, shell
from devicelab.virtual.handset import BootState, VirtualHandset
from devicelab.virtual.net import browser, zzhc
from devicelab.virtual.net.http1 import ReceivedRequest
from devicelab.virtual.net.internet import VirtualInternet
from tests.virtual.net_helpers import boot, eventually, run

U64 = 2**64 - 1  # a schema-less decoder reads int64 varints as signed
LEAKY, FIXED, CHINA = "nokia7plus-00WW_3_22C", "nokia7plus-00WW_3_22C_SP05", "nokia7plus-00CN_3_340"


def to_zzhc(request: ReceivedRequest) -> bool:
    return request.host == zzhc.HOST


def outcomes(handset: VirtualHandset, name: str) -> list[str]:
    assert handset.network is not None
    return [f"{r.reason}:{r.outcome}" for r in handset.network.runs if r.name == name]


def test_leaky_build_registers_60_device_seconds_after_boot_and_on_unlock() -> None:
    async def scenario() -> None:
        internet = VirtualInternet()
        await internet.start()
        handset = await boot(internet, LEAKY, sim="telenor-no", scale=240)  # 60 device s = 0.25 s
        system = handset.system
        assert system is not None
        try:
            first = await internet.wait_for(to_zzhc, 5)
            booted_at = next(e.time for e in system.logcat.entries if e.message == "Boot completed")
            sent_at = next(e.time for e in system.logcat.entries if e.message.startswith("Params: "))
            assert 60 <= sent_at - booted_at < 60 + 480, sent_at - booted_at  # 60 device s (+ < 2 host s)
            # the exact wire shape: POST / over plain HTTP, Apache's headers, Base64.DEFAULT body
            assert (first.method, first.target, first.tls) == ("POST", "/", False)
            assert [k for k, _ in first.headers] == ["Content-Length", "Content-Type", "Host", "Connection",
                                                     "User-Agent"]
            assert first.header("Content-Type") == "application/encrypted-json"
            assert first.header("Host") == "zzhc.vnet.cn"
            lines = first.body.split(b"\n")
            assert first.body.endswith(b"\n")
            assert {len(line) for line in lines[:-2]} == {76}
            sent = zzhc.decode_body(first.body)
            hw, sim = handset.hardware, load_sim("telenor-no")
            assert sent["IMEI1"] == sent["MEID"] == hw.imei1
            assert sent["IMEI2"] == hw.imei2
            assert (sent["SIM1ICCID"], sent["SIM1LTEIMSI"], sent["SIM1CELLID"]) == (sim.iccid, sim.imsi,
                                                                                     str(sim.cell.eci))
            assert sent["MACID"] == hw.wifi_mac
            assert sent["MODEL"] == "HMD-Nokia 7 plus"
            params = [e.message for e in system.logcat.entries if e.tag == "RegistrationTask"
                      and e.message.startswith("Params: ")]
            assert json.loads(params[0].removeprefix("Params: ")) == sent
            # /proc/net shows the app's socket (uid 10070) with the port the responder saw
            row = next(s for s in system.sockets if s.local[1] == first.peer[1])
            assert row.uid == system.package("com.qualcomm.qti.autoregistration").uid == 10070  # type: ignore[union-attr]
            # unlock: screen on, then MENU, as test scripts do it
            assert (await shell.run(handset, "input keyevent 82")).exit_code == 0
            await eventually(lambda: len(internet.requests_to(zzhc.HOST)) == 2, 5)
            assert outcomes(handset, "zzhc") == ["boot:sent", "unlock:sent"]
            await shell.run(handset, "input keyevent 82")  # already unlocked: nothing new
            await shell.run(handset, "input keyevent 26")  # screen off: locks
            await shell.run(handset, "input keyevent 26")  # screen on
            await shell.run(handset, "input keyevent KEYCODE_MENU")
            await eventually(lambda: len(internet.requests_to(zzhc.HOST)) == 3, 5)
        finally:
            await handset.power_off()
            await internet.stop()

    run(scenario)


def test_fixed_build_never_registers_and_china_build_only_with_a_china_telecom_sim() -> None:
    async def scenario() -> None:
        internet = VirtualInternet()
        await internet.start()
        fixed = await boot(internet, FIXED, sim="telenor-no", scale=600, seed="fixed")
        china_roamer = await boot(internet, CHINA, sim="telenor-no", scale=600, seed="roamer")
        china = await boot(internet, CHINA, sim="china-telecom", scale=600, seed="china")
        try:
            arrived = await internet.wait_for(to_zzhc, 5)
            assert zzhc.decode_body(arrived.body)["IMEI1"] == china.hardware.imei1
            await eventually(lambda: bool(outcomes(china_roamer, "zzhc")), 5)
            assert outcomes(china_roamer, "zzhc") == ["boot:skipped: SIM network not targeted"]
            assert outcomes(fixed, "zzhc") == []
            await eventually(lambda: bool(outcomes(fixed, "checkin")), 5)  # the fixed build is alive and talking
            assert len(internet.requests_to(zzhc.HOST)) == 1
            # the China client registers once per SIM card: not again after a reboot
            china.reboot()
            await china.wait_for_state(BootState.BOOTED, 5)
            await eventually(lambda: len(outcomes(china, "zzhc")) == 2, 5)
            assert outcomes(china, "zzhc")[1] == "boot:skipped: already registered"
        finally:
            for handset in (fixed, china_roamer, china):
                await handset.power_off()
            await internet.stop()

    run(scenario)


def test_leaky_build_waits_for_a_sim_and_registers_after_one_is_inserted() -> None:
    async def scenario() -> None:
        internet = VirtualInternet()
        await internet.start()
        handset = await boot(internet, LEAKY, sim=None, scale=600)
        try:
            handset.radio.wifi_connected = True  # online through Wi-Fi, but no cellular service
            await eventually(lambda: bool(outcomes(handset, "zzhc")), 5)
            assert outcomes(handset, "zzhc") == ["boot:skipped: no SIM"]
            handset.insert_sim(load_sim("telia-fi"))
            request = await internet.wait_for(to_zzhc, 5)
            sent = zzhc.decode_body(request.body)
            assert sent["SIM1LTEIMSI"] == "244910123456789"
            assert sent["ACCESSTYPE"] == "2"
            await eventually(lambda: outcomes(handset, "zzhc")[-1] == "sim_changed:sent", 5)
        finally:
            await handset.power_off()
            await internet.stop()

    run(scenario)


def test_checkin_carries_the_handset_identifiers_over_tls() -> None:
    async def scenario() -> None:
        internet = VirtualInternet()
        await internet.start()
        handset = await boot(internet, FIXED, sim="telenor-no", scale=600)
        try:
            request = await internet.wait_for(lambda r: r.host == "android.clients.google.com", 5)
            assert request.tls
            assert request.path == "/checkin"
            assert request.header("Content-Encoding") == "gzip"
            message, _ = blackboxprotobuf.decode_message(gzip.decompress(request.body))
            system = handset.system
            assert system is not None
            assert message["1"] in (handset.hardware.imei1, handset.hardware.imei1.encode())
            assert int(message["2"]) & U64 == int(system.settings("secure")["android_id"], 16)
            assert message["9"] in (handset.hardware.wifi_mac.replace(":", ""),
                                    handset.hardware.wifi_mac.replace(":", "").encode())
            await eventually(lambda: "boot:sent" in outcomes(handset, "checkin"), 5)
            logged = [e.message for e in system.logcat.entries if e.tag == "CheckinTask"]
            assert any(line.startswith("Checkin success") for line in logged)
        finally:
            await handset.power_off()
            await internet.stop()

    run(scenario)


def test_analytics_only_with_consent() -> None:
    async def scenario() -> None:
        internet = VirtualInternet()
        await internet.start()
        refused = await boot(internet, FIXED, sim="telenor-no", scale=3000, seed="refused")
        agreed = await boot(internet, FIXED, sim="telenor-no", scale=3000, seed="agreed")
        assert agreed.system is not None
        assert refused.system is not None
        consent.record(agreed.system, "google_usage_diagnostics", True)
        consent.record(agreed.system, "oem_analytics", True)
        consent.record(refused.system, "google_usage_diagnostics", False)
        try:
            google = await internet.wait_for(lambda r: r.host == "play.googleapis.com", 5)
            hmd = await internet.wait_for(lambda r: r.host == "analytics.hmdglobal.com", 5)
            assert json.loads(hmd.body)["androidId"] == agreed.system.settings("secure")["android_id"]
            assert google.tls
            assert hmd.tls
            sent, _ = blackboxprotobuf.decode_message(google.body)  # Clearcut: client_info.android.android_id
            assert int(sent["1"]["2"]["1"]) & U64 == int(agreed.system.settings("secure")["android_id"], 16)
            await eventually(lambda: len(outcomes(refused, "google-usage")) >= 2, 5)
            assert outcomes(refused, "google-usage")[:2] == [
                f"periodic #{n}:skipped: no consent: google_usage_diagnostics" for n in (1, 2)]
            assert outcomes(refused, "hmd-analytics")[0] == "periodic #1:skipped: no consent: oem_analytics"
            refused_id = refused.system.settings("secure")["android_id"]
            assert all(refused_id not in r.body.decode("latin-1") for r in internet.requests
                       if r.host in ("analytics.hmdglobal.com", "play.googleapis.com"))
            assert all(int(blackboxprotobuf.decode_message(r.body)[0]["1"]["2"]["1"]) & U64 != int(refused_id, 16)
                       for r in internet.requests_to("play.googleapis.com"))
        finally:
            await refused.power_off()
            await agreed.power_off()
            await internet.stop()

    run(scenario)


def test_disabled_package_stays_silent_and_reboot_cancels_pending_traffic() -> None:
    async def scenario() -> None:
        internet = VirtualInternet()
        await internet.start()
        handset = await boot(internet, LEAKY, sim="telenor-no", scale=60)  # 60 device s = 1 s
        try:
            handset.reboot()  # before the 60 s are up: the pending registration dies with the system
            await handset.wait_for_state(BootState.BOOTED, 5)
            assert (await shell.run(handset, "pm disable-user com.qualcomm.qti.autoregistration")).exit_code == 0
            await eventually(lambda: bool(outcomes(handset, "zzhc")), 5)
            await asyncio.sleep(0.3)  # a stale alarm of the first boot would fire about now
            assert outcomes(handset, "zzhc") == [
                "boot:skipped: package com.qualcomm.qti.autoregistration is not enabled"]
            assert internet.requests_to(zzhc.HOST) == []
        finally:
            await handset.power_off()
            await internet.stop()

    run(scenario)


def test_an_update_fires_the_fingerprint_changed_triggers() -> None:
    async def scenario() -> None:
        internet = VirtualInternet()
        await internet.start()
        handset = await boot(internet, LEAKY, sim="telenor-no", scale=600)
        try:
            await handset.power_off()
            handset.install(load_build(FIXED))  # the OTA to the fixed build, data kept
            await handset.power_on()
            await handset.wait_for_state(BootState.BOOTED, 5)
            await eventually(lambda: "fingerprint_changed:sent" in outcomes(handset, "checkin"), 5)
            await handset.power_off()
            await handset.power_on()  # same build again: no update
            await handset.wait_for_state(BootState.BOOTED, 5)
            await eventually(lambda: outcomes(handset, "checkin").count("boot:sent") == 2, 5)
            assert outcomes(handset, "checkin").count("fingerprint_changed:sent") == 1
        finally:
            await handset.power_off()
            await internet.stop()

    run(scenario)


def test_the_browser_loads_a_url_through_the_proxy_setting() -> None:
    async def scenario() -> None:
        internet = VirtualInternet()
        await internet.start()
        handset = await boot(internet, FIXED, sim="telenor-no", scale=1)
        try:
            assert handset.network is not None
            assert handset.system is not None
            assert browser.browser_component(handset.system) == "com.android.chrome/com.google.android.apps.chrome.Main"
            page = await browser.load(handset.network, "https://example.com/canary-7f3a")
            assert (page.status, page.error) == (200, "")
            assert b"Example Domain" in page.body
            canary = internet.requests_to("example.com")[0]
            assert canary.target == "/canary-7f3a"
            assert "Chrome/" in (canary.header("User-Agent") or "")
            missing = await browser.load(handset.network, "https://no-such-host.example/")
            assert missing.error == "net::ERR_NAME_NOT_RESOLVED"
            assert browser.open_url(handset, "https://example.org/")
            await internet.wait_for(lambda r: r.host == "example.org", 5)
        finally:
            await handset.power_off()
            await internet.stop()

    run(scenario)

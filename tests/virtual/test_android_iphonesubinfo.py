"""IPhoneSubInfo over `service call`: the harness-side table and Parcel reader
(devicelab.android.iphonesubinfo) against a real capture and against the virtual handset."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from devicelab.android import iphonesubinfo
from devicelab.android.iphonesubinfo import ParcelError, parse_parcel_optional_string, parse_parcel_string
from devicelab.model.sims import load_sim
from devicelab.virtual.binder import Parcel, format_parcel, string_reply
from tests.virtual.shell_helpers import boot, out, sh

DATA = Path(__file__).parent / "data"
#: Real output from mzlogin/awesome-adb (MIT): `service call iphonesubinfo 1` on a phone.
REAL_REPLY = (DATA / "awesome-adb_service_call_iphonesubinfo_1.txt").read_text()


def test_reads_the_imei_out_of_a_real_reply() -> None:
    assert parse_parcel_string(REAL_REPLY) == "860955027785041"


def test_virtual_parcel_dump_is_byte_identical_to_the_real_one() -> None:
    assert format_parcel(string_reply("860955027785041")) + "\n" == REAL_REPLY


def test_short_replies_print_on_one_line() -> None:
    assert format_parcel(string_reply(None)) == "Result: Parcel(00000000 ffffffff   '........')"
    assert format_parcel(bytes(Parcel().write_int(0).data)) == "Result: Parcel(00000000    '....')"
    assert format_parcel(b"") == "Result: Parcel(NULL)"
    assert parse_parcel_optional_string(format_parcel(string_reply(None))) is None
    assert parse_parcel_string(format_parcel(string_reply(None))) == ""


def test_exceptions_and_garbage_are_errors() -> None:
    threw = format_parcel(bytes(Parcel().write_exception(-1, "Requires READ_PHONE_STATE").data))
    with pytest.raises(ParcelError, match="Requires READ_PHONE_STATE"):
        parse_parcel_string(threw)
    for bad in ("Result: Parcel(NULL)", "/system/bin/sh: service: not found", "Result: Parcel(Error: 0xffffffb5)"):
        with pytest.raises(ParcelError):
            parse_parcel_string(bad)


@given(st.one_of(st.none(), st.text(max_size=200)))
def test_any_string_survives_the_round_trip(value: str | None) -> None:
    assert parse_parcel_optional_string(format_parcel(string_reply(value))) == value


def test_transaction_table_of_android_9() -> None:
    assert iphonesubinfo.transaction_code("getDeviceId") == 1
    assert iphonesubinfo.transaction_code("getDeviceIdForPhone") == 3
    assert iphonesubinfo.transaction_code("getSubscriberId") == 7
    assert iphonesubinfo.transaction_code("getIccSerialNumber") == 11
    assert iphonesubinfo.transaction_code("getLine1Number") == 13
    assert iphonesubinfo.transaction_code("getIccSerialNumber", sdk=29) == 10  # Android 10 dropped one method
    assert iphonesubinfo.service_call_argv("getDeviceIdForPhone", 1) == \
        ["service", "call", "iphonesubinfo", "3", "i32", "1"]
    with pytest.raises(ValueError, match="API level 17"):
        iphonesubinfo.transaction_code("getDeviceId", sdk=17)


def test_the_virtual_handset_answers_with_its_identities() -> None:
    async def body() -> None:
        handset = await boot(sim="telenor-no")
        sim = load_sim("telenor-no")

        async def read(method: str, *ints: int) -> str:
            return parse_parcel_string(await out(handset, " ".join(iphonesubinfo.service_call_argv(method, *ints))))

        assert await read("getDeviceId") == handset.hardware.imei1
        assert await read("getDeviceIdForPhone", 0) == handset.hardware.imei1
        assert await read("getDeviceIdForPhone", 1) == handset.hardware.imei2
        assert await read("getSubscriberId") == sim.imsi
        assert await read("getIccSerialNumber") == sim.iccid
        assert await read("getLine1Number") == sim.msisdn
        assert await read("getSubscriberIdForSubscriber", 1) == sim.imsi
        # root reads the same; su is how the realdata example did it
        assert parse_parcel_string(await out(handset, "service call iphonesubinfo 1", root=True)) == \
            handset.hardware.imei1

    asyncio.run(body())


def test_without_a_sim_the_subscriber_reads_are_null() -> None:
    async def body() -> None:
        handset = await boot(sim=None)
        assert parse_parcel_optional_string(await out(handset, "service call iphonesubinfo 7")) is None
        assert parse_parcel_optional_string(await out(handset, "service call iphonesubinfo 11")) is None
        assert parse_parcel_string(await out(handset, "service call iphonesubinfo 1")) == handset.hardware.imei1
        assert await out(handset, "service call iphonesubinfo 99") == "Result: Parcel(NULL)\n"

    asyncio.run(body())


def test_service_command_errors_and_listing() -> None:
    async def body() -> None:
        handset = await boot()
        missing = await sh(handset, "service call nosuchservice 1")
        assert (missing.exit_code, missing.stderr) == (10, b"service: Service nosuchservice does not exist\n")
        assert "\tiphonesubinfo: [com.android.internal.telephony.IPhoneSubInfo]\n" in await out(handset, "service list")
        assert await out(handset, "service check iphonesubinfo") == "Service iphonesubinfo: found\n"
        # INTERFACE_TRANSACTION ('_NTF') answers with the bare descriptor, no exception header
        data = iphonesubinfo.parse_parcel(await out(handset, "service call iphonesubinfo 1598968902"))
        name = iphonesubinfo.INTERFACE
        assert data[4 : 4 + 2 * len(name)].decode("utf-16-le") == name

    asyncio.run(body())


def test_dumpsys_iphonesubinfo_is_empty_on_android_5_and_later() -> None:
    async def body() -> None:
        handset = await boot()
        result = await sh(handset, "dumpsys iphonesubinfo")
        assert (result.exit_code, result.stdout, result.stderr) == (0, b"", b"")

    asyncio.run(body())

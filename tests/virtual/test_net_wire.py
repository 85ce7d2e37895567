"""Wire formats of the virtual apps, decoded the way a capture would (no network)."""

from __future__ import annotations

import base64
import gzip
import json
import shutil
import subprocess
from pathlib import Path
from typing import Any, get_args

import blackboxprotobuf
import pytest
from hypothesis import given
from hypothesis import strategies as st

from devicelab.errors import ConfigError
from devicelab.model.builds import ConsentName, load_build, load_build_file
from devicelab.model.sims import load_sim
from devicelab.virtual import consent
from devicelab.virtual.net import checkin, pki, protobuf, zzhc
from devicelab.virtual.net.dns import LabResolver, NameNotResolved
from devicelab.virtual.net.facts import DeviceFacts
from devicelab.virtual.net.proxyconf import ProxySetting, global_proxy, is_local_address

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"


def facts(sim: str | None = "telenor-no", build: str = "nokia7plus-00WW_3_22C") -> DeviceFacts:
    props = load_build(build).system_properties()
    props.update({"persist.sys.timezone": "Europe/Oslo"})
    return DeviceFacts(
        imei1="353911104020921", imei2="353911102313773", serial="B2NABC0123456789", wifi_mac="8c:45:00:20:dc:7e",
        android_id="3f2a9c1d0b7e4a55", fingerprint=props["ro.build.fingerprint"], props=props, locale="en-US",
        timezone="Europe/Oslo", now=1_548_000_000.0, sim=load_sim(sim) if sim else None, wifi_connected=True,
    )


# -- zzhc ------------------------------------------------------------------------------------
def test_zzhc_body_is_base64_default_of_the_json() -> None:
    f = facts()
    payload = zzhc.java_json(zzhc.params(f))
    body = zzhc.request_body(payload)
    lines = body.split(b"\n")
    assert body.endswith(b"\n")
    assert lines[-1] == b""
    assert all(len(line) == 76 for line in lines[:-2])
    assert 0 < len(lines[-2]) <= 76
    decoded = json.loads(base64.b64decode(b"".join(lines)))
    assert list(decoded) == ["REGVER", "MEID", "MODEL", "SWVER", "UETYPE", "SIM1ICCID", "SIM1LTEIMSI", "SIM1CELLID",
                             "MACID", "IMEI1", "IMEI2", "OSVER", "ACCESSTYPE", "REGDATE"]
    assert decoded["MEID"] == decoded["IMEI1"] == f.imei1
    assert decoded["IMEI2"] == f.imei2
    assert decoded["SIM1ICCID"] == "8947080037110452710"
    assert decoded["SIM1LTEIMSI"] == "242016000451873"
    assert decoded["SIM1CELLID"] == "219769344"  # the SIM profile's LTE ECI as decimal
    assert decoded["MACID"] == "8c:45:00:20:dc:7e"
    assert decoded["OSVER"] == "android9"
    assert decoded["UETYPE"] == "1"
    assert decoded["MODEL"] == "HMD-Nokia 7 plus"
    assert decoded["SWVER"] == "00WW_3_22C"
    assert decoded["REGDATE"] == "2019-01-20 17:00:00"  # device time in Europe/Oslo
    assert zzhc.decode_body(body) == decoded


def test_zzhc_fields_follow_the_china_build_and_missing_sim() -> None:
    params = zzhc.params(facts(sim=None, build="nokia7plus-00CN_3_340"))
    assert params["SWVER"] == "V3.340"
    assert params["SIM1ICCID"] == "0" * 20
    assert params["SIM1LTEIMSI"] == ""
    assert len(zzhc.model_name(facts())) <= 20


def test_java_json_escapes_slashes_like_org_json() -> None:
    assert zzhc.java_json({"A": "a/b", "B": "中"}) == '{"A":"a\\/b","B":"中"}'


def test_zzhc_headers_are_apache_httpclients() -> None:
    headers = dict(zzhc.headers(b"x" * 10))
    assert headers["Content-Type"] == "application/encrypted-json"
    assert headers["Content-Length"] == "10"
    assert headers["Host"] == "zzhc.vnet.cn"
    with pytest.raises(ValueError, match="Base64"):
        zzhc.decode_body(b"not base64 at all!")


# -- checkin ---------------------------------------------------------------------------------
def test_checkin_protobuf_carries_the_identifiers() -> None:
    f = facts()
    body = checkin.request_body(f)
    message, _types = blackboxprotobuf.decode_message(gzip.decompress(body))  # no schema, as a detector sees it
    assert message["1"] == f.imei1.encode() or message["1"] == f.imei1  # IMEI as a string
    android_id = int(message["2"]) & (2**64 - 1)
    assert android_id == int(f.android_id, 16)  # the Android ID as a varint
    assert _text(message["9"]) == "8c450020dc7e"  # MAC without separators
    assert _text(message["16"]) == f.serial
    assert _text(message["4"]["1"]["1"]) == f.fingerprint  # checkin.build.id
    assert _text(message["4"]["7"]) == "24201"  # SIM operator


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def test_checkin_response_gives_the_android_id_back_as_fixed64() -> None:
    f = facts()
    reply = checkin.response_bytes(checkin.request_bytes(f), 1_548_000_000_000)
    ok, android_id, token = checkin.parse_response(reply)
    assert ok
    assert android_id == int(f.android_id, 16)
    assert token
    wire = dict((n, w) for n, w, _ in protobuf.decode(reply))
    assert wire[7] == protobuf.FIXED64


@given(st.lists(st.tuples(st.integers(1, 2000), st.integers(-(2**63), 2**64 - 1)), max_size=20))
def test_protobuf_varints_round_trip(fields: list[tuple[int, int]]) -> None:
    message = protobuf.Message()
    for number, value in fields:
        message.num(number, value)
    decoded = protobuf.decode(message.encode())
    assert [(n, v) for n, _, v in decoded] == [(n, v & (2**64 - 1)) for n, v in fields]


@pytest.mark.parametrize("bad", [b"\x08", b"\x0a\x05ab", b"\x00\x01", b"\x0b", b"\x08" + b"\xff" * 11])
def test_protobuf_reader_refuses_malformed_input(bad: bytes) -> None:
    with pytest.raises(ValueError):
        protobuf.decode(bad)


# -- DNS, proxy setting ----------------------------------------------------------------------
def test_lab_resolver_answers_only_lab_hosts() -> None:
    resolver = LabResolver()
    resolver.add("zzhc.vnet.cn", ("127.0.0.1", 4242), aliases=("42.99.2.15",))
    assert resolver.resolve("ZZHC.vnet.cn.") == ("127.0.0.1", 4242)
    assert resolver.resolve("42.99.2.15") == ("127.0.0.1", 4242)
    for name in ("www.nrk.no", "8.8.8.8", "localhost", "vnet.cn", ""):
        with pytest.raises(NameNotResolved):
            resolver.resolve(name)
    assert "www.nrk.no" in resolver.queries


@pytest.mark.parametrize(("settings", "expected"), [
    ({}, None),
    ({"http_proxy": ""}, None),
    ({"http_proxy": ":0"}, None),
    ({"http_proxy": "127.0.0.1:8080"}, ProxySetting("127.0.0.1", 8080)),
    ({"http_proxy": "[::1]:3128"}, ProxySetting("::1", 3128)),
    ({"http_proxy": "nonsense"}, None),
    ({"http_proxy": "host:99999"}, None),
    ({"global_http_proxy_host": "10.0.2.2", "global_http_proxy_port": "8888"}, ProxySetting("10.0.2.2", 8888)),
])
def test_global_proxy_setting(settings: dict[str, str], expected: ProxySetting | None) -> None:
    assert global_proxy(settings) == expected


def test_only_local_proxy_addresses_are_reachable() -> None:
    assert is_local_address("127.0.0.1")
    assert is_local_address("localhost")
    assert is_local_address("::1")
    assert not is_local_address("192.0.2.10")  # TEST-NET-1: never an address of this machine
    assert not is_local_address("proxy.example")


# -- consent and manifests -------------------------------------------------------------------
def test_every_consent_has_a_settings_key_the_wizards_write() -> None:
    assert set(consent.CONSENTS) == set(get_args(ConsentName))
    wizards = "".join(p.read_text() for p in (FIXTURES / "wizards").glob("*.yaml"))
    used = {name for build in ("nokia7plus-00WW_3_22C", "nokia7plus-00CN_3_340")
            for app in load_build(build).traffic for name in app.when.consent}
    assert used
    for name in used:
        assert f"key: {consent.CONSENTS[name].key}" in wizards, name


def test_traffic_manifest_errors_name_the_field(tmp_path: Path) -> None:
    good = (FIXTURES / "builds/nokia7plus-00WW_3_22C_SP05.yaml").read_text()
    cases = {
        "package: com.evenwell.pushagent": ("package: com.example.absent", "traffic hmd-push: package"),
        "{event: periodic, every: 270, count: 20}": ("{event: periodic, every: 270}", "traffic.4.triggers.0"),
        "url: http://xtrapath1.izatcloud.net/xtra3grc.bin": ("url: ftp://xtra/x", "traffic.7.url"),
    }
    for old, (new, field) in cases.items():
        path = tmp_path / "nokia7plus-00WW_3_22C_SP05.yaml"
        assert old in good
        path.write_text(good.replace(old, new, 1))
        with pytest.raises(ConfigError) as info:
            load_build_file(path)
        assert info.value.field.startswith(field) or field in info.value.problem, (old, info.value)


def test_only_the_leaky_and_china_builds_carry_the_self_registration_traffic() -> None:
    def zzhc_apps(name: str) -> list[str]:
        return [a.name for a in load_build(name).traffic if a.payload == "zzhc"]

    assert zzhc_apps("nokia7plus-00WW_3_22C") == ["zzhc"]
    assert zzhc_apps("nokia7plus-00WW_3_22C_SP05") == []
    china = next(a for a in load_build("nokia7plus-00CN_3_340").traffic if a.payload == "zzhc")
    assert set(china.when.sim_mccmnc) == {"46003", "46005", "46011"}


@pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl is not installed")
def test_store_name_is_openssls_subject_hash_old(tmp_path: Path) -> None:
    ca, _key = pki.make_root_ca()
    (tmp_path / "ca.pem").write_bytes(ca.cert_pem)
    out = subprocess.run(["openssl", "x509", "-in", str(tmp_path / "ca.pem"), "-noout", "-subject_hash_old"],
                         capture_output=True, text=True, timeout=20, check=True)
    assert pki.android_store_name(ca.cert) == out.stdout.strip() + ".0"

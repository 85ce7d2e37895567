from __future__ import annotations

import json
import struct

import pytest

from devicelab.analysis.location import degrees, distance_m
from tests.analysis.helpers import analyze, make_flow
from tests.analysis.test_encodings import _varint

# the example identity: lat 59.9127, lon 10.7461, radius 2000 m
NEAR = (59.9200, 10.7500)  # ~850 m away
FAR = (59.9500, 10.7461)  # ~4 km away


def _locations(flow_body: bytes = b"", path: str = "/x", ctype: str = "application/json") -> list[str]:
    flow = make_flow(flow_body, path=path, headers={"Content-Type": ctype})
    return [f.location for f in analyze(flow).findings if f.kind == "location"]


@pytest.mark.parametrize(("build", "where"), [
    (lambda la, lo: ({"lat": la, "lng": lo}, None), "body > json:$"),
    (lambda la, lo: ({"pos": {"latitude": str(la), "longitude": str(lo)}}, None), "body > json:pos"),
    (lambda la, lo: ({"geo": {"type": "Point", "coordinates": [lo, la]}}, None), "body > json:geo.coordinates"),
    (lambda la, lo: ({"latE7": round(la * 1e7), "lngE7": round(lo * 1e7)}, None), "body > json:$"),
    (lambda la, lo: ({"la": round(la * 1e6), "lo": round(lo * 1e6)}, None), "body > json:$"),
    (lambda la, lo: (None, f"/ads?ll={la},{lo}&z=3"), "url > query:ll"),
    (lambda la, lo: (None, f"/ads?lat={la}&lon={lo}"), "url > query"),
])
def test_position_near_the_handset_is_found(build: object, where: str) -> None:
    for point, expected in ((NEAR, [where]), (FAR, [])):
        body, path = build(*point)  # type: ignore[operator]
        found = _locations(json.dumps(body).encode() if body else b"", path or "/x")
        assert found == expected, (point, found)


def test_e7_integers_in_protobuf() -> None:
    lat, lon = (round(v * 1e7) for v in NEAR)
    body = _varint(1 << 3) + _varint(lat) + _varint(2 << 3) + _varint(lon)
    body += _varint(3 << 3 | 1) + struct.pack("<d", 1.5)
    assert _locations(body, ctype="application/x-protobuf") == ["body > protobuf:$"]


def test_numbers_alone_are_not_a_position() -> None:
    assert _locations(json.dumps({"lat": NEAR[0], "ver": 10, "other": {"lon": NEAR[1]}}).encode()) == []
    assert _locations(json.dumps({"timeout": 60, "retries": 11}).encode()) == []  # coarse integers are not degrees
    assert _locations(json.dumps({"a": NEAR[0], "b": 59.92}).encode()) == []  # two latitudes


def test_degrees_readings() -> None:
    assert degrees(59.9127) == [59.9127]
    assert degrees(60.0) == []
    assert degrees(1e-7) == []
    assert degrees("10.75") == [10.75]
    assert degrees(599127000) == [599.127, 59.9127]
    assert degrees("v1.25") == []
    assert distance_m(59.9127, 10.7461, 59.9127, 10.7461) == 0
    assert 3300 < distance_m(59.9127, 10.7461, 59.9427, 10.7461) < 3400

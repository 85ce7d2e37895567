"""Positions near the handset, in any numeric form: degrees as numbers or strings, E6/E7 integers, "lat,lon".

A single number near the latitude proves nothing (timeouts and versions are numbers too): a
finding needs a latitude and a longitude side by side, in one object, one query string or one
"lat,lon" string, and the pair must lie within the fence's radius. E6/E7 integers are also read
as the 32- and 64-bit two's complement a protobuf sfixed32/sfixed64 field (Google's `latitudeE7`)
arrives as without a schema. A geohash is one token that holds both: the cells of precision 6
(about 1.2 x 0.6 km) whose middle lies in the fence are needles (`geohash_cells`).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from devicelab.analysis.decoders import FieldGroup, Segment
from devicelab.analysis.numeric import geohash, geohash_center
from devicelab.analysis.structured import Scalar
from devicelab.model.identity import GeoFence

_EARTH_M = 6_371_008.8
_DEGREES = re.compile(r"-?\d{1,3}\.\d{2,}")
_SCALED = re.compile(r"-?\d{6,10}")
_PAIR = re.compile(rb"(-?\d{1,3}\.\d{2,})\s*(?:,|;|/|\s)\s*(-?\d{1,3}\.\d{2,})")
_MAX_PAIRS = 1_000


@dataclass(frozen=True, slots=True)
class LocationHit:
    where: tuple[str, ...]
    steps: tuple[str, ...]
    keys: str  # which members held latitude and longitude, e.g. "lat,lng"
    lat: float
    lon: float
    distance_m: float


def distance_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance (haversine)."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * _EARTH_M * math.asin(min(1.0, math.sqrt(a)))


def degrees(value: Scalar) -> list[float]:
    """The readings of one value as degrees: itself if precise enough, or an E6/E7 integer scaled."""
    if isinstance(value, float):
        text = repr(value)
        if "e" in text or len(text.partition(".")[2]) < 2:
            return []
        return [value]
    if isinstance(value, int):
        if 2**31 <= value < 2**32:  # a negative sfixed32 read as unsigned
            value -= 2**32
        elif 2**63 <= value < 2**64:  # a negative sfixed64 / int64 read as unsigned
            value -= 2**64
        return [value / 1e6, value / 1e7] if 100_000 <= abs(value) < 10**10 else []
    text = value.strip()
    if _DEGREES.fullmatch(text):
        return [float(text)]
    if _SCALED.fullmatch(text):
        return degrees(int(text))
    return []


class Locator:
    """Checks field groups and text against one geofence."""

    def __init__(self, fence: GeoFence) -> None:
        self.fence = fence
        self._dlat = fence.radius_m / 111_000 * 1.01
        self._dlon = self._dlat / max(math.cos(math.radians(fence.lat)), 0.01)
        low, high = abs(fence.lat) - self._dlat, abs(fence.lat) + self._dlat
        self._prefixes = {f"{int(v)}.".encode() for v in (max(low, 0.0), high)}

    def hints(self) -> tuple[list[bytes], list[bytes]]:
        """Regexes (for the gate) that every latitude and every longitude reading near the fence matches.

        A reading in the window starts with the same hundredths however it is spelled: "59.91..." as
        degrees, "5991..." as an E6/E7 integer (at the start of a number: leading zeros and a sign allowed).
        """
        return self._hints(self.fence.lat, self._dlat), self._hints(self.fence.lon, self._dlon)

    @staticmethod
    def _hints(center: float, delta: float) -> list[bytes]:
        low, high = max(abs(center) - delta, 0.0), abs(center) + delta
        hundredths = range(max(math.floor(low * 100) - 1, 0), math.floor(high * 100) + 2)
        dotted = b"|".join(f"{h // 100}\\.{h % 100:02d}".encode() for h in hundredths)
        scaled = [str(h) for h in hundredths]
        if center - delta < 0:  # a negative E6/E7 may come as its unsigned two's complement
            for wrap in (2**32, 2**64):
                for scale in (10**6, 10**7):
                    for h in hundredths:
                        top, bottom = str(wrap - h * scale // 100), str(wrap - (h + 2) * scale // 100)
                        same = next((i for i, (a, b) in enumerate(zip(top, bottom, strict=True)) if a != b), len(top))
                        scaled.append(top[:same])  # the leading digits every value in the window shares
        return [dotted, b"(?:^|[^0-9.])0*(?:" + "|".join(dict.fromkeys(scaled)).encode() + b")"]

    def geohash_cells(self, precision: int = 6) -> list[tuple[str, float]]:
        """The geohash cells whose middle lies within the fence, with that middle's distance (m)."""
        fence = self.fence
        step_lat, step_lon = 180 / 2 ** (5 * precision // 2), 360 / 2 ** (5 * precision - 5 * precision // 2)
        cells: dict[str, float] = {}
        rows = int(self._dlat / step_lat * 2) + 2
        cols = int(self._dlon / step_lon * 2) + 2
        for i in range(-rows, rows + 1):
            for j in range(-cols, cols + 1):
                lat, lon = fence.lat + i * step_lat / 2, fence.lon + j * step_lon / 2
                if abs(lat) > 90:
                    continue
                cell = geohash(lat, (lon + 180) % 360 - 180, precision)
                if cell not in cells:
                    middle = geohash_center(cell)
                    meters = distance_m(fence.lat, fence.lon, *middle)
                    if meters <= fence.radius_m:
                        cells[cell] = meters
        return sorted(cells.items())

    def _near(self, lat: float, lon: float) -> float | None:
        if abs(lat - self.fence.lat) > self._dlat or abs(lon - self.fence.lon) > self._dlon:
            return None
        meters = distance_m(self.fence.lat, self.fence.lon, lat, lon)
        return meters if meters <= self.fence.radius_m else None

    def in_group(self, group: FieldGroup) -> LocationHit | None:
        """A lat/lon pair among the members of one object or query string."""
        lats: list[tuple[str, float]] = []
        lons: list[tuple[str, float]] = []
        for key, value in group.fields:
            for reading in degrees(value):
                if abs(reading - self.fence.lat) <= self._dlat:
                    lats.append((key, reading))
                if abs(reading - self.fence.lon) <= self._dlon:
                    lons.append((key, reading))
        for lat_key, lat in lats:
            for lon_key, lon in lons:
                if lat_key == lon_key:
                    continue
                meters = self._near(lat, lon)
                if meters is not None:
                    return LocationHit(group.where, group.steps, f"{lat_key},{lon_key}", lat, lon, meters)
        return None

    def in_text(self, segment: Segment) -> LocationHit | None:
        """A "lat,lon" (or "lon,lat") pair written in text."""
        if not any(prefix in segment.data for prefix in self._prefixes):
            return None
        for count, match in enumerate(_PAIR.finditer(segment.data)):
            if count >= _MAX_PAIRS:
                break
            first, second = float(match.group(1)), float(match.group(2))
            for lat, lon, order in ((first, second, "lat,lon"), (second, first, "lon,lat")):
                meters = self._near(lat, lon)
                if meters is not None:
                    return LocationHit(segment.where, segment.steps, f"text {order}", lat, lon, meters)
        return None

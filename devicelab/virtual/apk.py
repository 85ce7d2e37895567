"""Reading the package name out of an APK: the `package` attribute of the binary
AndroidManifest.xml (AXML) inside the zip. Enough for `pm install` to know what it installs."""

from __future__ import annotations

import io
import struct
import zipfile

RES_STRING_POOL = 0x0001
RES_XML_START_ELEMENT = 0x0102
UTF8_FLAG = 1 << 8
MAX_MANIFEST = 4 << 20


def _strings(data: bytes, start: int) -> list[str]:
    _type, _header, _size, count, _styles, flags, strings_start, _ = struct.unpack_from("<HHIIIIII", data, start)
    offsets = struct.unpack_from(f"<{count}I", data, start + 28)
    base = start + strings_start
    result = []
    for offset in offsets:
        pos = base + offset
        if flags & UTF8_FLAG:
            pos += 2 if data[pos] & 0x80 else 1  # length in characters
            length = data[pos]
            if length & 0x80:
                length = ((length & 0x7F) << 8) | data[pos + 1]
                pos += 1
            pos += 1
            result.append(data[pos : pos + length].decode("utf-8", errors="replace"))
        else:
            (length,) = struct.unpack_from("<H", data, pos)
            pos += 2
            if length & 0x8000:
                (low,) = struct.unpack_from("<H", data, pos)
                length = ((length & 0x7FFF) << 16) | low
                pos += 2
            result.append(data[pos : pos + 2 * length].decode("utf-16-le", errors="replace"))
    return result


def manifest_package(axml: bytes) -> str | None:
    """The `package` attribute of the first element of a binary XML manifest."""
    try:
        pos = struct.unpack_from("<H", axml, 2)[0]
        strings: list[str] = []
        while pos + 8 <= len(axml):
            kind, _header, size = struct.unpack_from("<HHI", axml, pos)
            if size < 8:
                return None
            if kind == RES_STRING_POOL:
                strings = _strings(axml, pos)
            elif kind == RES_XML_START_ELEMENT:
                attr_start, attr_size, attr_count = struct.unpack_from("<HHH", axml, pos + 24)
                for index in range(attr_count):
                    at = pos + 16 + attr_start + index * attr_size
                    _ns, name, raw, _s, _r, data_type, value = struct.unpack_from("<IIIHBBI", axml, at)
                    if name < len(strings) and strings[name] == "package":
                        chosen = raw if raw != 0xFFFFFFFF else (value if data_type == 0x03 else None)
                        return strings[chosen] if chosen is not None and chosen < len(strings) else None
                return None
            pos += size
    except (struct.error, IndexError):
        return None
    return None


def package_name(data: bytes) -> str | None:
    """The package an APK installs, or None when `data` is not an APK.

    The lab's own stand-in APKs (`virtual apk NAME`, as the virtual system partition holds)
    are accepted too."""
    if data.startswith(b"virtual apk "):
        return data[len(b"virtual apk ") :].split(b"\n", 1)[0].decode("ascii", errors="replace").strip() or None
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            info = archive.getinfo("AndroidManifest.xml")
            if info.file_size > MAX_MANIFEST:
                return None
            return manifest_package(archive.read(info))
    except (zipfile.BadZipFile, KeyError, OSError, ValueError, EOFError, NotImplementedError):
        return None

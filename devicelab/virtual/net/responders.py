"""How each host of the virtual internet answers: as the real server does, as far as a client
can tell (status, content type, body shape)."""

from __future__ import annotations

import gzip
import hashlib
import json
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass

from devicelab.virtual.net import checkin, zzhc
from devicelab.virtual.net.http1 import ReceivedRequest, Reply
from devicelab.virtual.net.protobuf import Message

Responder = Callable[[ReceivedRequest], Reply]

HTML = "text/html; charset=UTF-8"
JSON = "application/json; charset=utf-8"
EXAMPLE_PAGE = (
    b"<!doctype html>\n<html>\n<head>\n    <title>Example Domain</title>\n    <meta charset=\"utf-8\" />\n"
    b"</head>\n<body>\n<div>\n    <h1>Example Domain</h1>\n    <p>This domain is for use in illustrative examples in "
    b"documents.</p>\n</div>\n</body>\n</html>\n"
)


@dataclass(frozen=True)
class Site:
    responder: Responder
    aliases: tuple[str, ...] = ()


def _date() -> tuple[str, str]:
    return ("Date", time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime()))


def not_found(request: ReceivedRequest) -> Reply:
    body = b"<!DOCTYPE html><title>Error 404 (Not Found)</title><p>The requested URL was not found on this server."
    return Reply(404, (_date(), ("Content-Type", HTML)), body)


def generate_204(request: ReceivedRequest) -> Reply:
    """Connectivity probes: 204 No Content, empty body."""
    if request.path == "/generate_204" and request.method in ("GET", "HEAD"):
        return Reply(204, (_date(), ("Content-Length", "0")))
    return not_found(request)


def google_web(request: ReceivedRequest) -> Reply:
    if request.path == "/generate_204":
        return generate_204(request)
    if request.method in ("GET", "HEAD"):
        page = b"<!doctype html><html><head><title>Google</title></head><body>Search</body></html>"
        return Reply(200, (_date(), ("Content-Type", HTML)), page)
    return Reply(405, (_date(), ("Content-Type", HTML)), b"<title>Error 405 (Method Not Allowed)</title>")


def checkin_server(request: ReceivedRequest) -> Reply:
    if request.path != "/checkin" or request.method != "POST":
        return not_found(request)
    body = request.body
    if (request.header("content-encoding") or "").lower() == "gzip":
        try:
            body = gzip.decompress(body)
        except (OSError, EOFError, zlib.error):
            return Reply(400, (_date(), ("Content-Type", HTML)), b"<title>Error 400 (Bad Request)</title>")
    reply = checkin.response_bytes(body, int(time.time() * 1000))
    return Reply(200, (_date(), ("Content-Type", checkin.CONTENT_TYPE)), reply)


def zzhc_server(request: ReceivedRequest) -> Reply:
    if request.method != "POST" or request.path != "/":
        return Reply(405, (("Content-Type", "text/plain"),), b"Method Not Allowed")
    try:
        zzhc.decode_body(request.body)
    except ValueError:
        return Reply(200, (("Content-Type", "application/json;charset=UTF-8"),),
                     b'{"resultCode":"1","resultDesc":"Illegal parameter"}')
    return Reply(200, (("Content-Type", "application/json;charset=UTF-8"),), zzhc.SUCCESS)


def json_api(answer: dict[str, object]) -> Responder:
    """A JSON API: POST/PUT get `answer`; GET of the root a short JSON status."""

    def respond(request: ReceivedRequest) -> Reply:
        if request.method in ("POST", "PUT"):
            return Reply(200, (_date(), ("Content-Type", JSON)), json.dumps(answer).encode())
        if request.method in ("GET", "HEAD") and request.path == "/":
            return Reply(200, (_date(), ("Content-Type", JSON)), b'{"status":"ok"}')
        return not_found(request)

    return respond


def push_server(request: ReceivedRequest) -> Reply:
    if request.method != "POST":
        return not_found(request)
    token = hashlib.sha256(request.body).hexdigest()[:32]
    return Reply(200, (_date(), ("Content-Type", JSON)), json.dumps({"code": 0, "token": token}).encode())


def clearcut(request: ReceivedRequest) -> Reply:
    """play.googleapis.com/log/batch: a LogResponse asking for the next batch in 15 minutes."""
    if request.method != "POST" or request.path != "/log/batch":
        return not_found(request)
    return Reply(200, (_date(), ("Content-Type", "application/x-protobuf")), Message().num(1, 900_000).encode())


def xtra(request: ReceivedRequest) -> Reply:
    """Qualcomm XTRA assistance data: a binary blob."""
    if request.method not in ("GET", "HEAD") or not request.path.endswith(".bin"):
        return not_found(request)
    blob = b"".join(hashlib.sha256(b"xtra%d" % i).digest() for i in range(128))
    return Reply(200, (_date(), ("Content-Type", "application/octet-stream")), blob)


def example(request: ReceivedRequest) -> Reply:
    if request.method in ("GET", "HEAD", "POST"):
        return Reply(200, (_date(), ("Content-Type", HTML)), EXAMPLE_PAGE)
    return Reply(405, (_date(), ("Content-Type", HTML)), b"Method Not Allowed")


def generic(request: ReceivedRequest) -> Reply:
    """Hosts a build names without a dedicated responder: HTML for pages, `{}` for API calls."""
    if request.method in ("GET", "HEAD"):
        return Reply(200, (_date(), ("Content-Type", HTML)), b"<!doctype html><title>OK</title>")
    return Reply(200, (_date(), ("Content-Type", JSON)), b"{}")


#: Hosts every virtual internet serves (more come from the build manifests' traffic).
SITES: dict[str, Site] = {
    "android.clients.google.com": Site(checkin_server),
    "connectivitycheck.gstatic.com": Site(generate_204),
    "connectivitycheck.android.com": Site(generate_204),
    "clients3.google.com": Site(generate_204),
    "www.google.com": Site(google_web, ("google.com",)),
    "www.qualcomm.cn": Site(generate_204),
    "play.googleapis.com": Site(clearcut),
    zzhc.HOST: Site(zzhc_server, ("42.99.2.15",)),  # the firmware's fallback address
    "activation.hmdglobal.com": Site(json_api({"code": 0, "message": "activated"})),
    "analytics.hmdglobal.com": Site(json_api({"code": 0})),
    "push.hmdglobal.com": Site(push_server),
    "xtrapath1.izatcloud.net": Site(xtra),
    "xtrapath2.izatcloud.net": Site(xtra),
    "xtrapath3.izatcloud.net": Site(xtra),
    "example.com": Site(example, ("www.example.com",)),
    "example.org": Site(example, ("www.example.org",)),
    "example.net": Site(example, ("www.example.net",)),
}

"""The browser: `am start -a android.intent.action.VIEW -d https://...` loads the URL the way
Chrome does it (through the global proxy, trusting the system CA store only)."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from devicelab.virtual.net.httpclient import Caller, NetError, Request

if TYPE_CHECKING:
    from devicelab.virtual.android import AndroidSystem
    from devicelab.virtual.handset import VirtualHandset
    from devicelab.virtual.net.stack import HandsetNetwork

log = logging.getLogger(__name__)

#: Browsers by preference: package -> the activity that handles VIEW of http(s) URLs
BROWSERS = {
    "com.android.chrome": "com.google.android.apps.chrome.Main",
    "com.android.browser": ".BrowserActivity",
}
CHROME_UA = ("Mozilla/5.0 (Linux; Android {release}; {model}) AppleWebKit/537.36 (KHTML, like Gecko) "
             "Chrome/71.0.3578.99 Mobile Safari/537.36")
#: Chrome's net error names for the client's failures
NET_ERRORS = {
    "java.net.UnknownHostException": "net::ERR_NAME_NOT_RESOLVED",
    "java.net.ConnectException": "net::ERR_CONNECTION_REFUSED",
    "java.net.SocketTimeoutException": "net::ERR_TIMED_OUT",
    "javax.net.ssl.SSLHandshakeException": "net::ERR_CERT_AUTHORITY_INVALID",
    "javax.net.ssl.SSLPeerUnverifiedException": "net::ERR_SSL_PINNED_KEY_NOT_IN_CERT_CHAIN",
}


@dataclass(frozen=True)
class PageLoad:
    url: str
    status: int  # 0 when the load failed
    error: str  # Chrome's net error name, empty on success
    body: bytes = b""


def browser_component(system: AndroidSystem) -> str | None:
    """The activity that takes a VIEW intent for an http(s) URL, or None without a browser."""
    for package, activity in BROWSERS.items():
        if system.installed(package) is not None and system.package_state(package) == "enabled":
            return f"{package}/{activity}"
    return None


async def load(network: HandsetNetwork, url: str) -> PageLoad:
    """Fetch `url` as the browser; never raises for network failures (they become `error`)."""
    system = network.system
    if system is None:
        return PageLoad(url, 0, "net::ERR_INTERNET_DISCONNECTED")
    component = browser_component(system)
    if component is None or urlsplit(url).scheme not in ("http", "https"):
        return PageLoad(url, 0, "net::ERR_UNKNOWN_URL_SCHEME" if component else "net::ERR_ABORTED")
    package = component.partition("/")[0]
    pkg = system.package(package)
    uid = pkg.uid if pkg is not None else 10080
    pid = system.processes.ensure(package, uid).pid
    client = network.client(system, Caller(package, uid))
    ua = CHROME_UA.format(release=system.getprop("ro.build.version.release") or "9",
                          model=system.getprop("ro.product.model"))
    headers = (("Connection", "keep-alive"), ("Upgrade-Insecure-Requests", "1"), ("User-Agent", ua),
               ("Accept", "text/html,application/xhtml+xml,application/xml;q=0.9,image/webp,image/apng,*/*;q=0.8"),
               ("Accept-Encoding", "gzip, deflate"), ("Accept-Language", "en-US,en;q=0.9"))
    try:
        response = await client.fetch(Request("GET", url, headers))
    except NetError as exc:
        error = NET_ERRORS.get(exc.java, "net::ERR_FAILED")
        system.logcat.write("chromium", f"[ERROR:url_request] {url}: {error} ({exc.java})", level="E", pid=pid)
        return PageLoad(url, 0, error)
    system.logcat.write("chromium", f"[INFO:navigation] Loaded {url}: {response.status}", pid=pid)
    return PageLoad(url, response.status, "", response.body)


#: Chrome reads its flags from here when it is the debug app (or the build is debuggable)
CHROME_COMMAND_LINE = "/data/local/tmp/chrome-command-line"
FIRST_RUN = "org.chromium.chrome.browser.firstrun.FirstRunActivity"


def first_run_pending(system: AndroidSystem, component: str) -> bool:
    """Chrome on a fresh /data shows its first-run screens before any page ("Accept & continue"),
    unless it reads `--disable-fre` from its command-line file, which it does only as the debug
    app (`am set-debug-app --persistent com.android.chrome`) or on a debuggable build."""
    package = component.partition("/")[0]
    if package != "com.android.chrome":
        return False
    reads_flags = (system.getprop("ro.debuggable") == "1"
                   or system.settings("global").get("debug_app") == package)
    fs = system.fs
    flags = fs.read(CHROME_COMMAND_LINE).decode(errors="replace").split() if fs.exists(CHROME_COMMAND_LINE) else []
    return not (reads_flags and "--disable-fre" in flags)


def open_url(handset: VirtualHandset, url: str) -> bool:
    """Start loading `url` in the background (what `am start -a VIEW -d URL` triggers once the
    browser activity is in front); False when the handset has no network or no browser."""
    network = handset.network
    if network is None or network.system is None or browser_component(network.system) is None:
        return False
    network.spawn(load(network, url))
    return True

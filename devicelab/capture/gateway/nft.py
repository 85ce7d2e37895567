"""The gateway's nftables table, through libnftables (the nft syntax, no shell).

A context acts in the namespace of the thread that creates and uses it: call `apply` from a
worker in the gateway namespace. The table is replaced atomically (add; delete; define in one
buffer), so applying it twice is harmless.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import json
from collections.abc import Iterable
from functools import cache

from devicelab.errors import CaptureError, ToolMissingError

TABLE = "devicelab_gateway"
NFLOG_GROUP = 7  # the dropped QUIC packets go to this NFLOG group
OUTPUT_JSON = 1 << 4  # NFT_CTX_OUTPUT_JSON


@cache
def _lib() -> ctypes.CDLL:
    path = ctypes.util.find_library("nftables") or "libnftables.so.1"
    try:
        lib = ctypes.CDLL(path)
    except OSError:
        raise ToolMissingError("libnftables.so.1",
                               "install Debian's libnftables1 (scripts/bootstrap.sh does)") from None
    lib.nft_ctx_new.restype = ctypes.c_void_p
    lib.nft_ctx_new.argtypes = [ctypes.c_uint32]
    lib.nft_ctx_free.argtypes = [ctypes.c_void_p]
    lib.nft_ctx_buffer_output.argtypes = [ctypes.c_void_p]
    lib.nft_ctx_buffer_error.argtypes = [ctypes.c_void_p]
    lib.nft_ctx_get_output_buffer.restype = ctypes.c_char_p
    lib.nft_ctx_get_output_buffer.argtypes = [ctypes.c_void_p]
    lib.nft_ctx_get_error_buffer.restype = ctypes.c_char_p
    lib.nft_ctx_get_error_buffer.argtypes = [ctypes.c_void_p]
    lib.nft_ctx_output_set_flags.argtypes = [ctypes.c_void_p, ctypes.c_uint]
    lib.nft_run_cmd_from_buffer.argtypes = [ctypes.c_void_p, ctypes.c_char_p]
    lib.nft_run_cmd_from_buffer.restype = ctypes.c_int
    return lib


def run(commands: str, *, json_output: bool = False) -> str:
    """Run nft commands in the calling thread's namespace; raise CaptureError with nft's message."""
    lib = _lib()
    ctx = lib.nft_ctx_new(0)
    if not ctx:
        raise CaptureError("libnftables: cannot create a context")
    try:
        lib.nft_ctx_buffer_output(ctx)
        lib.nft_ctx_buffer_error(ctx)
        if json_output:
            lib.nft_ctx_output_set_flags(ctx, OUTPUT_JSON)
        rc = lib.nft_run_cmd_from_buffer(ctx, commands.encode())
        out = (lib.nft_ctx_get_output_buffer(ctx) or b"").decode()
        if rc != 0:
            err = (lib.nft_ctx_get_error_buffer(ctx) or b"").decode().strip()
            raise CaptureError(f"nftables refused the gateway's rules: {err or f'error {rc}'}")
        return out
    finally:
        lib.nft_ctx_free(ctx)


#: the counters both tables keep (accounting reads them by name)
_COUNTERS = """    counter quic_drop { }
    counter dns_redirect { }
    counter tcp_redirect { }
    counter forwarded_other { }
"""


def _redirects(match: str, *, proxy_port: int, dns_port: int) -> str:
    """The policy both gateways apply to what `match` picks: DNS to devicelab's resolver, every TCP
    connection to the transparent proxy."""
    return (f"        {match} udp dport 53 counter name dns_redirect redirect to :{dns_port}\n"
            f"        {match} tcp dport 53 counter name dns_redirect redirect to :{dns_port}\n"
            f"        {match} meta l4proto tcp counter name tcp_redirect redirect to :{proxy_port}\n")


def ruleset(handset_ifnames: Iterable[str], uplink: str, *, proxy_port: int, dns_port: int) -> str:
    """The gateway's table: TCP to the transparent proxy, DNS to the resolver, UDP/443 dropped and
    logged, out of the uplink masqueraded. Everything else is forwarded (and recorded by the packet
    record, which sees packets before netfilter)."""
    ifnames = ", ".join(f'"{name}"' for name in handset_ifnames)
    redirects = _redirects(f"iifname {{ {ifnames} }}", proxy_port=proxy_port, dns_port=dns_port)
    return f"""add table inet {TABLE}
delete table inet {TABLE}
table inet {TABLE} {{
{_COUNTERS}    chain nat_pre {{
        type nat hook prerouting priority dstnat; policy accept;
{redirects}    }}
    chain filter_forward {{
        type filter hook forward priority filter; policy drop;
        iifname {{ {ifnames} }} udp dport 443 counter name quic_drop log group {NFLOG_GROUP} drop
        iifname {{ {ifnames} }} oifname "{uplink}" counter name forwarded_other accept
        iifname "{uplink}" ct state established,related accept
    }}
    chain nat_post {{
        type nat hook postrouting priority srcnat; policy accept;
        oifname "{uplink}" masquerade
    }}
}}
"""


def apply(text: str) -> None:
    run(text)


# -- a lab's own interface (a physical gateway) -------------------------------------------------
#: `<prefix><pid>x<hex>`: the run's own table; the sweep removes those whose process is gone
INTERFACE_PREFIX = "devicelab_gw_"


def interface_ruleset(table: str, ifname: str, address: str, uplink: str, *, proxy_port: int, dns_port: int) -> str:
    """The same policy as the namespaces' table, on one handset of a lab's interface (matched by its
    address, so handsets sharing an access point have a table each). Nothing else on the host is
    touched: the forward chain accepts by default, and only the handset's packets meet a rule."""
    mine = f'iifname "{ifname}" ip saddr {address}'
    masquerade = f'        oifname "{uplink}" ip saddr {address} masquerade\n' if uplink else ""
    redirects = _redirects(mine, proxy_port=proxy_port, dns_port=dns_port)
    return f"""add table inet {table}
delete table inet {table}
table inet {table} {{
{_COUNTERS}    chain nat_pre {{
        type nat hook prerouting priority dstnat; policy accept;
{redirects}    }}
    chain filter_forward {{
        type filter hook forward priority filter; policy accept;
        {mine} udp dport 443 counter name quic_drop drop
        {mine} counter name forwarded_other accept
    }}
    chain nat_post {{
        type nat hook postrouting priority srcnat; policy accept;
{masquerade}    }}
}}
"""


def tables() -> list[str]:
    """The inet tables of the calling thread's namespace."""
    out = run("list tables inet", json_output=True)
    return [item["table"]["name"] for item in json.loads(out or "{}").get("nftables", [])
            if "table" in item and item["table"].get("family") == "inet"]


def delete(table: str) -> None:
    """Remove a table; one that is gone already is fine."""
    run(f"add table inet {table}\ndelete table inet {table}\n")


def counters(table: str = TABLE) -> dict[str, tuple[int, int]]:
    """Named counters of the table: name -> (packets, bytes)."""
    out = run(f"list counters table inet {table}", json_output=True)
    found: dict[str, tuple[int, int]] = {}
    for item in json.loads(out or "{}").get("nftables", []):
        counter = item.get("counter")
        if counter:
            found[counter["name"]] = (int(counter.get("packets", 0)), int(counter.get("bytes", 0)))
    return found

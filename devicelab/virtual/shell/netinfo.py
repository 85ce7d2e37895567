"""Network views: `dumpsys wifi|netstats|connectivity`, `ifconfig`, `ip addr`, `netstat`.
The Wi-Fi MAC is the handset's real one (Android 9 only randomises it per network when a
developer option says so)."""

from __future__ import annotations

import zlib

from devicelab.virtual.android import AndroidSystem
from devicelab.virtual.shell import registry
from devicelab.virtual.shell.dumpsys import dumper
from devicelab.virtual.shell.io import CommandContext

BSSID = "02:1a:11:f0:00:01"


def wlan_ip(system: AndroidSystem) -> str:
    return f"192.168.49.{20 + zlib.crc32(system.hardware.serialno.encode()) % 200}"


def link_local(mac: str) -> str:
    """The EUI-64 fe80:: address of a MAC."""
    octets = [int(o, 16) for o in mac.split(":")]
    octets[0] ^= 0x02
    eui = [*octets[:3], 0xFF, 0xFE, *octets[3:]]
    groups = [f"{(eui[i] << 8) | eui[i + 1]:x}" for i in range(0, 8, 2)]
    return "fe80::" + ":".join(groups)


def _network(system: AndroidSystem) -> tuple[str, str] | None:
    """(interface, ident) of the default network, or None when offline."""
    radio = system.radio
    if radio.wifi_enabled and radio.wifi_connected:
        return "wlan0", f'{{type=WIFI, subType=COMBINED, networkId="{radio.wifi_ssid}", metered=false, ' \
            "defaultNetwork=true}"
    if radio.sim is not None and radio.mobile_data:
        return "rmnet_data0", f"{{type=MOBILE, subType=COMBINED, subscriberId={radio.sim.imsi[:6]}..., " \
            "metered=true, defaultNetwork=true}"
    return None


@dumper("wifi")
def _wifi(system: AndroidSystem, args: list[str]) -> str:
    radio = system.radio
    if not radio.wifi_enabled:
        return "Wi-Fi is disabled\nVerbose logging is off\nStay-awake conditions: 0\n"
    mac = system.hardware.wifi_mac
    if radio.wifi_connected:
        info = (f'mWifiInfo SSID: "{radio.wifi_ssid}", BSSID: {BSSID}, MAC: {mac}, Supplicant state: COMPLETED, '
                "RSSI: -55, Link speed: 72Mbps, Frequency: 2437MHz, Net ID: 0, Metered hint: false, score: 60")
        net = (f"mNetworkInfo [type: WIFI[], state: CONNECTED/CONNECTED, reason: (unspecified), "
               f'extra: "{radio.wifi_ssid}", failover: false, available: true, roaming: false]')
    else:
        info = (f"mWifiInfo SSID: <unknown ssid>, BSSID: null, MAC: {mac}, Supplicant state: DISCONNECTED, "
                "RSSI: -127, Link speed: -1Mbps, Frequency: -1MHz, Net ID: -1, Metered hint: false, score: 0")
        net = ("mNetworkInfo [type: WIFI[], state: DISCONNECTED/DISCONNECTED, reason: (unspecified), extra: "
               "<unknown ssid>, failover: false, available: true, roaming: false]")
    return (f"Wi-Fi is enabled\nVerbose logging is off\nStay-awake conditions: 0\nmInIdleMode false\n"
            f"mScanPending false\n\nWifiStateMachine:\n{info}\n{net}\nmLastSignalLevel 3\n"
            f"mLastBssid {BSSID if radio.wifi_connected else 'null'}\n")


@dumper("netstats")
def _netstats(system: AndroidSystem, args: list[str]) -> str:
    network = _network(system)
    active = f"  iface={network[0]} ident=[{network[1]}]\n" if network else ""
    start = int(system.clock.now()) // 3600 * 3600
    history = (f"  ident=[{network[1]}] uid=-1 set=ALL tag=0x0\n    NetworkStatsHistory: bucketDuration=3600\n"
               f"      st={start} rb=184221 rp=402 tb=60331 tp=388 op=0\n") if network else ""
    return (f"Active interfaces:\n{active}Active UID interfaces:\n{active}Dev stats:\n  Pending bytes: 0\n"
            f"  History since boot:\n{history}Xt stats:\n  Pending bytes: 0\n  History since boot:\n{history}"
            "Uid stats:\n  Pending bytes: 0\n")


@dumper("connectivity")
def _connectivity(system: AndroidSystem, args: list[str]) -> str:
    network = _network(system)
    kind = "WIFI" if network and network[0] == "wlan0" else "MOBILE"
    current = (f"NetworkAgentInfo{{ ni{{[type: {kind}[], state: CONNECTED/CONNECTED]}} network{{100}} "
               f"lp{{{{InterfaceName: {network[0]} }}}} }}") if network else "none"
    return f"NetworkFactories for: WIFI TELEPHONY\n\nActive default network: {100 if network else 'none'}\n\n" \
        f"Current Networks:\n  {current}\n"


@registry.command("ifconfig", toybox=True)
async def ifconfig(ctx: CommandContext) -> int:
    system = ctx.system
    names = [a for a in ctx.argv[1:] if not a.startswith("-")] or ["lo", "wlan0"]
    code = 0
    for name in names:
        if name == "lo":
            await ctx.out("lo        Link encap:Local Loopback  \n          inet addr:127.0.0.1  Mask:255.0.0.0 \n"
                          "          inet6 addr: ::1/128 Scope: Host\n          UP LOOPBACK RUNNING  MTU:65536  "
                          "Metric:1\n\n")
        elif name == "wlan0":
            mac = system.hardware.wifi_mac
            up = system.radio.wifi_enabled
            inet = (f"          inet addr:{wlan_ip(system)}  Bcast:192.168.49.255  Mask:255.255.255.0 \n"
                    if system.radio.wifi_connected and up else "")
            await ctx.out(f"wlan0     Link encap:Ethernet  HWaddr {mac}  Driver icnss\n{inet}"
                          f"          inet6 addr: {link_local(mac)}/64 Scope: Link\n"
                          f"          {'UP BROADCAST RUNNING MULTICAST' if up else 'BROADCAST MULTICAST'}  "
                          "MTU:1500  Metric:1\n          RX packets:402 errors:0 dropped:0 overruns:0 frame:0 \n"
                          "          TX packets:388 errors:0 dropped:0 overruns:0 carrier:0 \n"
                          "          collisions:0 txqueuelen:3000 \n          RX bytes:184221 TX bytes:60331 \n\n")
        else:
            code = await ctx.fail(f"{name}: No such device")
    return code


@registry.command("ip")
async def ip(ctx: CommandContext) -> int:
    args = ctx.argv[1:]
    if not args or args[0] not in ("addr", "a", "address", "link", "l"):
        await ctx.err('Object "' + (args[0] if args else "") + '" is unknown, try "ip help".\n')
        return 255
    system = ctx.system
    mac = system.hardware.wifi_mac
    up = system.radio.wifi_enabled
    state = "UP" if up else "DOWN"
    lines = [f"30: wlan0: <BROADCAST,MULTICAST{',UP,LOWER_UP' if up else ''}> mtu 1500 qdisc mq state {state} "
             "group default qlen 3000", f"    link/ether {mac} brd ff:ff:ff:ff:ff:ff"]
    if args[0] in ("addr", "a", "address"):
        if up and system.radio.wifi_connected:
            lines += [f"    inet {wlan_ip(system)}/24 brd 192.168.49.255 scope global wlan0",
                      "       valid_lft forever preferred_lft forever"]
        lines += [f"    inet6 {link_local(mac)}/64 scope link", "       valid_lft forever preferred_lft forever"]
    await ctx.out("\n".join(lines) + "\n")
    return 0


@registry.command("netstat", toybox=True)
async def netstat(ctx: CommandContext) -> int:
    states = {"LISTEN": "LISTEN", "ESTABLISHED": "ESTABLISHED", "TIME_WAIT": "TIME_WAIT", "SYN_SENT": "SYN_SENT",
              "CLOSE": ""}
    lines = ["Proto Recv-Q Send-Q Local Address           Foreign Address         State"]
    for sock in ctx.system.sockets:
        local = f"{sock.local[0]}:{sock.local[1]}"
        remote = f"{sock.remote[0]}:{sock.remote[1] or '*'}"
        lines.append(f"{sock.proto:<5} {0:>6} {0:>6} {local:<23} {remote:<23} {states.get(sock.state, sock.state)}")
    await ctx.out("\n".join(lines) + "\n")
    return 0

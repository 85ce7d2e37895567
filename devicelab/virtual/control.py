"""A control channel into a running virtual lab (`devicelab virtual up --control PATH`): what a
lab technician's hands do to real handsets — put a SIM in a slot, finish the wizard, turn USB
debugging on, answer "Allow USB debugging?" — and fault injection.

Wire: a unix socket (mode 0600); one JSON object per line each way.

    -> {"op": "insert_sim", "serialno": "B2N...", "sim": "china-telecom"}     (sim null: take it out)
    <- {"ok": true, "result": {"sim_state": "READY"}}
    <- {"ok": false, "error": "serialno: required field is missing"}

Ops are a table (`OPS`): each names a pydantic model for its arguments and a coroutine run on
the lab's event loop. Add one with `@op("name", ArgsModel)`. Bad input gets an error reply; the
server never falls over.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import socket
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import Field, ValidationError

from devicelab.errors import DevicelabError, InfrastructureError
from devicelab.model.data import Frozen, config_error_from

if TYPE_CHECKING:
    from devicelab.handset import Handset
    from devicelab.model.inventory import GatewayLink
    from devicelab.model.sims import SimProfile
    from devicelab.virtual.handset import VirtualHandset
    from devicelab.virtual.lab import VirtualLab

log = logging.getLogger(__name__)

MAX_LINE = 64 * 1024
#: unix socket paths longer than this do not fit in sockaddr_un on every platform
MAX_SOCKET_PATH = 100
Handler = Callable[["VirtualLab", Any], Awaitable[dict[str, Any]]]
OPS: dict[str, tuple[type[Frozen], Handler]] = {}


class ControlError(InfrastructureError):
    """The control channel failed, or the lab refused the request."""


def op(name: str, args: type[Frozen]) -> Callable[[Handler], Handler]:
    """Register an op under `name`, its arguments checked against `args`."""

    def register(handler: Handler) -> Handler:
        OPS[name] = (args, handler)
        return handler

    return register


def _handset(lab: VirtualLab, serialno: str) -> VirtualHandset:
    for handset in lab.handsets:
        if handset.hardware.serialno == serialno:
            return handset
    known = ", ".join(h.hardware.serialno for h in lab.handsets)
    raise ValueError(f"no handset {serialno!r} in this lab (it has {known})")


# -- ops -----------------------------------------------------------------------------------
class NoArgs(Frozen):
    pass


class HandsetArgs(Frozen):
    serialno: str = Field(min_length=1, max_length=64)


class InsertSimArgs(HandsetArgs):
    #: a profile in fixtures/sims/, or null to take the SIM out
    sim: str | None = Field(max_length=64)


class InjectScreenArgs(HandsetArgs):
    #: a ready-made dialog, or a screen in the wizard data format (devicelab.virtual.ui.screens)
    preset: Literal["anr", "system_update"] | None = None
    screen: dict[str, Any] | None = None
    now: bool = False


class AttachNetworkArgs(HandsetArgs):
    """Plug a handset into a gateway link (namespace null: unplug). `internet` is the virtual
    internet's namespace and `udp_hosts` the addresses its UDP services answer at there."""

    namespace: str | None = Field(default=None, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$")
    address: str = ""
    dns_server: str = ""
    internet: str | None = Field(default=None, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$")
    udp_hosts: dict[str, str] = Field(default_factory=dict)


@op("ping", NoArgs)
async def _ping(lab: VirtualLab, args: NoArgs) -> dict[str, Any]:
    return {"handsets": [h.hardware.serialno for h in lab.handsets]}


@op("upstream", NoArgs)
async def _upstream(lab: VirtualLab, args: NoArgs) -> dict[str, Any]:
    """Where the lab's hosts really listen, and the root CA their certificates chain to: what a
    capture proxy needs to route the handsets' traffic (nothing leaves the machine)."""
    internet = lab.internet
    if internet is None:
        return {"hosts": {}, "ca": None, "names": {}, "udp": []}
    return {"hosts": {name: list(addr) for name, addr in internet.upstream_hosts().items()},
            "ca": str(internet.root_ca_pem_path()), "names": internet.upstream_names(),
            "udp": list(internet.udp_hosts())}


@op("attach_network", AttachNetworkArgs)
async def _attach_network(lab: VirtualLab, args: AttachNetworkArgs) -> dict[str, Any]:
    from devicelab.virtual.net.kernel import Link

    handset = _handset(lab, args.serialno)
    if handset.network is None:
        raise ValueError(f"{args.serialno} has no network in this lab")
    if args.internet is not None and lab.internet is not None:
        lab.internet.serve_udp(args.internet, args.udp_hosts)
    link = Link(args.namespace, args.address, args.dns_server) if args.namespace else None
    handset.network.attach(link)
    return {"attached": args.namespace}


@op("insert_sim", InsertSimArgs)
async def _insert_sim(lab: VirtualLab, args: InsertSimArgs) -> dict[str, Any]:
    from devicelab.model.sims import load_sim

    handset = _handset(lab, args.serialno)
    handset.insert_sim(load_sim(args.sim) if args.sim is not None else None)
    return {"sim_state": handset.radio.sim_state}


@op("crash_ui_server", HandsetArgs)
async def _crash_ui_server(lab: VirtualLab, args: HandsetArgs) -> dict[str, Any]:
    from devicelab.virtual.ui.hooks import crash_server

    return {"crashed": crash_server(_handset(lab, args.serialno))}


@op("inject_screen", InjectScreenArgs)
async def _inject_screen(lab: VirtualLab, args: InjectScreenArgs) -> dict[str, Any]:
    from devicelab.model.data import validate
    from devicelab.virtual.ui import faults
    from devicelab.virtual.ui.screens import Screen

    if (args.preset is None) == (args.screen is None):
        raise ValueError("give either preset or screen")
    if args.preset == "anr":
        screen = faults.anr_dialog()
    elif args.preset == "system_update":
        screen = faults.update_dialog()
    else:
        screen = validate(Screen, args.screen, "screen")
    faults.inject_screen(_handset(lab, args.serialno), screen, now=args.now)
    return {"screen": screen.id}


class UsbDebuggingArgs(HandsetArgs):
    enabled: bool


class UsbPromptArgs(HandsetArgs):
    allow: bool = True
    #: "Always allow from this computer": the key is remembered until a wipe
    always: bool = True


@op("finish_setup", HandsetArgs)
async def _finish_setup(lab: VirtualLab, args: HandsetArgs) -> dict[str, Any]:
    """A person walks the setup wizard to its end by hand (a retail phone, with no adb yet)."""
    system = _handset(lab, args.serialno).system
    if system is None:
        raise ValueError("the handset is not running Android")
    system.settings("global")["device_provisioned"] = "1"
    system.settings("secure")["user_setup_complete"] = "1"
    system.go_home()
    return {"setup_complete": system.setup_complete()}


@op("usb_debugging", UsbDebuggingArgs)
async def _usb_debugging(lab: VirtualLab, args: UsbDebuggingArgs) -> dict[str, Any]:
    """A person turns USB debugging on (or off) in Developer options."""
    return await _handset(lab, args.serialno).usb.switch(on=args.enabled)


@op("usb_prompt", UsbPromptArgs)
async def _usb_prompt(lab: VirtualLab, args: UsbPromptArgs) -> dict[str, Any]:
    """A person answers "Allow USB debugging?" on the screen."""
    return _handset(lab, args.serialno).usb.answer(allow=args.allow, always=args.always)


@op("usb_state", HandsetArgs)
async def _usb_state(lab: VirtualLab, args: HandsetArgs) -> dict[str, Any]:
    """What the screen shows about USB debugging: the switch, and a prompt waiting for a finger."""
    usb = _handset(lab, args.serialno).usb
    prompt = usb.prompt
    return {"adb_enabled": usb.enabled(), "prompt": None if prompt is None else prompt.fingerprint}


# -- the server ----------------------------------------------------------------------------
async def handle_request(lab: VirtualLab, line: bytes) -> dict[str, Any]:
    """One request line -> one reply object; every failure becomes {"ok": false, "error": ...}."""
    try:
        request = json.loads(line)
    except (ValueError, UnicodeDecodeError) as exc:
        return {"ok": False, "error": f"not JSON: {exc}"}
    if not isinstance(request, dict) or not isinstance(request.get("op"), str):
        return {"ok": False, "error": 'expected an object with a string "op"'}
    name = request.pop("op")
    if name not in OPS:
        return {"ok": False, "error": f"unknown op {name!r}; known: {', '.join(sorted(OPS))}"}
    model, handler = OPS[name]
    try:
        args = model.model_validate(request)
        return {"ok": True, "result": await handler(lab, args)}
    except ValidationError as exc:
        return {"ok": False, "error": str(config_error_from(exc, name))}
    except (DevicelabError, ValueError) as exc:
        return {"ok": False, "error": str(exc)}
    except Exception as exc:  # a bad request must not take the lab down
        log.exception("control op %s failed", name)
        return {"ok": False, "error": f"{type(exc).__name__}: {exc}"}


class ControlServer:
    """Serves the control socket on the lab's event loop."""

    def __init__(self, lab: VirtualLab, path: Path) -> None:
        import devicelab.virtual.faults  # noqa: F401  (registers the "fault" op; it imports this module)

        if len(str(path)) > MAX_SOCKET_PATH:
            raise ControlError(f"control socket path is {len(str(path))} characters; the limit is {MAX_SOCKET_PATH}")
        self.lab = lab
        self.path = path
        self._server: asyncio.AbstractServer | None = None

    def start(self) -> None:
        self.path.unlink(missing_ok=True)
        self._server = self.lab.call(asyncio.start_unix_server(self._serve, path=str(self.path), limit=MAX_LINE))
        os.chmod(self.path, 0o600)

    def stop(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            async def close() -> None:
                server.close()
                await server.wait_closed()

            with contextlib.suppress(Exception):
                self.lab.call(close(), timeout=5)
        self.path.unlink(missing_ok=True)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                try:
                    line = await asyncio.wait_for(reader.readline(), timeout=60)
                except (ValueError, asyncio.LimitOverrunError):
                    writer.write(b'{"ok": false, "error": "request line too long"}\n')
                    break
                if not line:
                    break
                reply = await handle_request(self.lab, line)
                writer.write(json.dumps(reply).encode() + b"\n")
                await writer.drain()
        except (TimeoutError, ConnectionError):
            pass
        finally:
            with contextlib.suppress(ConnectionError, RuntimeError):  # RuntimeError: the lab's loop is closing
                writer.close()
                await writer.wait_closed()


# -- the client ----------------------------------------------------------------------------
class ControlClient:
    """Sends ops to a lab's control socket; ControlError when the lab refuses or is gone."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)

    def request(self, name: str, *, timeout: float = 10.0, **args: Any) -> dict[str, Any]:
        payload = json.dumps({"op": name, **args}).encode() + b"\n"
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
                sock.settimeout(timeout)
                sock.connect(str(self.path))
                sock.sendall(payload)
                data = b""
                while not data.endswith(b"\n"):
                    chunk = sock.recv(65536)
                    if not chunk:
                        break
                    data += chunk
        except OSError as exc:
            raise ControlError(f"virtual lab control channel {self.path}: {exc}") from None
        try:
            reply = json.loads(data)
        except ValueError:
            raise ControlError(f"virtual lab control channel {self.path}: no reply to {name!r}") from None
        if not reply.get("ok"):
            raise ControlError(f"virtual lab refused {name!r}: {reply.get('error', 'no reason given')}")
        result: dict[str, Any] = reply.get("result", {})
        return result


class ControlNetworkPlug:
    """The virtual lab plugs its handsets into a gateway link itself (a technician joins a real
    phone to the gateway's Wi-Fi)."""

    def __init__(self, path: Path | str) -> None:
        self.client = ControlClient(path)

    def plug(self, serial: str, link: GatewayLink | None, *, timeout: float) -> None:
        if link is None:
            self.client.request("attach_network", timeout=timeout, serialno=serial, namespace=None)
            return
        self.client.request("attach_network", timeout=timeout, serialno=serial, namespace=link.namespace,
                            address=link.address, dns_server=link.dns_server, internet=link.internet or None,
                            udp_hosts=dict(link.udp_hosts))


class ControlSimSwitcher:
    """The virtual lab's SIM switcher: the lab puts the profile in the slot (devicelab.activation.triggers)."""

    def __init__(self, path: Path | str) -> None:
        self.client = ControlClient(path)

    def __repr__(self) -> str:
        return f"ControlSimSwitcher({self.client.path})"

    def insert(self, handset: Handset, sim: SimProfile | None, *, timeout: float) -> None:
        self.client.request("insert_sim", timeout=timeout, serialno=handset.serial,
                            sim=sim.name if sim is not None else None)

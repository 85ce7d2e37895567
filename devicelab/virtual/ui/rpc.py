"""JSON-RPC 2.0 as the u2 server (jsonrpc4j) speaks it: one request per `POST /jsonrpc/0`,
params a list, errors as an `error` object in an HTTP 200 reply.

Bad input never escapes as an exception: it becomes a JSON-RPC error naming the problem.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from devicelab.virtual.ui.device import UiUnavailable
from devicelab.virtual.ui.selectors import SelectorError

if TYPE_CHECKING:
    from devicelab.virtual.ui.methods import Session

log = logging.getLogger(__name__)

PARSE_ERROR = -32700
INVALID_REQUEST = -32600
METHOD_NOT_FOUND = -32601
INVALID_PARAMS = -32602
INTERNAL_ERROR = -32603
ERROR_CODE_BASE = -32000  # AutomatorService: UiAutomator2Exception
REMOTE_ERROR = ERROR_CODE_BASE - 1  # RemoteException
OBJECT_NOT_FOUND = ERROR_CODE_BASE - 2  # UiObjectNotFoundException
NOT_IMPLEMENTED = ERROR_CODE_BASE - 3  # NotImplementedException

UI_OBJECT_NOT_FOUND = "androidx.test.uiautomator.UiObjectNotFoundException"


class RpcError(Exception):
    """A JSON-RPC error reply."""

    def __init__(self, code: int, message: str, exception: str = "") -> None:
        super().__init__(message)
        self.code = code
        self.message = f"{exception}: {message}" if exception else message
        self.data = {"exceptionTypeName": exception, "message": message} if exception else None


class ObjectNotFound(RpcError):
    def __init__(self, what: str) -> None:
        super().__init__(OBJECT_NOT_FOUND, what, UI_OBJECT_NOT_FOUND)


def invalid(message: str) -> RpcError:
    return RpcError(INVALID_PARAMS, f"Invalid params: {message}")


Handler = Callable[["Session", list[Any]], Awaitable[Any]]
METHODS: dict[str, Handler] = {}


def method(*names: str) -> Callable[[Handler], Handler]:
    """Register a handler under one or more JSON-RPC method names."""

    def register(fn: Handler) -> Handler:
        for name in names:
            METHODS[name] = fn
        return fn

    return register


# -- parameters --------------------------------------------------------------------------
def arg(params: list[Any], index: int, kind: type | tuple[type, ...], name: str, default: Any = ...) -> Any:
    """Parameter `index`, checked against `kind` (bool is never an int here)."""
    if index >= len(params):
        if default is ...:
            raise invalid(f"missing parameter {index} ({name})")
        return default
    value = params[index]
    kinds = kind if isinstance(kind, tuple) else (kind,)
    if isinstance(value, bool):  # JSON true is no number
        if bool in kinds:
            return value
    elif float in kinds and isinstance(value, int | float):
        return float(value)
    elif int in kinds and isinstance(value, float) and value.is_integer():
        return int(value)
    elif isinstance(value, kinds):
        return value
    raise invalid(f"parameter {index} ({name}) must be {_names(kinds)}, got {_short(value)}")


def _names(kinds: tuple[type, ...]) -> str:
    return " or ".join({int: "integer", float: "number", bool: "boolean", str: "string", dict: "object",
                        list: "array"}.get(k, k.__name__) for k in kinds)


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


# -- one request -------------------------------------------------------------------------
def reply(request_id: Any, *, result: Any = None, error: RpcError | None = None) -> bytes:
    body: dict[str, Any] = {"jsonrpc": "2.0", "id": request_id}
    if error is not None:
        err: dict[str, Any] = {"code": error.code, "message": error.message}
        if error.data is not None:
            err["data"] = error.data
        body["error"] = err
    else:
        body["result"] = result
    return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()


async def dispatch(session: Session, body: bytes) -> bytes:
    """Answer one JSON-RPC request body."""
    try:
        request = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError):
        return reply(None, error=RpcError(PARSE_ERROR, "Parse error"))
    if not isinstance(request, dict):
        return reply(None, error=RpcError(INVALID_REQUEST, "Invalid Request: expected a JSON object"))
    request_id = request.get("id")
    name = request.get("method")
    if not isinstance(name, str):
        return reply(request_id, error=RpcError(INVALID_REQUEST, "Invalid Request: no method"))
    params = request.get("params", [])
    if isinstance(params, dict):
        if params:  # u2 sends {} for no-argument calls; named arguments are not supported
            return reply(request_id, error=invalid("named parameters are not supported"))
        params = []
    if not isinstance(params, list):
        return reply(request_id, error=invalid("params must be an array"))
    handler = METHODS.get(name)
    if handler is None:
        return reply(request_id, error=RpcError(METHOD_NOT_FOUND, f"method not found: {name}"))
    try:
        result = await handler(session, params)
    except RpcError as exc:
        return reply(request_id, error=exc)
    except SelectorError as exc:
        return reply(request_id, error=invalid(str(exc)))
    except UiUnavailable as exc:  # the system went away under us (reboot): as a dead UiAutomation
        return reply(request_id, error=RpcError(REMOTE_ERROR, str(exc), "android.os.DeadObjectException"))
    except Exception as exc:  # a bug here must not take the server down with it
        log.exception("uiautomator %s failed", name)
        return reply(request_id, error=RpcError(INTERNAL_ERROR, f"{type(exc).__name__}: {exc}",
                                                "java.lang.RuntimeException"))
    return reply(request_id, result=result)

"""Type aliases and protocols shared across the package.

The JSON and ASGI shapes are named once here, so the rest of the package
says what a value is (``JSONObject``, ``Scope``) rather than ``dict[str, Any]``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, MutableMapping
from types import EllipsisType
from typing import Any, Protocol, TypeAlias

__all__ = [
    "JSON",
    "JSONObject",
    "Id",
    "Params",
    "Timeout",
    "SendText",
    "RunSync",
    "Scope",
    "ASGIMessage",
    "Receive",
    "Send",
    "ASGIApp",
    "Caller",
]

#: Any value that JSON can carry once decoded.
JSON: TypeAlias = Any
#: A JSON object once decoded.
JSONObject: TypeAlias = dict[str, JSON]
#: A JSON-RPC request id: a string, a number or null.
Id: TypeAlias = str | int | float | None
#: JSON-RPC params: positional (array) or named (object).
Params: TypeAlias = list[JSON] | JSONObject
#: Seconds to wait for a reply: ``None`` waits forever, ``...`` means "the default".
Timeout: TypeAlias = float | None | EllipsisType
#: Writes one text frame to the peer.
SendText: TypeAlias = Callable[[str], Awaitable[None]]
#: Runs a blocking callable off the event loop and returns its result.
RunSync: TypeAlias = Callable[..., Awaitable[JSON]]

# ASGI (https://asgi.readthedocs.io/en/latest/specs/main.html) ----------------

#: The connection scope an ASGI server hands an application.
Scope: TypeAlias = MutableMapping[str, Any]
#: One event received from, or sent to, an ASGI server.
ASGIMessage: TypeAlias = MutableMapping[str, Any]
Receive: TypeAlias = Callable[[], Awaitable[ASGIMessage]]
Send: TypeAlias = Callable[[ASGIMessage], Awaitable[None]]
ASGIApp: TypeAlias = Callable[[Scope, Receive, Send], Awaitable[None]]


class Caller(Protocol):
    """Whoever a request comes from, as dispatch, permissions and parameter binding see it.

    On the server, a :class:`wsrpc_app.Connection` (WebSocket or HTTP): ``user``
    is the Django user of the scope. In a client, the client itself, whose
    ``user`` is None.
    """

    @property
    def user(self) -> object: ...

    @property
    def scope(self) -> Mapping[str, object]: ...

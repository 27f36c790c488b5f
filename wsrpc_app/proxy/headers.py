"""Which of the client's handshake headers reach the target, and the ``X-Forwarded-*`` ones. No I/O.

By default ``Authorization`` and ``User-Agent`` are forwarded; ``Cookie`` only
when listed (a gateway in front of another site should not hand it the
client's cookies unasked). ``X-Forwarded-For`` names the client's address and
``X-Forwarded-Proto`` ``http`` or ``https`` (as uvicorn's and Django's proxy
settings read it; ``https`` for a ``wss://`` client), ``X-Forwarded-Host``
the ``Host`` the client asked for. The client's own ``X-Forwarded-*`` are
dropped, unless the gateway itself sits behind a proxy it trusts
(``trust_forwarded``): then the chain is extended, as every proxy on the way
does.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import NamedTuple

from ..core.types import Scope

__all__ = ["DEFAULT_FORWARDED_HEADERS", "Forwarded", "forwarded", "header_names"]

#: The request headers forwarded when the route does not say.
DEFAULT_FORWARDED_HEADERS = ("authorization", "user-agent")

#: Headers that belong to one hop's handshake (or that the gateway writes itself): never copied.
NOT_FORWARDABLE = frozenset(
    {
        "host",
        "connection",
        "upgrade",
        "content-length",
        "transfer-encoding",
        "te",
        "trailer",
        "keep-alive",
        "proxy-authorization",
        "proxy-connection",
        "sec-websocket-key",
        "sec-websocket-version",
        "sec-websocket-extensions",
        "sec-websocket-protocol",
        "sec-websocket-accept",
        "x-forwarded-for",
        "x-forwarded-proto",
        "x-forwarded-host",
    }
)


class Forwarded(NamedTuple):
    """What the target's handshake carries from the client's."""

    #: ``(name, value)`` pairs, the ``X-Forwarded-*`` ones last.
    headers: list[tuple[str, str]]
    #: The client's ``User-Agent`` when it is forwarded, else None (the gateway's own is sent).
    user_agent: str | None


def header_names(names: Iterable[str]) -> frozenset[str]:
    """The configured names, lower-cased; a ``ValueError`` for one that may not be forwarded."""
    lowered = frozenset(name.lower() for name in names)
    refused = sorted(lowered & NOT_FORWARDABLE)
    if refused:
        raise ValueError(f"these headers belong to one hop or are written by the gateway: {', '.join(refused)}")
    return lowered


def forwarded(scope: Scope, names: frozenset[str], *, trust_forwarded: bool = False) -> Forwarded:
    """The headers of ``scope``'s handshake named in ``names``, then the ``X-Forwarded-*`` headers."""
    headers: list[tuple[str, str]] = []
    user_agent = None
    chain: list[str] = []
    proto = host = None
    for raw_name, raw_value in scope.get("headers", ()):
        name = bytes(raw_name).decode("latin1").lower()
        value = bytes(raw_value).decode("latin1")
        if name == "user-agent" and name in names:
            user_agent = value
        elif name in names:
            headers.append((name, value))
        elif name == "host":
            host = value
        elif trust_forwarded and name == "x-forwarded-for":
            chain.extend(part.strip() for part in value.split(",") if part.strip())
        elif trust_forwarded and name == "x-forwarded-proto":
            proto = value.strip()
    client = scope.get("client")
    if client:
        chain.append(str(client[0]))
    if chain:
        headers.append(("X-Forwarded-For", ", ".join(chain)))
    headers.append(("X-Forwarded-Proto", proto or ("https" if scope.get("scheme") == "wss" else "http")))
    if host is not None:
        headers.append(("X-Forwarded-Host", host))
    return Forwarded(headers, user_agent)

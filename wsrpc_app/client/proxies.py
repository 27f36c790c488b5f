"""The Python client through an HTTP proxy: which proxy a URL goes through, and errors that say so.

By default the client goes where the standard environment says, as
``websockets`` (and ``urllib``) read it: ``wss_proxy``/``ws_proxy``, then
``https_proxy`` (and ``http_proxy`` for ``ws://``), unless ``no_proxy``
names the host. ``proxy="http://user:password@host:port"`` overrides it
(credentials as ``Proxy-Authorization: Basic``), ``proxy=None`` goes direct.
The WebSocket is tunnelled with ``CONNECT``; a ``wss://`` one is TLS from
the client to the server, verified as without a proxy.

A proxy that cannot be reached, or that refuses the tunnel (407 for bad
credentials, 403, 502 when it cannot reach the server), raises a
:class:`ProxyError` naming the proxy (never its password); the client
retries it like any other failed connection.
"""

from __future__ import annotations

import errno
import socket
from typing import Literal
from urllib.parse import urlsplit

from websockets.exceptions import InvalidProxyStatus
from websockets.exceptions import ProxyError as WebSocketsProxyError
from websockets.proxy import get_proxy
from websockets.uri import parse_uri

__all__ = ["ProxyError", "ProxyRefused", "ProxyUnreachable", "ProxySetting", "proxy_for", "redacted", "through_proxy"]

#: What ``connect()`` to an address that is not there fails with, besides a refusal.
UNREACHABLE_ERRNOS = frozenset({errno.EHOSTUNREACH, errno.ENETUNREACH, errno.ETIMEDOUT, errno.EADDRNOTAVAIL})

#: ``True``: the environment decides; a URL: that proxy; ``None``: no proxy.
ProxySetting = str | Literal[True] | None


class ProxyError(ConnectionError):
    """The connection through an HTTP proxy failed; ``proxy`` is its address without credentials."""

    def __init__(self, proxy: str, url: str, detail: str) -> None:
        super().__init__(f"could not reach {url} through the proxy {proxy}: {detail}")
        self.proxy = proxy
        self.url = url


class ProxyUnreachable(ProxyError):
    """Nothing answered at the proxy's address."""


class ProxyRefused(ProxyError):
    """The proxy answered the ``CONNECT`` with an error ``status`` (407: bad or missing credentials)."""

    def __init__(self, proxy: str, url: str, status: int) -> None:
        super().__init__(proxy, url, f"it refused with HTTP {status}")
        self.status = status


def proxy_for(url: str, proxy: ProxySetting) -> str | None:
    """The proxy ``url`` goes through: ``proxy`` itself, or (``True``) the environment's for that URL."""
    if proxy is True:
        return get_proxy(parse_uri(url))
    return proxy


def redacted(proxy: str) -> str:
    """``proxy`` without its user information."""
    parts = urlsplit(proxy)
    netloc = parts.netloc.rpartition("@")[2]
    return parts._replace(netloc=netloc).geturl()


def through_proxy(error: BaseException, url: str, proxy: str | None) -> ProxyError | None:
    """``error``, from connecting to ``url`` through ``proxy``, as a :class:`ProxyError`; None if not the proxy's."""
    if proxy is None:
        return None
    shown = redacted(proxy)
    if isinstance(error, InvalidProxyStatus):
        return ProxyRefused(shown, url, error.response.status_code)
    if isinstance(error, WebSocketsProxyError):
        return ProxyError(shown, url, str(error))
    if _unreachable(error):
        return ProxyUnreachable(shown, url, str(error) or type(error).__name__)
    return None


def _unreachable(error: BaseException) -> bool:
    """Whether ``error`` says that no TCP connection to the proxy could be made.

    Past the proxy, failures come back as its statuses; TLS to the server (inside the
    tunnel) fails as :class:`ssl.SSLError`, which stays what it is.
    """
    if isinstance(error, ConnectionRefusedError | socket.gaierror):
        return True
    return isinstance(error, OSError) and error.errno in UNREACHABLE_ERRNOS

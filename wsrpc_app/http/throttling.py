"""``PUBLISH_RATE`` over HTTP: a DRF throttle per caller, shared by ``POST publish/`` and ``rpc.publish``.

The socket holds each connection to a token bucket (``pubsub.ratelimit``);
an HTTP caller has no connection, so its publishes are counted in DRF's
cache (``django.core.cache``, the ``default`` alias), keyed by the user or,
for an anonymous caller, by the client's address. The same rate and the
same burst as the socket's bucket: ``PUBLISH_RATE`` a second on average,
at most as many at once. The count is per process unless that cache is
shared (Redis, Memcached).
"""

from __future__ import annotations

import functools
import ipaddress
import math
import threading
from collections.abc import Iterable

from rest_framework.request import Request
from rest_framework.throttling import SimpleRateThrottle
from rest_framework.views import APIView

from ..conf import wsrpc_settings

__all__ = ["PublishRateThrottle", "client_address", "trusted_networks"]

Network = ipaddress.IPv4Network | ipaddress.IPv6Network

# The cache is read, changed and written back: without a lock two threads
# of one process could both take the last publish of a burst.
_lock = threading.Lock()


class PublishRateThrottle(SimpleRateThrottle):
    """At most ``PUBLISH_RATE`` publishes a second per caller, in bursts of as many (at least one).

    ``None`` lets everything through. Refused requests are answered 429 with
    ``Retry-After`` (``publish/``) or -32029 (``rpc.publish``).
    """

    scope = "wsrpc_publish"

    def __init__(self) -> None:  # the rate comes from WSRPC, read now, not DRF's THROTTLE_RATES
        self.publish_rate = wsrpc_settings.PUBLISH_RATE
        self.rate = None if self.publish_rate is None else f"{self.publish_rate:g}/s"
        # A window of `burst` publishes per `burst / rate` seconds: the bucket's burst and average.
        self.num_requests = max(1, math.floor(self.publish_rate)) if self.publish_rate is not None else 0
        self.duration = self.num_requests / self.publish_rate if self.publish_rate is not None else 0.0

    def get_cache_key(self, request: Request, view: APIView | None) -> str:
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            ident = f"user-{user.pk}"
        else:
            ident = f"addr-{client_address(request)}"
        return self.cache_format % {"scope": self.scope, "ident": ident}

    def allow_request(self, request: Request, view: APIView | None) -> bool:  # no view over rpc/
        with _lock:
            return super().allow_request(request, view)  # type: ignore[arg-type]


def client_address(request: Request) -> str:
    """The caller's address: ``REMOTE_ADDR``, or from ``X-Forwarded-For`` when the peer is a trusted proxy.

    The header is read from the right: each hop a trusted proxy added is
    skipped, and the first address no ``TRUSTED_PROXIES`` entry covers is
    the client (what a client writes into the header itself lies to its left).
    """
    remote: str = request.META.get("REMOTE_ADDR") or ""
    networks = trusted_networks(tuple(wsrpc_settings.TRUSTED_PROXIES))
    if not networks or not _covered(remote, networks):
        return remote
    header = str(request.META.get("HTTP_X_FORWARDED_FOR", ""))
    hops = [hop.strip() for hop in header.split(",") if hop.strip()]
    for hop in reversed(hops):
        if not _covered(hop, networks):
            return hop
    return hops[0] if hops else remote


@functools.cache
def trusted_networks(entries: tuple[str, ...]) -> tuple[Network, ...]:
    """``TRUSTED_PROXIES`` parsed (addresses or networks); raises ``ValueError`` for a bad entry."""
    return tuple(ipaddress.ip_network(entry, strict=False) for entry in entries)


def _covered(address: str, networks: Iterable[Network]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in network for network in networks)

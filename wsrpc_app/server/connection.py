"""The calling peer, as a method sees it through its ``connection`` parameter."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Protocol

from ..core.calls import PeerCalls
from ..core.dispatch import Dispatcher
from ..core.endpoint import Endpoint, ProgressCallback
from ..core.errors import RpcError
from ..core.registry import Method, Registry
from ..core.types import JSON, JSONObject, Params, Scope, Timeout
from ..metrics.recorder import recorder
from ..pubsub.member import Member
from ..pubsub.publisher import Publisher
from ..pubsub.roster import client_entry
from .identity import credentials_of, declared_info

__all__ = ["Connection", "HttpConnection"]

logger = logging.getLogger("wsrpc")


class Connection(PeerCalls):
    """One caller: who it is, how to call back into it, and what it listens to.

    ``user`` and ``scope`` come from the ASGI scope; ``registry`` holds the
    methods it may call and ``dispatcher`` runs them; ``call()``,
    ``request()``, ``notify()`` and ``methods`` call back into the client;
    ``subscriptions`` are the topics and patterns it receives events for;
    ``id`` is unique across server processes once it is open.

    Raises :class:`~wsrpc_app.server.identity.BadInfo` when the handshake
    declares client info that is no JSON object or too large.
    """

    def __init__(
        self,
        scope: Scope,
        registry: Registry,
        dispatcher: Dispatcher,
        *,
        call_timeout: float | None = None,
        max_subscriptions: int | None = None,
        publish_rate: float | None = None,
    ) -> None:
        self.scope = scope
        self.user: object = scope.get("user")
        self.registry = registry
        self.dispatcher = dispatcher
        #: How long a call to the client waits for its reply (``CALL_TIMEOUT``).
        self.call_timeout = call_timeout
        #: The endpoint to the client, once the transport :meth:`attach`\es it.
        self.endpoint: Endpoint | None = None
        self.member: Member | None = Member(
            self.user,
            self.deliver,
            limit=max_subscriptions,
            info=declared_info(scope),
            credentials=credentials_of(scope, self.user),
        )
        self.member.peer = self
        #: ``await closer(code, reason)`` closes the WebSocket: set by the transport.
        self.closer: Callable[[int, str], Awaitable[None]] | None = None
        self.publish_rate = publish_rate
        self._publisher: Publisher | None = None  # made by the first publish: most connections never publish

    def __repr__(self) -> str:
        return f"<{type(self).__name__} user={self.user!r}>"

    # Who it is ----------------------------------------------------------------

    @property
    def id(self) -> str | None:
        """Unique across server processes, once open; None over HTTP."""
        return (self.member.id or None) if self.member is not None else None

    def info(self) -> JSONObject:
        """What ``rpc.info`` answers: its id, its user, what the client declared, since when it is open."""
        if self.member is None:
            return client_entry("", self.user, None) | {"connection": None}
        info = self.member.describe()
        del info["subscriptions"]
        return info

    async def close_by_server(self, code: int, reason: str) -> None:
        """Close the WebSocket with ``code`` and ``reason`` (server code's order)."""
        if self.closer is not None:
            await self.closer(code, reason)

    # Calls to the client ------------------------------------------------------

    async def request(
        self,
        name: str,
        params: Params | None = None,
        *,
        timeout: Timeout = ...,
        progress: ProgressCallback | None = None,
    ) -> JSON:
        with recorder().client_call(name):  # timed, by outcome (server/metrics)
            return await super().request(name, params, timeout=timeout, progress=progress)

    async def _peer(self) -> Endpoint:
        if self.endpoint is None:
            raise RpcError("This connection cannot be called back")
        return self.endpoint

    # What it may call ---------------------------------------------------------

    async def callable_registry(self) -> Registry:
        """The methods this connection's user may call (what ``rpc.discover`` lists)."""
        return Registry([m for m in self.registry if await self._may_call(m)], allow_reserved=True)

    async def _may_call(self, method: Method) -> bool:
        try:
            return await self.dispatcher.refusal(method, self) is None
        except Exception:
            # One broken permission class must not take rpc.discover down for everyone.
            logger.exception("checking the permissions of %r failed; rpc.discover leaves it out", method.name)
            return False

    # Pub/sub ------------------------------------------------------------------

    @property
    def subscriptions(self) -> set[str]:
        """The topics and patterns this connection receives events for."""
        return self.member.names if self.member is not None else set()

    def publisher(self) -> Publisher:
        """Publishes as this connection's user, within its publish rate."""
        if self._publisher is None:
            self._publisher = Publisher(self.user, self.publish_rate)
        return self._publisher

    def deliver(self, frame: str) -> None:
        """Queue a frame for the client without waiting; dropped before :meth:`attach` and after close."""
        if self.endpoint is not None:
            self.endpoint.deliver(frame)

    def attach(self, endpoint: Endpoint) -> None:
        """The transport's endpoint to the client: calls go through it, and events straight to its outbox."""
        self.endpoint = endpoint
        if self.member is not None:
            self.member.deliver = endpoint.deliver

    # Lifecycle ----------------------------------------------------------------

    @property
    def closed(self) -> bool:
        return self.member is not None and self.member.closed

    async def open(self) -> None:
        """The connection is accepted: join this process's group for its user."""
        if self.member is not None:
            await self.member.open()

    async def close(self) -> None:
        """The connection is gone: leave every group."""
        if self.member is not None:
            await self.member.close()


class HttpRequest(Protocol):
    """What an HTTP request (Django's or DRF's) gives its connection."""

    @property
    def user(self) -> object: ...


class HttpConnection(Connection):
    """The caller of an HTTP JSON-RPC request: it cannot be called back, nor subscribe."""

    def __init__(self, request: HttpRequest, registry: Registry, dispatcher: Dispatcher) -> None:
        super().__init__(getattr(request, "scope", None) or {}, registry, dispatcher)
        self.user = request.user
        self.http_request = request
        self.member = None

    async def _peer(self) -> Endpoint:
        raise RpcError("Calls to the client are not available over HTTP")

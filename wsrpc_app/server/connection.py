"""The calling peer, as a method sees it through its ``connection`` parameter."""

from __future__ import annotations

import asyncio
import logging
import sys
from types import EllipsisType
from typing import Any

from ..core import protocol
from ..core.dispatch import Dispatcher
from ..core.endpoint import Endpoint, params_of
from ..core.errors import InvalidRequest, PermissionDenied, RpcError, TooManyRequests
from ..core.registry import Method, Registry
from ..core.topics import validate_pattern, validate_topic
from ..core.types import Params
from ..pubsub.ratelimit import TokenBucket

__all__ = ["Connection", "HttpConnection"]

logger = logging.getLogger("wsrpc")


class Connection:
    """One WebSocket connection: who is on it, what it listens to, and how to call back into it.

    ``user`` and ``scope`` come from the ASGI scope; ``registry`` holds the
    methods this connection may call; ``subscriptions`` the topics and
    patterns it receives events for.
    """

    def __init__(
        self,
        scope: dict[str, Any],
        registry: Registry,
        *,
        max_subscriptions: int | None = None,
        publish_rate: float | None = None,
    ) -> None:
        self.scope = scope
        self.user = scope.get("user")
        self.registry = registry
        self.endpoint: Endpoint | None = None
        #: Set by the transport: runs this connection's calls and knows its permissions.
        self.dispatcher: Dispatcher | None = None
        self.subscriptions: set[str] = set()
        self.max_subscriptions = max_subscriptions
        self.publish_rate = publish_rate
        # Made by the first publish: most connections never publish.
        self._publish_bucket: TokenBucket | None = None
        self._publishing: asyncio.Lock | None = None
        self.closed = False

    def __repr__(self) -> str:
        return f"<{type(self).__name__} user={self.user!r}>"

    def _endpoint(self) -> Endpoint:
        if self.endpoint is None:
            raise RpcError("This connection cannot be called back")
        return self.endpoint

    async def call(self, name: str, /, *args: Any, **kwargs: Any) -> Any:
        """Call a method the client exposed and return its result.

        Raises :class:`RpcError` for an error reply and :class:`TimeoutError`
        when no reply comes within ``CALL_TIMEOUT``.
        """
        return await self._endpoint().call(name, params_of(args, kwargs))

    async def request(
        self,
        name: str,
        params: Params | None = None,
        *,
        timeout: float | None | EllipsisType = ...,
    ) -> Any:
        """Like :meth:`call`, with the params given whole and an optional timeout in seconds."""
        return await self._endpoint().call(name, params, timeout=timeout)

    async def notify(self, name: str, /, *args: Any, **kwargs: Any) -> None:
        """Send a notification to the client."""
        await self._endpoint().notify(name, params_of(args, kwargs))


    async def callable_registry(self) -> Registry:
        """The methods this connection's user may call (what ``rpc.discover`` lists)."""
        dispatcher = self.dispatcher
        if dispatcher is None:
            return self.registry
        return Registry([m for m in self.registry if await self._may_call(dispatcher, m)], allow_reserved=True)

    async def _may_call(self, dispatcher: Dispatcher, method: Method) -> bool:
        try:
            return await dispatcher.refusal(method, self) is None
        except Exception:
            # One broken permission class must not take rpc.discover down for everyone.
            logger.exception("checking the permissions of %r failed; rpc.discover leaves it out", method.name)
            return False

    # Topics -----------------------------------------------------------------

    async def subscribe(self, name: str) -> dict[str, Any]:
        """Receive events for a topic or pattern. Subscribing twice is harmless."""
        from ..acl.access import aallowed
        from ..pubsub.hub import get_hub

        validate_pattern(name)
        if name in self.subscriptions:
            return {"topic": name, "subscribed": True}
        name = sys.intern(name)  # one string for every connection subscribed to it
        self._check_room()
        if not await aallowed(self.user, "subscribe", name):
            raise PermissionDenied(data={"topic": name, "action": "subscribe"})
        if name not in self.subscriptions:
            self._check_room()
            self.subscriptions.add(name)
            await (await get_hub()).subscribe(self, name)
        return {"topic": name, "subscribed": True}

    def _check_room(self) -> None:
        if self.max_subscriptions is not None and len(self.subscriptions) >= self.max_subscriptions:
            raise TooManyRequests(
                "Too many subscriptions", data={"max_subscriptions": self.max_subscriptions}
            )

    async def unsubscribe(self, name: str) -> dict[str, Any]:
        """Stop receiving events for a topic or pattern; ``subscribed`` was false if it never was."""
        from ..pubsub.hub import current_hub

        validate_pattern(name)
        if name not in self.subscriptions:
            return {"topic": name, "subscribed": False}
        self.subscriptions.discard(name)
        hub = current_hub()
        if hub is not None:
            await hub.unsubscribe(self, name)
        return {"topic": name, "subscribed": False}

    async def publish(self, topic: str, data: Any = None) -> dict[str, Any]:
        """Publish to a concrete topic, as this connection's user, within its publish rate."""
        from ..acl.access import aallowed
        from ..pubsub.publishing import apublish

        validate_topic(topic)
        if self._publish_bucket is None:
            self._publish_bucket = TokenBucket(self.publish_rate)
            self._publishing = asyncio.Lock()
        if not self._publish_bucket.take():
            raise TooManyRequests("Publishing too fast", data={"publish_rate": self.publish_rate})
        # Requests run concurrently, but one connection's publishes go out in
        # the order they came in, even when the client does not wait for replies.
        assert self._publishing is not None
        async with self._publishing:
            if not await aallowed(self.user, "publish", topic):
                raise PermissionDenied(data={"topic": topic, "action": "publish"})
            await apublish(topic, data)
        return {"topic": topic}

    def deliver(self, frame: str) -> None:
        """Queue an event frame from the fan-out (never waits)."""
        if self.endpoint is not None:
            self.endpoint.deliver(frame)

    async def revoke(self, name: str, reason: str) -> None:
        """The subscription to ``name`` ended on the server's side: tell the client."""
        self.subscriptions.discard(name)
        self.deliver(protocol.notification("rpc.unsubscribed", {"topic": name, "reason": reason}).decode())

    # Lifecycle --------------------------------------------------------------

    def user_key(self) -> str | None:
        user = self.user
        return str(user.pk) if user is not None and getattr(user, "is_authenticated", False) else None

    async def open(self) -> None:
        """Join this process's group for the user, so notify_user() reaches the connection."""
        from ..pubsub.hub import get_hub

        key = self.user_key()
        if key is not None:
            await (await get_hub()).join_user(self, key)

    async def close(self) -> None:
        """Leave every group; called once the connection is gone."""
        from ..pubsub.hub import current_hub

        if self.closed:
            return
        self.closed = True
        hub = current_hub()
        if hub is None:
            return
        for name in list(self.subscriptions):
            await hub.unsubscribe(self, name)
        self.subscriptions.clear()
        key = self.user_key()
        if key is not None:
            await hub.leave_user(self, key)


class HttpConnection(Connection):
    """The caller of an HTTP JSON-RPC request: it cannot be called back."""

    def __init__(self, request: Any, registry: Registry) -> None:
        super().__init__(getattr(request, "scope", None) or {}, registry)
        self.user = request.user
        self.http_request = request

    def _endpoint(self) -> Endpoint:
        raise RpcError("Calls to the client are not available over HTTP")

    async def subscribe(self, name: str) -> dict[str, Any]:
        raise InvalidRequest("Subscriptions need a WebSocket connection", data={"topic": name})

    async def unsubscribe(self, name: str) -> dict[str, Any]:
        raise InvalidRequest("Subscriptions need a WebSocket connection", data={"topic": name})

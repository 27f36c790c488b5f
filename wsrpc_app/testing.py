"""Helpers for testing your own methods and topics, in process, without a server.

:class:`RpcTestClient` talks to your ASGI application through Channels'
``WebsocketCommunicator``, with the same protocol core as the real clients::

    from wsrpc_app.testing import RpcTestClient

    async def test_add():
        async with RpcTestClient() as client:           # routes ws/rpc/ to RpcConsumer
            assert await client.call("add", 1, 2) == 3

    async def test_news(django_user_model):
        user = await django_user_model.objects.acreate(username="ann")
        async with RpcTestClient(user=user, methods={"answer": lambda q: "yes"}) as client:
            await client.subscribe("news")
            ...
            event = await client.next_event()            # {"topic": ..., "data": ...}

With pytest, add ``pytest_plugins = ["wsrpc_app.testing"]`` to your
``conftest.py`` for the ``wsrpc_client`` fixture (an async factory of
connected clients, all closed after the test) and for topic permission
caches emptied before each test.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from typing import Any

from channels.routing import URLRouter
from channels.testing import WebsocketCommunicator

from .core.calls import PeerCalls
from .core.dispatch import Dispatcher
from .core.endpoint import Endpoint
from .core.errors import RpcError
from .core.registry import Method, Registry
from .core.types import JSON, ASGIApp, JSONObject, Params, Scope

__all__ = ["RpcTestClient", "RpcError", "wsrpc_client"]


def _default_application() -> ASGIApp:
    from .routing import websocket_urlpatterns

    router: ASGIApp = URLRouter(websocket_urlpatterns)
    return router


class RpcTestClient(PeerCalls):
    """A client connected in process to ``application`` (by default, ``wsrpc_app.routing``'s routes).

    ``user`` goes into the scope as an authentication middleware would put
    it; ``methods`` are what the server may call on this client; ``headers``
    are ``(name, value)`` byte pairs for the handshake.
    """

    def __init__(
        self,
        application: ASGIApp | None = None,
        path: str = "/ws/rpc/",
        *,
        user: object = None,
        methods: Mapping[str, Callable[..., object]] | None = None,
        headers: list[tuple[bytes, bytes]] | None = None,
        timeout: float = 5.0,
    ) -> None:
        self.communicator = WebsocketCommunicator(application or _default_application(), path, headers=headers)
        if user is not None:
            self.communicator.scope["user"] = user
        self.timeout = self.call_timeout = timeout
        self.registry = Registry(Method.from_callable(n, f, n) for n, f in (methods or {}).items())
        self.events: asyncio.Queue[JSONObject] = asyncio.Queue()
        self.notifications: asyncio.Queue[tuple[str, Params | None]] = asyncio.Queue()
        self.close_code: int | None = None
        self._endpoint: Endpoint | None = None
        self._reader: asyncio.Task[None] | None = None

    async def __aenter__(self) -> RpcTestClient:
        await self.connect()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    async def connect(self) -> None:
        """Open the connection; raises AssertionError when the server refuses it."""
        connected, code = await self.communicator.connect(timeout=self.timeout)
        if not connected:
            raise AssertionError(f"the server refused the connection (close code {code})")
        self._endpoint = Endpoint(
            self._send,
            Dispatcher(self.registry),
            self,
            call_timeout=self.timeout,
            inline={"rpc.event": self._on_event, "rpc.unsubscribed": self._on_notification("rpc.unsubscribed")},
        )
        self._reader = asyncio.ensure_future(self._read())

    async def close(self) -> None:
        if self._reader is not None:
            self._reader.cancel()
            await asyncio.gather(self._reader, return_exceptions=True)
            self._reader = None
        if self._endpoint is not None:
            await self._endpoint.close()
            self._endpoint = None
            await self.communicator.disconnect()

    async def _send(self, text: str) -> None:
        await self.communicator.send_to(text_data=text)

    async def _read(self) -> None:
        assert self._endpoint is not None
        while True:
            message = await self.communicator.output_queue.get()
            if message["type"] == "websocket.close":
                self.close_code = message.get("code", 1000)
                await self._endpoint.close()
                return
            await self._endpoint.receive(message.get("text") or message.get("bytes") or b"")

    def _on_event(self, params: Params | None) -> None:
        if isinstance(params, dict):
            self.events.put_nowait(params)

    def _on_notification(self, method: str) -> Callable[[Params | None], None]:
        return lambda params: self.notifications.put_nowait((method, params))

    @property
    def endpoint(self) -> Endpoint:
        if self._endpoint is None:
            raise RuntimeError("not connected")
        return self._endpoint

    async def _peer(self) -> Endpoint:
        return self.endpoint

    @property
    def user(self) -> object:
        """The user the server sees on this connection."""
        return self.communicator.scope.get("user")

    @property
    def scope(self) -> Scope:
        scope: Scope = self.communicator.scope
        return scope

    # Calls: call(), request(), notify(), batch() and methods, as the real clients have them.

    async def subscribe(self, topic: str) -> JSON:
        return await self.call("rpc.subscribe", topic=topic)

    async def unsubscribe(self, topic: str) -> JSON:
        return await self.call("rpc.unsubscribe", topic=topic)

    async def publish(self, topic: str, data: JSON = None) -> JSON:
        return await self.call("rpc.publish", topic=topic, data=data)

    async def next_event(self, timeout: float | None = None) -> JSONObject:
        """The params of the next ``rpc.event`` (``topic``, ``data``, maybe ``subscription``)."""
        async with asyncio.timeout(self.timeout if timeout is None else timeout):
            return await self.events.get()

    async def no_event(self, wait: float = 0.2) -> bool:
        """True when no event arrives within ``wait`` seconds."""
        try:
            async with asyncio.timeout(wait):
                await self.events.get()
        except TimeoutError:
            return True
        return False

    async def next_notification(self, timeout: float | None = None) -> tuple[str, Params | None]:
        """The next server notification other than events, e.g. ``("rpc.unsubscribed", {...})``."""
        async with asyncio.timeout(self.timeout if timeout is None else timeout):
            return await self.notifications.get()


async def _wsrpc_client() -> AsyncIterator[Callable[..., Awaitable[RpcTestClient]]]:
    """An async factory of connected :class:`RpcTestClient`; takes its arguments, closes all at the end."""
    clients: list[RpcTestClient] = []

    async def connect(*args: Any, **kwargs: Any) -> RpcTestClient:
        client = RpcTestClient(*args, **kwargs)
        await client.connect()
        clients.append(client)
        return client

    yield connect
    for client in clients:
        await client.close()


try:
    import pytest
except ImportError:  # pragma: no cover - the fixture is for pytest users only
    pass
else:
    wsrpc_client = pytest.fixture(_wsrpc_client)

    @pytest.fixture(autouse=True)
    def _wsrpc_fresh_permissions() -> None:
        """Each test starts with empty permission caches (a flushed test database sends no signals)."""
        from .acl.access import invalidate

        invalidate()

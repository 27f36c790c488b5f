"""Helpers for the pub/sub and permission tests: WebSocket peers, topic rows, fresh caches."""

from __future__ import annotations

import collections
import contextlib
import itertools
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from channels.testing import WebsocketCommunicator
from django.conf import settings

from wsrpc_app.acl import access
from wsrpc_app.consumers import RpcConsumer
from wsrpc_app.models import Topic, TopicPermission

__all__ = ["PATH", "Peer", "connected", "event", "fresh_permissions", "make_topic", "grant", "wsrpc"]

PATH = "/ws/rpc/"


def wsrpc(**overrides: Any) -> dict[str, Any]:
    """The test settings' WSRPC with some keys replaced."""
    return {**settings.WSRPC, **overrides}


def event(topic: str, data: Any, subscription: str | None = None) -> dict[str, Any]:
    """The ``rpc.event`` notification a subscriber must receive."""
    params: dict[str, Any] = {"topic": topic, "data": data}
    if subscription is not None:
        params["subscription"] = subscription
    return {"jsonrpc": "2.0", "method": "rpc.event", "params": params}


class Peer:
    """A WebSocket client: calls wait for their own reply; anything else is kept as a notification."""

    def __init__(self, communicator: WebsocketCommunicator) -> None:
        self.ws = communicator
        self.notifications: collections.deque[dict[str, Any]] = collections.deque()
        self._ids = itertools.count(1)

    async def call(self, method: str, params: Any = None, *, timeout: float = 3.0) -> dict[str, Any]:
        id_ = next(self._ids)
        message: dict[str, Any] = {"jsonrpc": "2.0", "method": method, "id": id_}
        if params is not None:
            message["params"] = params
        await self.ws.send_json_to(message)
        while True:
            frame: dict[str, Any] = await self.ws.receive_json_from(timeout=timeout)
            if frame.get("id") == id_ and ("result" in frame or "error" in frame):
                return frame
            self.notifications.append(frame)

    async def result(self, method: str, params: Any = None) -> Any:
        reply = await self.call(method, params)
        assert "error" not in reply, reply
        return reply["result"]

    async def error(self, method: str, params: Any = None) -> dict[str, Any]:
        reply = await self.call(method, params)
        assert "result" not in reply, reply
        error: dict[str, Any] = reply["error"]
        return error

    async def notification(self, timeout: float = 2.0) -> dict[str, Any]:
        """The next frame the server sent on its own (an event, a notification)."""
        if self.notifications:
            return self.notifications.popleft()
        frame: dict[str, Any] = await self.ws.receive_json_from(timeout=timeout)
        return frame

    async def nothing_more(self, timeout: float = 0.2) -> bool:
        """True when no frame is waiting and none comes within ``timeout``."""
        if self.notifications:
            return False
        return bool(await self.ws.receive_nothing(timeout=timeout))


@contextlib.asynccontextmanager
async def connected(user: Any = None, application: Any = None) -> AsyncIterator[Peer]:
    """A connected peer; ``user`` goes in the scope as the auth middleware would put it."""
    communicator = WebsocketCommunicator(application or RpcConsumer.as_asgi(), PATH)
    if user is not None:
        communicator.scope["user"] = user
    accepted, _ = await communicator.connect()
    assert accepted
    try:
        yield Peer(communicator)
    finally:
        await communicator.disconnect()


def make_topic(name: str, **flags: Any) -> Topic:
    """A ``Topic`` row (replacing one of the same name), ``flags`` its booleans and description."""
    Topic.objects.filter(name=name).delete()
    return Topic.objects.create(name=name, **flags)


def grant(topic: Topic, *, user: Any = None, group: Any = None, subscribe: bool = False, publish: bool = False) -> Any:
    return TopicPermission.objects.create(
        topic=topic, user=user, group=group, can_subscribe=subscribe, can_publish=publish
    )


@pytest.fixture(autouse=True)
def fresh_permissions() -> Iterator[None]:
    """Start and end with empty permission caches.

    A test's rolled-back transaction or a transactional test's flush sends no
    signal, so the process-wide caches would otherwise outlive the rows.
    """
    access.invalidate()
    yield
    access.invalidate()

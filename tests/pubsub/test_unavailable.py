"""A channel layer that cannot be reached: publishing answers -32053 (HTTP 503), everything else goes on."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import pytest
from channels.db import database_sync_to_async
from channels.layers import InMemoryChannelLayer
from django.test import Client, override_settings
from django.urls import reverse

from tests.support.pubsub import connected, fresh_permissions, make_topic  # noqa: F401
from wsrpc_app.core.errors import Unavailable
from wsrpc_app.pubsub import relay
from wsrpc_app.pubsub.history import ahistory
from wsrpc_app.pubsub.publishing import apublish

pytestmark = pytest.mark.django_db(transaction=True)

#: A Redis nobody listens on (port 1), failing at once.
NOWHERE = {
    "default": {
        "BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer",
        "CONFIG": {"hosts": [{"address": "redis://127.0.0.1:1/0", "socket_connect_timeout": 0.5}]},
    }
}


@pytest.fixture
def open_topic() -> None:
    make_topic("chat.lobby", anonymous_subscribe=True, anonymous_publish=True)


async def test_rpc_publish_answers_unavailable_and_other_calls_go_on(open_topic: None) -> None:
    with override_settings(CHANNEL_LAYERS=NOWHERE):
        async with connected() as peer:
            error = await peer.error("rpc.publish", {"topic": "chat.lobby", "data": 1})
            assert error == {
                "code": -32053,
                "message": "Unavailable",
                "data": {"reason": "the channel layer cannot be reached; retry later"},
            }
            assert await peer.result("rpc.ping") == "pong"
            assert await peer.result("add", [1, 2]) == 3


async def test_apublish_raises_unavailable(open_topic: None) -> None:
    with override_settings(CHANNEL_LAYERS=NOWHERE), pytest.raises(Unavailable) as raised:
        await apublish("chat.lobby", 1)
    assert raised.value.code == -32053


def test_http_publish_answers_503_in_json(open_topic: None) -> None:
    with override_settings(CHANNEL_LAYERS=NOWHERE):
        response: Any = Client().post(
            reverse("wsrpc:publish"), {"topic": "chat.lobby", "data": 1}, content_type="application/json"
        )
    assert response.status_code == 503
    assert response.json() == {"detail": "the channel layer cannot be reached; retry later"}


class SendlessLayer(InMemoryChannelLayer):  # type: ignore[misc]  # channels has no type hints
    """An in-memory layer that cannot send to groups."""

    async def group_send(self, group: str, message: Any) -> None:
        raise ConnectionError("the layer went away")


async def test_a_stored_event_is_published_even_when_the_layer_fails_to_send_it() -> None:
    """Its subscribers find it in the history; the publisher learns its position, not an error."""
    await database_sync_to_async(make_topic)("kept.one", anonymous_publish=True, history_size=10, history_ttl=60)
    layers = {"default": {"BACKEND": f"{__name__}.SendlessLayer"}}
    with override_settings(CHANNEL_LAYERS=layers):
        async with connected() as peer:
            published = await peer.result("rpc.publish", {"topic": "kept.one", "data": 1})
            assert published["topic"] == "kept.one" and published["offset"] >= 1
            stored = await ahistory("kept.one", limit=1)
    assert [p["data"] for p in stored["publications"]] == [1]
    assert stored["offset"] == published["offset"]


@contextlib.asynccontextmanager
async def silent_redis() -> AsyncIterator[str]:
    """A server that accepts Redis connections and never answers: a Redis stuck or far too busy."""
    held: list[asyncio.StreamWriter] = []

    async def hold(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        held.append(writer)
        while await reader.read(65536):
            pass

    server = await asyncio.start_server(hold, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        for writer in held:
            writer.close()
        server.close()


def _layers(backend: str, url: str) -> dict[str, Any]:
    return {"default": {"BACKEND": backend, "CONFIG": {"hosts": [url]}}}


@pytest.mark.parametrize(
    "backend", ["channels_redis.pubsub.RedisPubSubChannelLayer", "channels_redis.core.RedisChannelLayer"]
)
async def test_a_layer_that_does_not_answer_gives_unavailable_in_time(
    open_topic: None, backend: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(relay, "SEND_TIMEOUT", 0.5)
    async with silent_redis() as url:
        with override_settings(CHANNEL_LAYERS=_layers(backend, url)), pytest.raises(Unavailable) as raised:
            await apublish("chat.lobby", 1)
    assert raised.value.code == -32053
    assert raised.value.data == {"reason": "the channel layer did not answer in time; retry later"}


async def test_an_overloaded_layer_refuses_at_once_with_unavailable(
    open_topic: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One batch hangs on the layer, two publishes wait for the next; the others are refused, not queued."""
    monkeypatch.setattr(relay, "MAX_WAITING", 2)
    monkeypatch.setattr(relay, "SEND_TIMEOUT", 1.0)
    async with silent_redis() as url:
        with override_settings(CHANNEL_LAYERS=_layers("channels_redis.pubsub.RedisPubSubChannelLayer", url)):
            first = asyncio.ensure_future(apublish("chat.lobby", 0))
            await asyncio.sleep(0.1)
            outcomes = await asyncio.gather(
                *(apublish("chat.lobby", n) for n in range(1, 6)), first, return_exceptions=True
            )
    reasons = [outcome.data["reason"] for outcome in outcomes if isinstance(outcome, Unavailable)]
    assert len(reasons) == 6, outcomes
    assert reasons.count("the channel layer is overloaded; retry later") == 3
    assert reasons.count("the channel layer did not answer in time; retry later") == 3

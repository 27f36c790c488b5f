"""A channel layer that cannot be reached: publishing answers -32053 (HTTP 503), everything else goes on."""

from __future__ import annotations

from typing import Any

import pytest
from channels.db import database_sync_to_async
from channels.layers import InMemoryChannelLayer
from django.test import Client, override_settings
from django.urls import reverse

from tests.support.pubsub import connected, fresh_permissions, make_topic  # noqa: F401
from wsrpc_app.core.errors import Unavailable
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

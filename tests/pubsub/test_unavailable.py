"""A channel layer that cannot be reached: publishing answers -32053 (HTTP 503), everything else goes on."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client, override_settings
from django.urls import reverse

from tests.support.pubsub import connected, fresh_permissions, make_topic  # noqa: F401
from wsrpc_app.core.errors import Unavailable
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

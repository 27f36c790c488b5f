"""rpc.info and rpc.presence over HTTP JSON-RPC: who calls, and the same permissions as the WebSocket."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django.urls import reverse

from tests.support.pubsub import fresh_permissions, make_topic  # noqa: F401

pytestmark = pytest.mark.django_db(transaction=True)


def call(client: Client, method: str, params: Any = None) -> Any:
    body: dict[str, Any] = {"jsonrpc": "2.0", "method": method, "id": 1}
    if params is not None:
        body["params"] = params
    return client.post(reverse("wsrpc:rpc"), body, content_type="application/json").json()


def test_rpc_info_over_http_has_no_connection_id() -> None:
    assert call(Client(), "rpc.info")["result"] == {"connection": None, "user": None, "user_id": None}
    user = get_user_model().objects.create(username="ada")
    client = Client()
    client.force_login(user)
    assert call(client, "rpc.info")["result"] == {"connection": None, "user": "ada", "user_id": user.pk}


def test_rpc_presence_over_http_checks_permissions_and_lists_nobody() -> None:
    make_topic("room.#", anonymous_subscribe=True, presence=True)
    make_topic("hidden", presence=True)
    assert call(Client(), "rpc.presence", {"topic": "room.a"})["result"] == {"topic": "room.a", "clients": []}
    assert call(Client(), "rpc.presence_stats", ["room.a"])["result"] == {
        "topic": "room.a",
        "connections": 0,
        "users": 0,
    }
    assert call(Client(), "rpc.presence", {"topic": "hidden"})["error"]["code"] == -32003
    assert call(Client(), "rpc.presence", {"topic": "room..a"})["error"]["code"] == -32004

"""JSON-RPC over HTTP: RpcView at wsrpc/rpc/, driven with Django's test client."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.test import Client, override_settings
from django.urls import reverse
from rest_framework.authtoken.models import Token

# Sync methods run in wsrpc's worker threads, which close stale DB connections
# around each call. Those threads outlive a test, and keep the connection an
# earlier DB test opened there (in-memory SQLite connections are never really
# closed), so closing it needs the database even when the method does not.
pytestmark = pytest.mark.django_db


def url() -> str:
    return reverse("wsrpc:rpc")


def post(client: Client, body: Any, **extra: Any) -> Any:
    data = body if isinstance(body, str | bytes) else json.dumps(body)
    return client.post(url(), data=data, content_type="application/json", **extra)


def request(method: str, params: Any = None, id_: Any = 1) -> dict[str, Any]:
    message: dict[str, Any] = {"jsonrpc": "2.0", "method": method, "id": id_}
    if params is not None:
        message["params"] = params
    return message


def test_url() -> None:
    assert url() == "/wsrpc/rpc/"


def test_single_call(client: Client) -> None:
    response = post(client, request("subtract", [42, 23]))
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    assert response.json() == {"jsonrpc": "2.0", "result": 19, "id": 1}


def test_named_params(client: Client) -> None:
    response = post(client, request("calc.divide", {"a": 1, "b": 4}, "q"))
    assert response.json() == {"jsonrpc": "2.0", "result": 0.25, "id": "q"}


def test_batch(client: Client) -> None:
    response = post(
        client,
        [
            request("sum", [1, 2, 4], "1"),
            {"jsonrpc": "2.0", "method": "notify_hello", "params": [7]},
            request("subtract", [42, 23], "2"),
            {"foo": "boo"},
            request("foo.get", {"name": "myself"}, "5"),
        ],
    )
    assert response.status_code == 200
    replies = response.json()
    assert isinstance(replies, list)
    by_id = {reply["id"]: reply for reply in replies}
    assert len(replies) == 4
    assert by_id["1"]["result"] == 7
    assert by_id["2"]["result"] == 19
    assert by_id[None]["error"]["code"] == -32600
    assert by_id["5"]["error"]["code"] == -32601


def test_a_notification_gets_204(client: Client) -> None:
    response = post(client, {"jsonrpc": "2.0", "method": "update", "params": [1, 2]})
    assert response.status_code == 204
    assert response.content == b""


def test_a_batch_of_notifications_gets_204(client: Client) -> None:
    response = post(client, [{"jsonrpc": "2.0", "method": "notify_sum", "params": [1, 2, 4]}] * 2)
    assert response.status_code == 204
    assert response.content == b""


def test_parse_error(client: Client) -> None:
    response = post(client, '{"jsonrpc": "2.0", "method": "foobar, "params": "bar", "baz]')
    assert response.status_code == 200
    body = response.json()
    assert body["error"]["code"] == -32700
    assert body["id"] is None


def test_empty_batch(client: Client) -> None:
    body = post(client, "[]").json()
    assert body["error"]["code"] == -32600
    assert body["id"] is None


def test_get_is_not_allowed(client: Client) -> None:
    assert client.get(url()).status_code == 405


def test_internal_error_hides_the_exception(client: Client) -> None:
    response = post(client, request("fail"))
    assert response.json() == {"jsonrpc": "2.0", "error": {"code": -32603, "message": "Internal error"}, "id": 1}
    assert b"secret internals" not in response.content


# Who is calling -------------------------------------------------------------------


def test_anonymous_caller(client: Client) -> None:
    assert post(client, request("who")).json()["result"] is None


def test_logged_in_caller(client: Client) -> None:
    client.force_login(get_user_model().objects.create_user("alice"))
    assert post(client, request("who")).json()["result"] == "alice"


def test_token_caller(client: Client) -> None:
    token = Token.objects.create(user=get_user_model().objects.create_user("bob"))
    response = post(client, request("who"), HTTP_AUTHORIZATION=f"Token {token.key}")
    assert response.json()["result"] == "bob"


def test_invalid_token_is_refused(client: Client) -> None:
    response = post(client, request("who"), HTTP_AUTHORIZATION="Token not-a-real-key")
    # DRF answers 403 rather than 401 because SessionAuthentication comes first.
    assert response.status_code == 403
    assert "jsonrpc" not in response.json()


def test_connection_cannot_be_passed_as_a_param(client: Client) -> None:
    body = post(client, request("who", {"connection": "forged"})).json()
    assert body["error"]["code"] == -32602


@pytest.mark.django_db(transaction=True)
def test_sync_orm_method(client: Client) -> None:
    get_user_model().objects.create_user("carol")
    assert post(client, request("db_user_count")).json()["result"] == 1


# What HTTP cannot do -----------------------------------------------------------------


@pytest.mark.parametrize("method", ["call_back", "notify_back"])
def test_calling_the_client_back_is_a_clear_error(client: Client, method: str) -> None:
    body = post(client, request(method, {"method": "client.add", "params": [1, 2]})).json()
    assert body["id"] == 1
    assert body["error"]["code"] == -32000
    assert "HTTP" in body["error"]["message"]


def test_body_over_max_message_bytes(client: Client) -> None:
    assert settings.WSRPC["MAX_MESSAGE_BYTES"] == 64 * 1024
    response = post(client, request("echo", ["x" * 70_000]))
    body = response.json()
    assert body["error"]["code"] == -32600
    assert body["id"] is None
    assert "x" * 100 not in response.content.decode()


def test_max_message_bytes_none_disables_the_limit(client: Client) -> None:
    with override_settings(WSRPC={**settings.WSRPC, "MAX_MESSAGE_BYTES": None}):
        response = post(client, request("echo", ["x" * 70_000]))
    assert response.json()["result"] == "x" * 70_000


@pytest.mark.parametrize(
    "reply",
    [
        {"jsonrpc": "2.0", "result": 19, "id": 7},
        {"jsonrpc": "2.0", "error": {"code": -32000, "message": "x"}, "id": 7},
        {"jsonrpc": "2.0", "result": 19, "error": {"code": -32000, "message": "x"}, "id": 7},
    ],
    ids=["result", "error", "malformed"],
)
def test_a_response_object_is_an_invalid_request(client: Client, reply: dict[str, Any]) -> None:
    body = post(client, reply).json()
    assert body["error"]["code"] == -32600
    assert body["id"] == 7


def test_a_response_in_a_batch_is_an_invalid_request(client: Client) -> None:
    replies = post(client, [{"jsonrpc": "2.0", "result": 19, "id": 7}, request("add", [1, 2], 8)]).json()
    by_id = {reply["id"]: reply for reply in replies}
    assert by_id[7]["error"]["code"] == -32600
    assert by_id[8]["result"] == 3


def test_a_method_whose_param_type_pydantic_refuses_fails_alone(
    client: Client, caplog: pytest.LogCaptureFixture
) -> None:
    # typing.TypedDict before Python 3.12: wsrpc_app.E003 reports it, and
    # only that method fails; the others answer as ever.
    import sys

    methods = [*settings.WSRPC["METHODS"], "tests.support.checks_fixtures.typed_dicts"]
    with override_settings(WSRPC={**settings.WSRPC, "METHODS": methods}):
        other = post(client, request("subtract", [42, 23]))
        refused = post(client, request("typed.manhattan", {"point": {"x": 3, "y": -4}}))
        discovered = post(client, request("rpc.discover"))
    assert (other.status_code, other.json()) == (200, {"jsonrpc": "2.0", "result": 19, "id": 1})
    assert (refused.status_code, refused["Content-Type"]) == (200, "application/json")
    assert discovered.status_code == 200
    assert "typed.manhattan" in {method["name"] for method in discovered.json()["result"]["methods"]}
    if sys.version_info >= (3, 12):  # pydantic takes typing.TypedDict from Python 3.12 on
        assert refused.json() == {"jsonrpc": "2.0", "result": 7, "id": 1}
    else:
        assert refused.json() == {"jsonrpc": "2.0", "error": {"code": -32603, "message": "Internal error"}, "id": 1}
        assert "typing_extensions.TypedDict" in caplog.text  # logged for the developer

"""MAX_MESSAGE_BYTES and MAX_BATCH_LENGTH over HTTP, and errors as JSON everywhere under wsrpc/."""

from __future__ import annotations

import io
import json
import time
from collections.abc import Iterator
from typing import Any

import pytest
from django.conf import settings
from django.core.handlers.wsgi import WSGIRequest
from django.test import Client, RequestFactory, override_settings

from tests.support.pubsub import fresh_permissions, make_topic  # noqa: F401
from wsrpc_app.http import views

pytestmark = pytest.mark.django_db

LIMIT = 64 * 1024  # the test settings' MAX_MESSAGE_BYTES
MB = 1024 * 1024


class Endless(io.RawIOBase):
    """A request body that never ends, counting what the server reads of it."""

    def __init__(self) -> None:
        self.read_bytes = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        size = len(buffer)
        buffer[:size] = b" " * size
        self.read_bytes += size
        return size


def huge_request(path: str, *, declared: int | None) -> tuple[WSGIRequest, Endless]:
    """A POST whose body is endless: ``declared`` bytes by Content-Length, or none declared (chunked)."""
    request = RequestFactory().post(path, b"", content_type="application/json")
    body = Endless()
    request._stream = body  # type: ignore[attr-defined]
    if declared is None:
        request.META.pop("CONTENT_LENGTH", None)
    else:
        request.META["CONTENT_LENGTH"] = str(declared)
    return request, body


def rpc(client: Client, body: Any, **extra: Any) -> Any:
    data = body if isinstance(body, str | bytes) else json.dumps(body)
    return client.post("/wsrpc/rpc/", data, content_type="application/json", **extra)


def batch(length: int) -> list[dict[str, Any]]:
    return [{"jsonrpc": "2.0", "method": "add", "params": [1, 2], "id": i} for i in range(length)]


# Sizes over POST rpc/ ------------------------------------------------------------------


def test_a_20_mb_body_is_413_with_a_json_rpc_error(client: Client) -> None:
    response = rpc(client, b"[" + b" " * (20 * MB) + b"]")
    assert response.status_code == 413
    assert response["Content-Type"] == "application/json"
    assert response.json() == {
        "jsonrpc": "2.0",
        "error": {"code": -32600, "message": "Invalid Request", "data": {"max_message_bytes": LIMIT}},
        "id": None,
    }


def test_a_body_declared_too_large_is_refused_before_any_of_it_is_read() -> None:
    request, body = huge_request("/wsrpc/rpc/", declared=20 * MB)
    response = views.RpcView.as_view()(request)
    assert response.status_code == 413
    assert json.loads(response.content)["error"]["data"] == {"max_message_bytes": LIMIT}
    assert body.read_bytes == 0


def test_a_chunked_body_is_cut_at_the_limit() -> None:
    request, body = huge_request("/wsrpc/rpc/", declared=None)
    request._stream = io.BufferedReader(body)  # type: ignore[attr-defined]  # as a server's body file reads
    response = views.RpcView.as_view()(request)
    assert response.status_code == 413
    assert json.loads(response.content)["error"]["code"] == -32600
    assert body.read_bytes <= LIMIT + 64 * 1024  # one buffer past the limit at most, never the whole


def test_a_50000_request_batch_is_413_quickly(client: Client) -> None:
    started = time.perf_counter()
    response = rpc(client, batch(50_000))
    assert time.perf_counter() - started < 2.0
    assert response.status_code == 413
    assert response.json()["error"] == {
        "code": -32600,
        "message": "Invalid Request",
        "data": {"max_message_bytes": LIMIT},
    }


def test_a_50000_request_batch_within_the_byte_limit_is_refused_by_its_length(client: Client) -> None:
    with override_settings(WSRPC={**settings.WSRPC, "MAX_MESSAGE_BYTES": None}):
        started = time.perf_counter()
        response = rpc(client, batch(50_000))
        elapsed = time.perf_counter() - started
    assert elapsed < 2.0
    assert response.status_code == 413
    assert response.json() == {
        "jsonrpc": "2.0",
        "error": {"code": -32600, "message": "Invalid Request", "data": {"max_batch_length": 50}},
        "id": None,
    }


def test_a_batch_at_the_limit_is_answered(client: Client) -> None:
    response = rpc(client, batch(50))
    assert response.status_code == 200
    assert len(response.json()) == 50


def test_an_empty_batch_is_still_an_invalid_request_not_413(client: Client) -> None:
    response = rpc(client, " [ ] ")
    assert response.status_code == 200
    assert response.json()["error"] == {"code": -32600, "message": "Invalid Request", "data": "empty batch"}


def test_the_limit_is_wsrpcs_not_djangos(client: Client) -> None:
    # Over DATA_UPLOAD_MAX_MEMORY_SIZE (Django's HTML 400) yet within MAX_MESSAGE_BYTES: answered.
    with override_settings(DATA_UPLOAD_MAX_MEMORY_SIZE=1000):
        response = rpc(client, {"jsonrpc": "2.0", "method": "echo", "params": ["x" * 5000], "id": 1})
    assert response.json()["result"] == "x" * 5000


# Sizes over POST publish/ ----------------------------------------------------------------


def test_publish_over_the_limit_is_413_in_drfs_shape(client: Client) -> None:
    make_topic("chat.lobby", anonymous_publish=True)
    response = client.post(
        "/wsrpc/publish/", {"topic": "chat.lobby", "data": "x" * (20 * MB)}, content_type="application/json"
    )
    assert response.status_code == 413
    assert response.json() == {"detail": f"The request body exceeds {LIMIT} bytes.", "max_message_bytes": LIMIT}


def test_publish_declared_too_large_reads_nothing() -> None:
    request, body = huge_request("/wsrpc/publish/", declared=20 * MB)
    response = views.PublishView.as_view()(request)
    assert response.status_code == 413
    assert body.read_bytes == 0


def test_djangos_request_data_too_big_is_a_json_413(client: Client) -> None:
    # A form body is read by Django itself, under DATA_UPLOAD_MAX_MEMORY_SIZE.
    with override_settings(DATA_UPLOAD_MAX_MEMORY_SIZE=1000):
        response = client.post("/wsrpc/publish/", {"topic": "chat.lobby", "data": "x" * 5000})
    assert response.status_code == 413
    assert response["Content-Type"] == "application/json"
    assert response.json()["max_message_bytes"] == 1000


# Errors as JSON, DEBUG on and off ------------------------------------------------------------


@pytest.fixture(params=[False, True], ids=["DEBUG-off", "DEBUG-on"])
def debug(request: pytest.FixtureRequest) -> Iterator[bool]:
    with override_settings(DEBUG=request.param):
        yield request.param


def assert_json(response: Any, status: int) -> Any:
    assert response.status_code == status
    assert response["Content-Type"] == "application/json"
    return response.json()


@pytest.mark.parametrize("method", ["get", "post", "put", "delete"])
@pytest.mark.parametrize("path", ["/wsrpc/nope", "/wsrpc/nope/", "/wsrpc/rpc/extra", "/wsrpc/rpc"])
def test_404_is_json(client: Client, debug: bool, method: str, path: str) -> None:
    if method == "get" and path == "/wsrpc/rpc":
        return  # redirected, below
    assert assert_json(getattr(client, method)(path), 404) == {"detail": "Not found."}


def test_a_get_without_the_trailing_slash_is_redirected(client: Client) -> None:
    response = client.get("/wsrpc/topics?x=1")
    assert (response.status_code, response["Location"]) == (301, "/wsrpc/topics/?x=1")


@pytest.mark.parametrize("path", ["/wsrpc/rpc/", "/wsrpc/publish/"])
def test_405_is_json(client: Client, debug: bool, path: str) -> None:
    assert "not allowed" in assert_json(client.get(path), 405)["detail"]
    assert "not allowed" in assert_json(client.post("/wsrpc/topics/"), 405)["detail"]


def test_415_is_json(client: Client, debug: bool) -> None:
    response = client.post("/wsrpc/publish/", "topic=chat.lobby", content_type="text/plain")
    assert "Unsupported media type" in assert_json(response, 415)["detail"]


def test_400_is_json(client: Client, debug: bool) -> None:
    response = client.post("/wsrpc/publish/", "{not json", content_type="application/json")
    assert "JSON parse error" in assert_json(response, 400)["detail"]


def test_500_of_an_endpoint_is_json(client: Client, debug: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(user: Any) -> Any:
        raise RuntimeError("secret internals")

    monkeypatch.setattr(views, "caller_topics", broken)
    body = assert_json(client.get("/wsrpc/topics/"), 500)
    assert body["detail"] == "A server error occurred."
    assert ("secret internals" in json.dumps(body)) is debug


def test_500_of_rpc_when_the_methods_cannot_load_is_a_json_rpc_error(client: Client, debug: bool) -> None:
    with override_settings(WSRPC={**settings.WSRPC, "METHODS": ["no.such.module"]}):
        body = assert_json(rpc(client, {"jsonrpc": "2.0", "method": "add", "params": [1, 2], "id": 1}), 500)
    assert body["id"] is None
    assert body["error"]["code"] == -32603
    if debug:
        assert "no.such.module" in body["error"]["data"]["exception"]
        assert isinstance(body["error"]["data"]["traceback"], list)
    else:
        assert "data" not in body["error"]

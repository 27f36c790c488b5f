"""The HTTP side's limits on real servers (daphne, uvicorn): rates, sizes and JSON errors as a client meets them."""

from __future__ import annotations

import http.client
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.servers import SERVERS, ServerProcess

pytestmark = pytest.mark.e2e

MB = 1024 * 1024


@pytest.fixture(scope="module", params=[(name, debug) for name in SERVERS for debug in ("0", "1")], ids=str)
def server(request: pytest.FixtureRequest) -> Iterator[ServerProcess]:
    name, debug = request.param
    env = {"WSRPC_TEST_PUBLISH_RATE": "50", "WSRPC_TEST_MAX_MESSAGE_BYTES": str(MB), "WSRPC_TEST_DEBUG": debug}
    with ServerProcess(name, env=env) as process:
        yield process


def publish_status(server: ServerProcess, *, source: str = "127.0.0.1", token: str | None = None) -> int:
    """The status of one anonymous (or token) ``POST wsrpc/publish/`` sent from the address ``source``."""
    connection = http.client.HTTPConnection(server.host, server.port, timeout=10, source_address=(source, 0))
    headers = {"Content-Type": "application/json"}
    if token is not None:
        headers["Authorization"] = f"Token {token}"
    try:
        connection.request("POST", "/wsrpc/publish/", body=json.dumps({"topic": "chat.lobby"}), headers=headers)
        response = connection.getresponse()
        response.read()
        return response.status
    finally:
        connection.close()


def send(server: ServerProcess, path: str, body: Any, *, chunked: bool = False) -> tuple[int, dict[str, str], Any]:
    """POST ``body`` (bytes as they are, else JSON); the status, headers and decoded JSON reply."""
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    connection = http.client.HTTPConnection(server.host, server.port, timeout=10)
    try:
        headers = {"Content-Type": "application/json"}
        if chunked:
            chunks = (data[i : i + 65536] for i in range(0, len(data), 65536))
            connection.request("POST", path, body=chunks, headers=headers, encode_chunked=True)
        else:
            connection.request("POST", path, body=data, headers=headers)
        response = connection.getresponse()
        content = response.read()
        reply = json.loads(content) if content else None
        return response.status, {k.lower(): v for k, v in response.getheaders()}, reply
    finally:
        connection.close()


def rss_kib(server: ServerProcess) -> int:
    for line in Path(f"/proc/{server.pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


def test_a_burst_of_anonymous_publishes_is_held_to_the_rate(server: ServerProcess) -> None:
    connection = http.client.HTTPConnection(server.host, server.port, timeout=10)
    statuses: list[int] = []
    refused: tuple[dict[str, str], Any] | None = None
    started = time.monotonic()
    try:
        for _ in range(300):
            body = json.dumps({"topic": "chat.lobby", "data": "hi"})
            connection.request("POST", "/wsrpc/publish/", body=body, headers={"Content-Type": "application/json"})
            response = connection.getresponse()
            content = response.read()
            statuses.append(response.status)
            if response.status == 429 and refused is None:
                refused = ({k.lower(): v for k, v in response.getheaders()}, json.loads(content))
    finally:
        connection.close()
    elapsed = time.monotonic() - started
    accepted = statuses.count(200)
    assert set(statuses) == {200, 429}
    assert 50 <= accepted <= 50 + 50 * elapsed + 1  # one burst, then the rate
    assert refused is not None
    headers, body = refused
    assert headers["content-type"] == "application/json"
    assert int(headers["retry-after"]) >= 1
    assert body["publish_rate"] == 50.0


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
def test_a_20_mb_body_is_refused_as_json_quickly(server: ServerProcess, chunked: bool) -> None:
    before = rss_kib(server)
    started = time.monotonic()
    status, headers, reply = send(server, "/wsrpc/rpc/", b"[" + b" " * (20 * MB) + b"]", chunked=chunked)
    assert time.monotonic() - started < 5.0
    assert (status, headers["content-type"]) == (413, "application/json")
    assert reply["error"] == {"code": -32600, "message": "Invalid Request", "data": {"max_message_bytes": MB}}
    if server.name == "uvicorn":  # daphne queues a body's chunks in memory before the app reads any (SECURITY.md)
        assert rss_kib(server) - before < 10 * 1024, "the server held the body in memory"


def test_a_50000_request_batch_is_refused_as_json_quickly(server: ServerProcess) -> None:
    started = time.monotonic()
    batch = [{"jsonrpc": "2.0", "method": "add", "params": [1, 2], "id": i} for i in range(50_000)]
    status, _, reply = send(server, "/wsrpc/rpc/", batch)
    assert time.monotonic() - started < 5.0
    assert status == 413
    assert reply["error"]["code"] == -32600


def test_another_address_and_a_logged_in_user_keep_rates_of_their_own(server: ServerProcess) -> None:
    """One address floods until refused; another address, and a user with a token from the same one, go on."""
    script = (
        "from django.contrib.auth import get_user_model; from rest_framework.authtoken.models import Token; "
        "import uuid; user = get_user_model().objects.create_user(f'rated-{uuid.uuid4().hex[:8]}'); "
        "print(Token.objects.create(user=user).key)"
    )
    token = server.manage("shell", "-c", script).strip().splitlines()[-1]
    statuses = [publish_status(server, source="127.0.0.3")]
    while statuses[-1] != 429 and len(statuses) < 500:
        statuses.append(publish_status(server, source="127.0.0.3"))
    assert statuses[-1] == 429 and statuses.count(200) >= 50, statuses
    assert publish_status(server, source="127.0.0.4") == 200, "another address has a rate of its own"
    assert publish_status(server, source="127.0.0.3", token=token) == 200, "so has a logged-in user"


def test_errors_under_wsrpc_are_json(server: ServerProcess) -> None:
    status, headers, reply = send(server, "/wsrpc/no-such-endpoint/", {})
    assert (status, headers["content-type"], reply) == (404, "application/json", {"detail": "Not found."})
    connection = http.client.HTTPConnection(server.host, server.port, timeout=10)
    try:
        connection.request("GET", "/wsrpc/rpc/")
        response = connection.getresponse()
        assert (response.status, response.getheader("Content-Type")) == (405, "application/json")
        assert "not allowed" in json.loads(response.read())["detail"]
    finally:
        connection.close()

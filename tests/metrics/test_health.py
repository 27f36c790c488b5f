"""``wsrpc/health/`` on a uvicorn process whose Redis stops and comes back."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from tests.e2e.http_post import post
from tests.e2e.wire import open_socket
from tests.support.redis_server import RedisServer, redis_server_or_skip
from tests.support.servers import ServerProcess

from .scraping import health

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def server() -> Iterator[ServerProcess]:
    """uvicorn on the in-memory layer."""
    with ServerProcess("uvicorn") as process:
        yield process


@pytest.fixture(params=["redis", "redis_pubsub"])
def on_private_redis(request: pytest.FixtureRequest) -> Iterator[tuple[ServerProcess, RedisServer]]:
    redis_server_or_skip()
    with RedisServer() as redis:
        env = {
            "WSRPC_TEST_LAYER": request.param,
            "WSRPC_TEST_LAYER_PREFIX": f"wsrpc-health-{uuid.uuid4().hex[:10]}",
            "REDIS_URL": redis.url,
        }
        with ServerProcess("uvicorn", env=env) as server:
            yield server, redis


def health_within(server: ServerProcess, status: int, seconds: float) -> Any:
    deadline = time.monotonic() + seconds
    while True:
        got, body = health(server)
        if got == status or time.monotonic() > deadline:
            assert got == status, body
            return body
        time.sleep(0.2)


def test_503_while_redis_is_down_and_200_again_after(on_private_redis: tuple[ServerProcess, RedisServer]) -> None:
    server, redis = on_private_redis
    body = health_within(server, 200, 5)
    assert body == {"status": "ok", "channel_layer": body["channel_layer"], "connections": 0}
    assert body["channel_layer"]["reachable"] is True and body["channel_layer"]["alias"] == "default"

    redis.kill()
    started = time.monotonic()
    down = health_within(server, 503, 5)
    assert time.monotonic() - started < 5  # within HEALTH_TIMEOUT (2 s) and a poll
    assert down["status"] == "unavailable" and down["channel_layer"]["reachable"] is False
    assert "redis://" not in str(down)  # where Redis lives is not told

    redis.start()
    assert health_within(server, 200, 10)["channel_layer"]["reachable"] is True


async def test_the_count_of_connections_of_this_process(server: ServerProcess) -> None:
    """The memory layer answers its round trip; the count follows the sockets open."""
    async with open_socket(server), open_socket(server):
        await asyncio.sleep(0.2)
        status, body = await asyncio.to_thread(health, server)
    assert status == 200 and body["connections"] == 2
    for _ in range(50):  # the server sees both sockets close
        if (await asyncio.to_thread(health, server))[1]["connections"] == 0:
            break
        await asyncio.sleep(0.1)
    assert (await asyncio.to_thread(health, server))[1]["connections"] == 0


def test_only_get(server: ServerProcess) -> None:
    reply = post(server, "wsrpc/health/", {})
    assert reply.status == 405 and reply.json()["detail"]

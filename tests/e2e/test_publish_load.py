"""Many publishers at once on one server process: every publish answered with a result, every event delivered once.

A daphne process (``a``) and a uvicorn process (``b``) share one Redis
layer, each test on both Redis layers. 100, then 1,000 connections to the
uvicorn process publish at the same moment, to topics with and without
history; a subscriber on each process must receive every event exactly
once. With redis-py's pool of 100 connections per layer, one group send per
task would fail with "Too many connections"; the publish path bounds what it
has under way itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from websockets.asyncio.client import ClientConnection

from .cluster import LAYERS, Cluster
from .wire import call, open_socket, recv_json

pytestmark = pytest.mark.e2e

SETUP = """
from wsrpc_app.models import Topic

Topic.objects.create(name="load.#", anonymous_subscribe=True, anonymous_publish=True)
Topic.objects.create(
    name="kept.#", anonymous_subscribe=True, anonymous_publish=True, history_size=5000, history_ttl=600
)
"""


@pytest.fixture(scope="module", params=LAYERS)
def cluster(request: pytest.FixtureRequest, redis_url: str) -> Iterator[Cluster]:
    layer: str = request.param
    with Cluster(layer, prefix=f"wsrpc-load-{uuid.uuid4().hex[:10]}-{layer}", redis_url=redis_url) as started:
        started.python(SETUP)
        yield started


async def _subscribed(cluster_server: Any, topic: str, stack: contextlib.AsyncExitStack) -> ClientConnection:
    ws = await stack.enter_async_context(open_socket(cluster_server))
    reply = await call(ws, {"jsonrpc": "2.0", "id": 1, "method": "rpc.subscribe", "params": {"topic": topic}})
    assert "result" in reply, reply
    return ws


async def _events(ws: ClientConnection, count: int) -> list[Any]:
    return [await recv_json(ws, within=30) for _ in range(count)]


@pytest.mark.parametrize("publishers", [100, 1000])
@pytest.mark.parametrize("root", ["load", "kept"], ids=["no-history", "history"])
async def test_concurrent_publishers_all_get_a_result_and_every_event_arrives_once(
    cluster: Cluster, publishers: int, root: str
) -> None:
    topic = f"{root}.{uuid.uuid4().hex[:8]}"
    async with contextlib.AsyncExitStack() as stack:
        listeners = [await _subscribed(server, topic, stack) for server in cluster.servers]
        sockets = await asyncio.gather(
            *(stack.enter_async_context(open_socket(cluster.b, open_timeout=30)) for _ in range(publishers))
        )
        for n, ws in enumerate(sockets):
            await ws.send(
                json.dumps({"jsonrpc": "2.0", "id": n, "method": "rpc.publish", "params": {"topic": topic, "data": n}})
            )
        replies = await asyncio.gather(*(recv_json(ws, within=30) for ws in sockets))
        errors = [reply for reply in replies if "result" not in reply]
        assert errors == []
        assert [reply["result"]["topic"] for reply in replies] == [topic] * publishers
        if root == "kept":
            assert sorted(reply["result"]["offset"] for reply in replies) == list(range(1, publishers + 1))

        for listener in listeners:
            frames = await _events(listener, publishers)
            assert {frame["method"] for frame in frames} == {"rpc.event"}
            assert sorted(frame["params"]["data"] for frame in frames) == list(range(publishers))
            if root == "kept":
                # Delivered in offset order: holes the batches left were filled before anything went on.
                offsets = [frame["params"]["offset"] for frame in frames]
                assert offsets == sorted(offsets)

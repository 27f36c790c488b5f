"""Model changes made by other processes reach subscribers on two server processes, through Redis.

A daphne and a uvicorn process share a database and the Redis pub/sub
layer; ``manage.py todo`` and a plain Python script, each a process of its
own, change the demo's to-do list. Every subscriber, on either server,
receives each committed change once, as the REST API gives the row.
"""

from __future__ import annotations

import asyncio
import json
import urllib.request
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from websockets.asyncio.client import ClientConnection

from .cluster import Cluster
from .wire import REPLY_TIMEOUT, assert_silent, call, loads, open_socket

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def cluster(redis_url: str) -> Iterator[Cluster]:
    prefix = f"wsrpc-e2e-observers-{uuid.uuid4().hex[:12]}"
    with Cluster("redis_pubsub", prefix=prefix, redis_url=redis_url) as started:
        yield started


async def subscribe(ws: ClientConnection, topic: str) -> None:
    reply = await call(ws, {"jsonrpc": "2.0", "method": "rpc.subscribe", "params": {"topic": topic}, "id": "sub"})
    assert reply.get("result", {}).get("topic") == topic, reply


async def change(ws: ClientConnection) -> tuple[str, Any]:
    """The next frame, an event: its topic and data."""
    async with asyncio.timeout(REPLY_TIMEOUT):
        frame = loads(await ws.recv())
    assert frame["method"] == "rpc.event", frame
    return frame["params"]["topic"], frame["params"]["data"]


async def script_changes(cluster: Cluster, topic: str, script: str) -> tuple[int, list[tuple[str, Any]]]:
    """Run ``script`` (it prints a primary key) in a process of its own; the pk and the one change
    that subscribers of ``topic`` on either server receive, after which they receive nothing."""
    async with open_socket(cluster.a) as on_a, open_socket(cluster.b) as on_b:
        for ws in (on_a, on_b):
            await subscribe(ws, topic)
        pk = int(await asyncio.to_thread(cluster.python, script))
        received = [await change(ws) for ws in (on_a, on_b)]
        for ws in (on_a, on_b):
            await assert_silent(ws)
    return pk, received


def rest(cluster: Cluster, pk: int) -> Any:
    """The item as the REST API (``GET /api/todos/<pk>/``) gives it."""
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open(f"{cluster.b.http_url}api/todos/{pk}/", timeout=REPLY_TIMEOUT) as response:
        return json.loads(response.read())


async def test_manage_py_changes_reach_subscribers_on_both_processes(cluster: Cluster) -> None:
    async with open_socket(cluster.a) as on_a, open_socket(cluster.b) as on_b:
        for ws in (on_a, on_b):
            await subscribe(ws, "todos")

        output = await asyncio.to_thread(cluster.manage, "todo", "add", "Water the plants")
        pk = int(output.split()[1].rstrip(":"))
        created = {"action": "created", "pk": pk, "data": rest(cluster, pk)}
        assert created["data"]["title"] == "Water the plants" and created["data"]["done"] is False
        for ws in (on_a, on_b):
            assert await change(ws) == ("todos", created)

        async with open_socket(cluster.b) as one:
            await subscribe(one, f"todos.{pk}")
            await asyncio.to_thread(cluster.manage, "todo", "done", str(pk))
            updated = {"action": "updated", "pk": pk, "data": rest(cluster, pk)}
            assert updated["data"]["done"] is True
            for ws in (on_a, on_b):
                assert await change(ws) == ("todos", updated)
            assert await change(one) == (f"todos.{pk}", updated)

            await asyncio.to_thread(cluster.manage, "todo", "remove", str(pk))
            deleted = {"action": "deleted", "pk": pk, "data": updated["data"]}
            for ws in (on_a, on_b):
                assert await change(ws) == ("todos", deleted)
            assert await change(one) == (f"todos.{pk}", deleted)

        for ws in (on_a, on_b):
            await assert_silent(ws)


async def test_a_script_saving_twice_and_rolling_back_publishes_the_commit_once(cluster: Cluster) -> None:
    script = """
from django.db import transaction
from demo_project.models import TodoItem

try:
    with transaction.atomic():
        TodoItem.objects.create(title="never")
        raise RuntimeError
except RuntimeError:
    pass
with transaction.atomic():
    item = TodoItem.objects.create(title="draft")
    item.title = "Call the plumber"
    item.save()
    item.done = True
    item.save(update_fields=["done"])
print(item.pk)
"""
    pk, received = await script_changes(cluster, "todos", script)
    for _topic, data in received:
        assert data == {"action": "created", "pk": pk, "data": rest(cluster, pk)}
        assert (data["data"]["title"], data["data"]["done"]) == ("Call the plumber", True)


async def test_a_process_ending_right_after_its_commit_still_publishes_its_background_changes(
    cluster: Cluster,
) -> None:
    script = """
from demo_project.models import TodoItem
from wsrpc_app.observers import observe

observe(TodoItem, topic="todos.background", serializer=lambda item: {"title": item.title}, background=True)
item = TodoItem.objects.create(title="Published at exit")
print(item.pk)
"""
    pk, received = await script_changes(cluster, "todos.background", script)
    expected = ("todos.background", {"action": "created", "pk": pk, "data": {"title": "Published at exit"}})
    assert received == [expected, expected]

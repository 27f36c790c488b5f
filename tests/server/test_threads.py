"""Sync methods run in wsrpc's thread pool, with Django's DB connections handled there."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from channels.testing import WebsocketCommunicator
from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import DEFAULT_DB_ALIAS, connections
from django.test import Client, override_settings

from tests.support import django_methods
from tests.support.communicators import connected, request

# Closing a worker thread's stale DB connection before a call needs the
# database, even for a method that does not use it (see tests/test_views.py).
pytestmark = pytest.mark.django_db


def with_helpers(**overrides: Any) -> dict[str, Any]:
    """WSRPC with the methods of tests/django_methods.py added."""
    return {**settings.WSRPC, "METHODS": [*settings.WSRPC["METHODS"], "tests.support.django_methods"], **overrides}


async def timed_sleeps(ws: WebsocketCommunicator, *, batch: bool) -> float:
    """Run two 0.3 s sync sleeps at once; how long until both answered."""
    started = time.monotonic()
    if batch:
        await ws.send_json_to([request("sleep_sync", [0.3], 1), request("sleep_sync", [0.3], 2)])
        replies = await ws.receive_json_from(timeout=2)
    else:
        await ws.send_json_to(request("sleep_sync", [0.3], 1))
        await ws.send_json_to(request("sleep_sync", [0.3], 2))
        replies = [await ws.receive_json_from(timeout=2), await ws.receive_json_from(timeout=2)]
    elapsed = time.monotonic() - started
    assert sorted((reply["id"], reply["result"]) for reply in replies) == [(1, 0.3), (2, 0.3)]
    return elapsed


@pytest.mark.parametrize("batch", [False, True], ids=["two-requests", "batch"])
async def test_sync_methods_run_in_parallel(batch: bool) -> None:
    async with connected() as ws:
        assert await timed_sleeps(ws, batch=batch) < 0.55


async def test_sync_methods_of_two_connections_run_in_parallel() -> None:
    async with connected() as first, connected() as second:
        started = time.monotonic()
        await first.send_json_to(request("sleep_sync", [0.3]))
        await second.send_json_to(request("sleep_sync", [0.3]))
        assert (await first.receive_json_from(timeout=2))["result"] == 0.3
        assert (await second.receive_json_from(timeout=2))["result"] == 0.3
    assert time.monotonic() - started < 0.55


async def test_thread_pool_size_is_read_from_settings() -> None:
    with override_settings(WSRPC={**settings.WSRPC, "THREAD_POOL_SIZE": 1}):
        async with connected() as ws:
            assert await timed_sleeps(ws, batch=True) >= 0.55  # one thread: one after the other
    async with connected() as ws:
        assert await timed_sleeps(ws, batch=True) < 0.55  # and back to the default


async def test_sync_method_runs_in_a_worker_thread() -> None:
    with override_settings(WSRPC=with_helpers()):
        async with connected() as ws:
            await ws.send_json_to(request("thread_name"))
            name = (await ws.receive_json_from())["result"]
    assert name.startswith("wsrpc")
    assert name != threading.current_thread().name


# DB connections -------------------------------------------------------------------


@pytest.fixture
def db_closes(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Record each close() of a DB connection wrapper into django_methods.DB_EVENTS.

    The test database is in-memory SQLite, whose close() Django turns into a
    no-op (the data would be lost), so ``wrapper.connection is None`` cannot
    show a close; the call to close() still can.
    """
    wrapper_class = type(connections[DEFAULT_DB_ALIAS])
    original = wrapper_class.close

    def close(self: Any) -> None:
        django_methods.DB_EVENTS.append(("close", self, threading.current_thread().name))
        original(self)

    django_methods.DB_EVENTS.clear()
    monkeypatch.setattr(wrapper_class, "close", close)
    yield
    django_methods.DB_EVENTS.clear()


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("db_closes")
def test_db_connection_is_closed_after_a_sync_call() -> None:
    # Over HTTP: WebsocketCommunicator turns close_old_connections into a no-op
    # while a test awaits it, which would hide what this test looks for.
    get_user_model().objects.create_user("alice")
    with override_settings(WSRPC=with_helpers()):
        response = Client().post(
            "/wsrpc/rpc/", {"jsonrpc": "2.0", "method": "db_probe", "id": 1}, content_type="application/json"
        )
    result = response.json()["result"]
    assert result["users"] == 1
    assert result["conn_max_age"] == 0
    assert result["thread"].startswith("wsrpc")
    # The worker thread closed the connection the method used, after it used it.
    [query_at] = [i for i, event in enumerate(django_methods.DB_EVENTS) if event[0] == "query"]
    _, wrapper, thread = django_methods.DB_EVENTS[query_at]
    assert ("close", wrapper, thread) in django_methods.DB_EVENTS[query_at + 1 :]

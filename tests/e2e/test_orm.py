"""A sync method using the ORM, in a worker thread of a live server."""

from __future__ import annotations

import uuid

import pytest
from websockets.asyncio.client import ClientConnection

from tests.support.servers import ServerProcess

from .http_post import post
from .wire import call

pytestmark = pytest.mark.e2e

COUNT = {"jsonrpc": "2.0", "method": "db_user_count", "id": 1}


async def test_db_user_count_sees_rows_added_by_another_process(server: ServerProcess, ws: ClientConnection) -> None:
    before = (await call(ws, COUNT))["result"]
    assert isinstance(before, int)
    username = f"e2e-{uuid.uuid4().hex[:8]}"
    server.manage(
        "shell", "-c", f"from django.contrib.auth.models import User; User.objects.create(username={username!r})"
    )

    assert await call(ws, COUNT | {"id": 2}) == {"jsonrpc": "2.0", "result": before + 1, "id": 2}
    assert post(server, "wsrpc/rpc/", COUNT | {"id": 3}).json() == {"jsonrpc": "2.0", "result": before + 1, "id": 3}


async def test_orm_calls_run_concurrently(ws: ClientConnection) -> None:
    batch = [COUNT | {"id": n} for n in range(10)]
    reply = await call(ws, batch)
    assert sorted(r["id"] for r in reply) == list(range(10))
    assert len({r["result"] for r in reply}) == 1

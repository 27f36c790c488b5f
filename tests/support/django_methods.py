"""Methods the Django-level tests add to the registry with ``override_settings``.

They record what happened to them in module-level lists, which the tests
clear before use, so a test can see a cancellation or a DB connection the
method itself cannot report in its reply.
"""

from __future__ import annotations

import asyncio
import threading
from typing import Any

from django.contrib.auth import get_user_model
from django.db import DEFAULT_DB_ALIAS, connections

from wsrpc_app import Connection, rpc_method

#: Tags of the ``hold`` calls that were cancelled.
CANCELLED: list[str] = []
#: ``(event, database wrapper, thread name)`` in the order they happened.
DB_EVENTS: list[tuple[str, Any, str]] = []


@rpc_method
async def hold(tag: str, connection: Connection) -> None:
    """Tell the caller it started (a ``started`` notification), then wait until cancelled."""
    try:
        await connection.notify("started", tag)
        await asyncio.sleep(3600)
    except asyncio.CancelledError:
        CANCELLED.append(tag)
        raise


@rpc_method
def thread_name() -> str:
    """The name of the thread a sync method runs in."""
    return threading.current_thread().name


@rpc_method
def db_probe() -> dict[str, Any]:
    """Query the database and note which connection wrapper of which thread did it."""
    wrapper = connections[DEFAULT_DB_ALIAS]
    users = get_user_model().objects.count()
    thread = threading.current_thread().name
    DB_EVENTS.append(("query", wrapper, thread))
    return {"users": users, "thread": thread, "conn_max_age": wrapper.settings_dict["CONN_MAX_AGE"]}

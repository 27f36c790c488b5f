"""Long methods for the cancellation and progress tests: what happened to each is kept by ``key``.

``job_state(key)`` reads it from another connection of the same server
process, so that a test sees whether a cancelled method's ``finally`` ran.
"""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Any

from wsrpc_app import Connection, Progress, rpc_method

#: key -> what happened to the job: "running", "cancelled", "finally", "done", "thread done".
JOBS: dict[str, list[str]] = {}
_lock = threading.Lock()


def _note(key: str, what: str) -> None:
    with _lock:
        JOBS.setdefault(key, []).append(what)


@rpc_method
def job_state(key: str) -> list[str]:
    """What happened to the job ``key`` so far, in order."""
    with _lock:
        return list(JOBS.get(key, []))


@rpc_method
async def long_job(key: str, seconds: float = 30.0) -> str:
    """Sleeps ``seconds``; notes "running", then "cancelled" (if so), "finally" (always), "done" (if it finished)."""
    _note(key, "running")
    try:
        await asyncio.sleep(seconds)
    except asyncio.CancelledError:
        _note(key, "cancelled")
        raise
    finally:
        _note(key, "finally")
    _note(key, "done")
    return "done"


@rpc_method
def sync_job(key: str, seconds: float) -> str:
    """Blocks a pool thread for ``seconds``: a thread cannot be interrupted, it notes "thread done" anyway."""
    _note(key, "running")
    time.sleep(seconds)
    _note(key, "thread done")
    return "done"


@rpc_method
async def count_up(count: int, progress: Progress, pause: float = 0.0) -> str:
    """Reports 1..count as progress (``pause`` seconds apart), then answers "counted"."""
    for n in range(1, count + 1):
        await progress(n)
        if pause:
            await asyncio.sleep(pause)
    return "counted"


@rpc_method
def count_up_sync(count: int, progress: Progress, pause: float = 0.0) -> str:
    """:func:`count_up` from a worker thread."""
    for n in range(1, count + 1):
        progress(n)
        if pause:
            time.sleep(pause)
    return "counted"


@rpc_method
async def ask_client(
    method: str, connection: Connection, params: Any = None, timeout: float | None = None
) -> dict[str, Any]:
    """Calls the client's ``method``; answers its result (or error) and the progress it reported."""
    reports: list[Any] = []
    try:
        result = await connection.request(method, params, timeout=timeout or ..., progress=reports.append)
    except TimeoutError:
        return {"timeout": True, "progress": reports}
    except Exception as exc:
        return {"error": getattr(exc, "code", repr(exc)), "progress": reports}
    return {"result": result, "progress": reports}


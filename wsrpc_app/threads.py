"""Running blocking methods in a thread pool, with Django's DB connections handled.

Channels' consumers close stale DB connections before every message (a thread
hop each time). Here only the calls that run sync code pay it, inside the
worker thread, around the call, as ``database_sync_to_async`` does. The pool
has several threads, so one slow sync method does not hold up the others.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from channels.db import DatabaseSyncToAsync

from .conf import wsrpc_settings

__all__ = ["run_sync"]

_lock = threading.Lock()
_pool: ThreadPoolExecutor | None = None
_wrappers: dict[Callable[..., Any], DatabaseSyncToAsync] = {}


def _executor() -> ThreadPoolExecutor:
    global _pool
    with _lock:
        if _pool is None:
            _pool = ThreadPoolExecutor(wsrpc_settings.THREAD_POOL_SIZE or None, thread_name_prefix="wsrpc")
        return _pool


async def run_sync(func: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """Call ``func`` in the pool, closing stale DB connections before and after."""
    wrapper = _wrappers.get(func)
    if wrapper is None:
        wrapper = _wrappers[func] = DatabaseSyncToAsync(func, thread_sensitive=False, executor=_executor())
    return await wrapper(*args, **kwargs)

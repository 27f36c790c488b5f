"""Running blocking methods in a thread pool, with Django's DB connections handled.

Channels' consumers close stale DB connections before every message (a thread
hop each time). Here only the calls that run sync code pay it, inside the
worker thread, around the call, as ``database_sync_to_async`` does. The pool
has several threads, so one slow sync method does not hold up the others.
"""

from __future__ import annotations

import threading
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from typing import ParamSpec, TypeVar, cast

from channels.db import DatabaseSyncToAsync

from ..conf import wsrpc_settings

__all__ = ["run_sync"]

P = ParamSpec("P")
R = TypeVar("R")

_lock = threading.Lock()
_pool: ThreadPoolExecutor | None = None
_pool_size: int | None = None
#: Channels' ``DatabaseSyncToAsync`` of each function, for the pool it was made for.
_wrappers: dict[Callable[..., object], tuple[ThreadPoolExecutor, Callable[..., Awaitable[object]]]] = {}


def _executor() -> ThreadPoolExecutor:
    """The pool, replaced when ``THREAD_POOL_SIZE`` changes (``override_settings``)."""
    global _pool, _pool_size
    size = wsrpc_settings.THREAD_POOL_SIZE
    with _lock:
        if _pool is None or size != _pool_size:
            if _pool is not None:
                _pool.shutdown(wait=False)  # its running calls finish; its idle threads exit
            _pool = ThreadPoolExecutor(size or None, thread_name_prefix="wsrpc")
            _pool_size = size
        return _pool


async def run_sync(func: Callable[P, R], *args: P.args, **kwargs: P.kwargs) -> R:
    """Call ``func`` in the pool, closing stale DB connections before and after."""
    executor = _executor()
    executor_and_wrapper = _wrappers.get(func)
    if executor_and_wrapper is None or executor_and_wrapper[0] is not executor:
        executor_and_wrapper = _wrappers[func] = (
            executor,
            DatabaseSyncToAsync(func, thread_sensitive=False, executor=executor),
        )
    return cast(R, await executor_and_wrapper[1](*args, **kwargs))  # the wrapper returns what func does

"""Running a coroutine at once, paying for a task only if it has to wait.

Most of what a connection does never waits: an ``async def`` method that
computes its result, a reply written to a socket with room in its buffer, an
event handed to an idle subscriber. Starting each of those on a task of its
own costs a task object and a turn of the event loop. The helpers here run a
coroutine's first step right away and, only when it waits for something,
finish it elsewhere:

- :func:`start` finishes it on a new task (what Python 3.12's eager tasks
  do; there, it uses them);
- :func:`run_here` finishes it on the calling task, after calling a hook that
  lets the caller move its own work to another task (the consumer moves its
  reading, so a method that waits never holds up the next frame);
- :func:`within` bounds it in time, arming the timer only when it waits.

:func:`start` and :func:`run_here` step the coroutine in its own copy of
the context, as on a task of its own; :func:`within` steps it in the
caller's, as ``await`` would.
"""

from __future__ import annotations

import asyncio
import contextvars
import sys
import types
from collections.abc import Callable, Coroutine, Generator
from typing import Any, NoReturn, TypeAlias, TypeVar

__all__ = ["start", "run_here", "within"]

T = TypeVar("T")
#: A coroutine that returns a T; what it yields and is sent is the event loop's business.
Coro: TypeAlias = Coroutine[object, object, T]

_EAGER_TASKS = sys.version_info >= (3, 12)


@types.coroutine
def _resume(coro: Coro[T], waiting_on: object, context: contextvars.Context | None) -> Generator[object, object, T]:
    """Continue ``coro``, which has yielded ``waiting_on`` to the event loop.

    Each step runs in ``context``, or in the awaiting task's when it is None.
    """
    send, throw = coro.send, coro.throw
    while True:
        try:
            value = yield waiting_on
        except GeneratorExit:
            coro.close()
            raise
        except BaseException as exc:
            step: Callable[[Any], object] = throw
            value = exc
        else:
            step = send
        try:
            waiting_on = step(value) if context is None else context.run(step, value)
        except StopIteration as stop:
            result: T = stop.value
            return result


async def _finish(coro: Coro[T], waiting_on: object) -> T:
    return await _resume(coro, waiting_on, None)  # the task steps it in its context


def start(coro: Coro[T]) -> asyncio.Task[T] | None:
    """Run ``coro`` until it first waits; then finish it on a new task, returned. None: it is done.

    Its exceptions are the task's to report, as with ``create_task()``. For
    code that does not look at ``asyncio.current_task()`` before it first
    waits (before Python 3.12 that is still the caller's task).
    """
    loop = asyncio.get_running_loop()
    if _EAGER_TASKS:
        task: asyncio.Task[T] = asyncio.Task(coro, loop=loop, eager_start=True)  # type: ignore[call-arg,unused-ignore]
        return None if task.done() and not task.cancelled() and task.exception() is None else task
    context = contextvars.copy_context()
    try:
        waiting_on = context.run(coro.send, None)
    except StopIteration:
        return None
    except BaseException as exc:  # reported by a task, as if the coroutine had one from the start
        return loop.create_task(_raise(exc))
    return loop.create_task(_finish(coro, waiting_on), context=context)


async def _raise(exc: BaseException) -> NoReturn:
    raise exc


async def run_here(coro: Coro[T], on_wait: Callable[[], None]) -> T:
    """Run ``coro`` on this task, calling ``on_wait()`` just before it first waits.

    ``on_wait`` runs synchronously, while the coroutine's first wait is being
    set up: this task is then the coroutine's until it ends, and anything
    else the task was doing must move to another.
    """
    context = contextvars.copy_context()
    try:
        waiting_on = context.run(coro.send, None)
    except StopIteration as stop:
        result: T = stop.value
        return result
    on_wait()
    return await _resume(coro, waiting_on, context)


async def within(coro: Coro[T], seconds: float) -> T:
    """Await ``coro``, raising :class:`TimeoutError` if it runs longer than ``seconds``.

    ``asyncio.timeout()`` arms a timer for every call; this one arms it only
    when ``coro`` first waits, so calls that finish at once cost nothing.
    The time counts from that first wait.
    """
    try:
        waiting_on = coro.send(None)
    except StopIteration as stop:
        result: T = stop.value
        return result
    task = asyncio.current_task()
    assert task is not None, "within() runs on a task"
    already_cancelling = task.cancelling()
    expired = False

    def expire() -> None:
        nonlocal expired
        expired = True
        task.cancel()

    timer = asyncio.get_running_loop().call_later(seconds, expire)
    try:
        result = await _resume(coro, waiting_on, None)
    except asyncio.CancelledError:
        if expired and task.uncancel() <= already_cancelling:
            raise TimeoutError from None
        raise
    finally:
        timer.cancel()
    if expired:  # it ended anyway: the cancellation it caught was ours
        task.uncancel()
    return result

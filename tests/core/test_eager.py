"""Running a coroutine at once, with a task only if it waits (wsrpc_app/eager.py)."""

from __future__ import annotations

import asyncio
import contextvars

import pytest

from wsrpc_app.core import eager

var: contextvars.ContextVar[str] = contextvars.ContextVar("var", default="caller's")


async def settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


# start() ----------------------------------------------------------------------


async def test_start_runs_a_coroutine_that_never_waits_to_its_end_without_a_task() -> None:
    done: list[str] = []

    async def work() -> None:
        done.append("ran")

    tasks_before = len(asyncio.all_tasks())
    assert eager.start(work()) is None
    assert done == ["ran"]  # before start() returned
    assert len(asyncio.all_tasks()) == tasks_before


async def test_start_finishes_a_coroutine_that_waits_on_a_task() -> None:
    steps: list[str] = []
    gate = asyncio.Event()

    async def work() -> str:
        steps.append("first step")
        await gate.wait()
        steps.append("second step")
        return "result"

    task = eager.start(work())
    assert task is not None
    assert steps == ["first step"]  # ran at once, up to its first wait
    gate.set()
    assert await task == "result"
    assert steps == ["first step", "second step"]


async def test_start_keeps_the_coroutines_context_to_itself() -> None:
    gate = asyncio.Event()
    seen: list[str] = []

    async def work() -> None:
        var.set("its own")
        await gate.wait()
        seen.append(var.get())

    task = eager.start(work())
    assert var.get() == "caller's"
    gate.set()
    assert task is not None
    await task
    assert seen == ["its own"]  # the value it set survives its wait


async def test_start_reports_a_failure_of_the_first_step_through_a_task() -> None:
    async def work() -> None:
        raise ValueError("broken")

    task = eager.start(work())
    assert task is not None
    with pytest.raises(ValueError, match="broken"):
        await task


async def test_a_task_of_start_can_be_cancelled_while_it_waits() -> None:
    cleaned: list[bool] = []

    async def work() -> None:
        try:
            await asyncio.Event().wait()
        finally:
            cleaned.append(True)

    task = eager.start(work())
    assert task is not None
    await settle()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert cleaned == [True]


# run_here() -------------------------------------------------------------------


async def test_run_here_returns_at_once_without_calling_on_wait() -> None:
    calls: list[str] = []

    async def work() -> int:
        return 42

    assert await eager.run_here(work(), lambda: calls.append("waited")) == 42
    assert calls == []


async def test_run_here_calls_on_wait_once_and_finishes_on_the_same_task() -> None:
    calls: list[str] = []
    tasks: list[asyncio.Task[object] | None] = []

    async def work() -> str:
        tasks.append(asyncio.current_task())
        await asyncio.sleep(0.01)
        tasks.append(asyncio.current_task())
        await asyncio.sleep(0.01)
        return "done"

    assert await eager.run_here(work(), lambda: calls.append("waited")) == "done"
    assert calls == ["waited"]
    assert tasks == [asyncio.current_task()] * 2


async def test_run_here_gives_the_coroutine_a_context_of_its_own() -> None:
    async def work() -> str:
        var.set("its own")
        await asyncio.sleep(0)
        return var.get()

    assert await eager.run_here(work(), lambda: None) == "its own"
    assert var.get() == "caller's"


async def test_run_here_lets_asyncio_timeout_cancel_the_coroutine() -> None:
    async def work() -> str:
        try:
            async with asyncio.timeout(0.01):
                await asyncio.sleep(5)
        except TimeoutError:
            return "timed out"
        return "finished"

    assert await eager.run_here(work(), lambda: None) == "timed out"
    task = asyncio.current_task()
    assert task is not None and task.cancelling() == 0


async def test_run_here_passes_cancellation_into_the_coroutine() -> None:
    cleaned: list[bool] = []

    async def work() -> None:
        try:
            await asyncio.Event().wait()
        finally:
            cleaned.append(True)

    outer = asyncio.ensure_future(eager.run_here(work(), lambda: None))
    await settle()
    outer.cancel()
    with pytest.raises(asyncio.CancelledError):
        await outer
    assert cleaned == [True]


async def test_run_here_propagates_exceptions_before_and_after_a_wait() -> None:
    async def at_once() -> None:
        raise KeyError("first")

    async def later() -> None:
        await asyncio.sleep(0)
        raise KeyError("later")

    with pytest.raises(KeyError, match="first"):
        await eager.run_here(at_once(), lambda: None)
    with pytest.raises(KeyError, match="later"):
        await eager.run_here(later(), lambda: None)


# within() ---------------------------------------------------------------------


async def test_within_lets_a_call_that_never_waits_finish_whatever_the_limit() -> None:
    async def work() -> int:
        return 7

    # No timer is armed: even a limit of zero cannot interrupt it.
    assert await eager.within(work(), 0) == 7


async def test_within_raises_timeout_error_past_the_limit() -> None:
    cleaned: list[bool] = []

    async def work() -> None:
        try:
            await asyncio.sleep(5)
        finally:
            cleaned.append(True)

    with pytest.raises(TimeoutError):
        await eager.within(work(), 0.01)
    assert cleaned == [True]
    task = asyncio.current_task()
    assert task is not None and task.cancelling() == 0  # the task is not left cancelled


async def test_within_returns_the_result_of_a_call_that_waits_in_time() -> None:
    async def work() -> str:
        await asyncio.sleep(0.01)
        return "in time"

    assert await eager.within(work(), 1) == "in time"


async def test_within_does_not_turn_an_outside_cancellation_into_a_timeout() -> None:
    async def work() -> None:
        await asyncio.sleep(5)

    outer = asyncio.ensure_future(eager.within(work(), 10))
    await settle()
    outer.cancel()
    with pytest.raises(asyncio.CancelledError):
        await outer


async def test_within_leaves_the_task_uncancelled_when_the_call_swallows_its_expiry() -> None:
    async def stubborn() -> str:
        try:
            await asyncio.sleep(5)
        except asyncio.CancelledError:
            return "swallowed"
        return "finished"

    assert await eager.within(stubborn(), 0.01) == "swallowed"
    task = asyncio.current_task()
    assert task is not None and task.cancelling() == 0
    await asyncio.sleep(0.02)  # and nothing cancels it later


async def test_within_nests() -> None:
    async def inner() -> None:
        await asyncio.sleep(5)

    async def outer() -> str:
        try:
            await eager.within(inner(), 0.01)
        except TimeoutError:
            return "inner timed out"
        return "no"

    assert await eager.within(outer(), 1) == "inner timed out"

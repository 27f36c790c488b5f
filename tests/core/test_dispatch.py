"""Running requests and turning their outcomes into replies (``wsrpc_app.core.dispatch``)."""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from typing import Any

import pytest

from tests.support.peer import strict_loads
from wsrpc_app import RpcError
from wsrpc_app.core.dispatch import Dispatcher
from wsrpc_app.core.protocol import Invalid, Request
from wsrpc_app.core.registry import Registry
from wsrpc_app.errors import InvalidRequest, PermissionDenied


def thread_id() -> int:
    return threading.get_ident()


async def thread_id_async() -> int:
    return threading.get_ident()


def add(a: int, b: int) -> int:
    return a + b


async def add_async(a: int, b: int) -> int:
    return a + b


def refuse() -> None:
    raise RpcError("Out of stock", code=-32050, data={"sku": "X1"})


async def forbid() -> None:
    raise PermissionDenied()


def crash() -> None:
    raise KeyError("secret internals")


async def crash_async() -> None:
    raise ValueError("secret internals")


async def slow(seconds: float) -> str:
    await asyncio.sleep(seconds)
    return "done"


def slow_sync(seconds: float) -> str:
    time.sleep(seconds)
    return "done"


async def times_out() -> None:
    raise TimeoutError


async def whoami(connection: Any) -> Any:
    return connection


async def first_whoami(connection: Any, suffix: str) -> str:
    return f"{connection}{suffix}"


def whoami_sync(connection: Any, suffix: str = "") -> str:
    return f"{connection}{suffix}"


ENTRIES = [
    thread_id,
    thread_id_async,
    add,
    add_async,
    refuse,
    forbid,
    crash,
    crash_async,
    slow,
    slow_sync,
    times_out,
    whoami,
    first_whoami,
    whoami_sync,
]


def _dispatcher(**options: Any) -> Dispatcher:
    return Dispatcher(Registry.from_entries(ENTRIES), **options)


def _call(method: str, params: Any = None, id_: Any = 1) -> Request:
    return Request(method, params, id_)


async def _execute_error(dispatcher: Dispatcher, method: str, params: Any = None) -> RpcError:
    with pytest.raises(RpcError) as caught:
        await dispatcher.execute(_call(method, params), caller=None)
    return caught.value


async def _reply(dispatcher: Dispatcher, request: Request | Invalid, context: Any = None) -> Any:
    frame = await dispatcher.reply(request, context)
    return None if frame is None else strict_loads(frame)


# execute()


async def test_execute_returns_the_result_of_a_sync_method() -> None:
    assert await _dispatcher().execute(_call("add", [1, 2]), None) == 3


async def test_execute_returns_the_result_of_an_async_method() -> None:
    assert await _dispatcher().execute(_call("add_async", {"a": 1, "b": 2}), None) == 3


async def test_sync_method_runs_in_a_worker_thread() -> None:
    assert await _dispatcher().execute(_call("thread_id"), None) != threading.get_ident()


async def test_async_method_runs_on_the_event_loop_thread() -> None:
    assert await _dispatcher().execute(_call("thread_id_async"), None) == threading.get_ident()


async def test_sync_method_goes_through_the_given_run_sync() -> None:
    ran: list[str] = []

    async def run_sync(func: Any, *args: Any, **kwargs: Any) -> Any:
        ran.append(func.__name__)
        return func(*args, **kwargs)

    dispatcher = _dispatcher(run_sync=run_sync)
    assert await dispatcher.execute(_call("add", [1, 2]), None) == 3
    assert await dispatcher.execute(_call("add_async", [1, 2]), None) == 3
    assert ran == ["add"]  # async methods never go through it


async def test_unknown_method_is_method_not_found_naming_it() -> None:
    error = await _execute_error(_dispatcher(), "nope")
    assert (error.code, error.data) == (-32601, {"method": "nope"})


async def test_invalid_params_are_reported_before_the_method_runs() -> None:
    ran: list[str] = []

    async def run_sync(func: Any, *args: Any, **kwargs: Any) -> Any:
        ran.append(func.__name__)
        return func(*args, **kwargs)

    error = await _execute_error(_dispatcher(run_sync=run_sync), "add", [1])
    assert error.code == -32602
    assert ran == []


async def test_rpc_error_raised_by_a_method_is_kept() -> None:
    error = await _execute_error(_dispatcher(), "refuse")
    assert (error.code, error.message, error.data) == (-32050, "Out of stock", {"sku": "X1"})


async def test_rpc_error_subclass_raised_by_a_method_is_kept() -> None:
    error = await _execute_error(_dispatcher(), "forbid")
    assert isinstance(error, PermissionDenied)
    assert error.code == -32003


async def test_exception_of_a_sync_method_is_internal_error() -> None:
    error = await _execute_error(_dispatcher(), "crash")
    assert (error.code, error.message, error.data) == (-32603, "Internal error", None)


async def test_exception_of_an_async_method_is_internal_error() -> None:
    error = await _execute_error(_dispatcher(), "crash_async")
    assert (error.code, error.data) == (-32603, None)


async def test_exception_text_is_hidden_outside_debug() -> None:
    error = await _execute_error(_dispatcher(), "crash_async")
    assert "secret internals" not in repr(error)


async def test_exception_text_and_traceback_are_shown_in_debug() -> None:
    error = await _execute_error(_dispatcher(debug=True), "crash")
    assert error.data["exception"] == "KeyError: 'secret internals'"
    assert error.data["traceback"][0].startswith("Traceback")
    assert "crash" in "".join(error.data["traceback"])


async def test_exception_is_logged_with_its_traceback(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.ERROR, logger="wsrpc"):
        await _execute_error(_dispatcher(), "crash_async")
    [record] = [r for r in caplog.records if r.name == "wsrpc"]
    assert "crash_async" in record.getMessage()
    assert record.exc_info is not None
    assert isinstance(record.exc_info[1], ValueError)


async def test_timeout_error_raised_by_a_method_is_timed_out() -> None:
    error = await _execute_error(_dispatcher(), "times_out")
    assert (error.code, error.data) == (-32008, {"method": "times_out"})


async def test_async_method_over_the_time_limit_is_timed_out() -> None:
    started = time.monotonic()
    error = await _execute_error(_dispatcher(time_limit=0.05), "slow", [5])
    assert error.code == -32008
    assert time.monotonic() - started < 1


async def test_sync_method_over_the_time_limit_is_timed_out() -> None:
    started = time.monotonic()
    error = await _execute_error(_dispatcher(time_limit=0.05), "slow_sync", [0.3])
    assert error.code == -32008
    assert time.monotonic() - started < 0.3


async def test_method_within_the_time_limit_returns_its_result() -> None:
    assert await _dispatcher(time_limit=1).execute(_call("slow", [0.01]), None) == "done"


async def test_no_time_limit_by_default() -> None:
    assert _dispatcher().time_limit is None


async def test_connection_parameter_receives_the_context() -> None:
    context = object()
    assert await _dispatcher().execute(_call("whoami"), context) is context


async def test_connection_parameter_first_with_positional_params() -> None:
    assert await _dispatcher().execute(_call("first_whoami", ["!"]), "ann") == "ann!"


async def test_connection_parameter_of_a_sync_method_with_named_params() -> None:
    assert await _dispatcher().execute(_call("whoami_sync", {"suffix": "?"}), "bob") == "bob?"


async def test_connection_parameter_cannot_be_forged_by_the_caller() -> None:
    error = await _execute_error(_dispatcher(), "whoami_sync", {"connection": "admin"})
    assert error.code == -32602


# reply()


async def test_reply_to_a_call_is_its_result() -> None:
    assert await _reply(_dispatcher(), _call("add", [2, 3], "x")) == {"jsonrpc": "2.0", "result": 5, "id": "x"}


async def test_reply_to_a_failed_call_is_its_error() -> None:
    reply = await _reply(_dispatcher(), _call("forbid"))
    assert reply == {"jsonrpc": "2.0", "error": {"code": -32003, "message": "Permission denied"}, "id": 1}


async def test_reply_to_a_notification_is_nothing() -> None:
    assert await _reply(_dispatcher(), Request("add", [1, 2], None, notification=True)) is None


async def test_reply_to_a_failed_notification_is_nothing() -> None:
    assert await _reply(_dispatcher(), Request("crash", None, None, notification=True)) is None


async def test_reply_to_an_invalid_message_is_its_error() -> None:
    reply = await _reply(_dispatcher(), Invalid(InvalidRequest(data="bad"), 4))
    assert reply == {"jsonrpc": "2.0", "error": {"code": -32600, "message": "Invalid Request", "data": "bad"}, "id": 4}


# answer()


async def test_answer_to_a_single_request_is_one_object() -> None:
    frame = await _dispatcher().answer([_call("add", [1, 1])], None, batch=False)
    assert frame is not None
    assert strict_loads(frame) == {"jsonrpc": "2.0", "result": 2, "id": 1}


async def test_answer_to_a_batch_is_an_array() -> None:
    frame = await _dispatcher().answer([_call("add", [1, 1], 1), _call("add_async", [2, 2], 2)], None, batch=True)
    assert frame is not None
    assert sorted(strict_loads(frame), key=lambda reply: reply["id"]) == [
        {"jsonrpc": "2.0", "result": 2, "id": 1},
        {"jsonrpc": "2.0", "result": 4, "id": 2},
    ]


async def test_answer_to_a_batch_of_notifications_is_nothing() -> None:
    notifications = [Request("add", [1, 1], None, notification=True)] * 2
    assert await _dispatcher().answer(list(notifications), None, batch=True) is None


async def test_batch_runs_its_requests_concurrently() -> None:
    started = time.monotonic()
    frame = await _dispatcher().answer([_call("slow", [0.2], i) for i in range(5)], None, batch=True)
    assert frame is not None
    assert [reply["result"] for reply in strict_loads(frame)] == ["done"] * 5
    assert time.monotonic() - started < 0.8  # one after the other would take 1 s


async def test_batch_runs_sync_requests_concurrently() -> None:
    started = time.monotonic()
    frame = await _dispatcher().answer([_call("slow_sync", [0.2], i) for i in range(4)], None, batch=True)
    assert frame is not None
    assert len(strict_loads(frame)) == 4
    assert time.monotonic() - started < 0.7  # one after the other would take 0.8 s


async def test_time_limit_applies_to_each_request_of_a_batch() -> None:
    frame = await _dispatcher(time_limit=0.1).answer([_call("slow", [5], 1), _call("add", [1, 2], 2)], None, batch=True)
    assert frame is not None
    replies = {reply["id"]: reply for reply in strict_loads(frame)}
    assert replies[1]["error"]["code"] == -32008
    assert replies[2]["result"] == 3

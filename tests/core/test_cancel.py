"""Long calls as bookkeeping (SPEC, "Presence, connections, long calls"): no event loop anywhere.

The session finds the request an ``rpc.cancel`` names, and the call an
``rpc.progress`` reports on; the gate decides which progress reports go at
once; the binder fills ``progress`` and never takes it from the request.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from wsrpc_app.core import protocol
from wsrpc_app.core.errors import InvalidParams
from wsrpc_app.core.params import Binder
from wsrpc_app.core.progress import NOWHERE, Gate
from wsrpc_app.core.session import Session


@pytest.fixture(autouse=True)
def no_event_loop() -> None:
    with pytest.raises(RuntimeError):
        asyncio.get_running_loop()


class Caller:
    user = None
    scope: dict[str, object] = {}


class Running:
    """A request as the transport tracks it: it only counts its cancels."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.cancels = 0

    def cancel(self) -> None:
        self.cancels += 1

    def __repr__(self) -> str:
        return f"Running({self.name})"


def cancel(params: Any) -> str:
    return json.dumps({"jsonrpc": "2.0", "method": "rpc.cancel", "params": params})


def progress(id_: Any, value: Any) -> str:
    return json.dumps({"jsonrpc": "2.0", "method": "rpc.progress", "params": {"id": id_, "value": value}})


# rpc.cancel -------------------------------------------------------------------------------------------


def test_a_cancel_names_the_running_request_and_is_no_work() -> None:
    session: Session[str] = Session(max_in_flight=0)
    seven, other = Running("7"), Running("x")
    session.started(7, seven)
    session.started("x", other)
    received = session.receive(cancel({"id": 7}))
    assert received.cancel == [seven]
    assert received.work is None and received.reply is None
    assert session.receive(cancel({"id": "x"})).cancel == [other]


@pytest.mark.parametrize(
    "params",
    [{"id": 8}, {"id": "7"}, {"id": True}, {"id": [7]}, {"id": {"id": 7}}, {}, [7], None],
    ids=repr,
)
def test_a_cancel_for_any_other_id_or_shape_is_ignored(params: Any) -> None:
    session: Session[str] = Session()
    session.started(7, Running("7"))
    received = session.receive(cancel(params) if params is not None else '{"jsonrpc":"2.0","method":"rpc.cancel"}')
    assert received.cancel == []
    assert received.work is None and received.reply is None


def test_a_finished_request_is_no_longer_cancelled() -> None:
    session: Session[str] = Session()
    request = Running("7")
    session.started(7, request)
    session.ended(7, request)
    assert session.running == {}
    assert session.receive(cancel({"id": 7})).cancel == []
    session.ended(7, request)  # twice is harmless


def test_a_reused_id_cancels_every_request_running_under_it() -> None:
    session: Session[str] = Session()
    first, second = Running("a"), Running("b")
    session.started(1, first)
    session.started(1, second)
    assert session.receive(cancel({"id": 1})).cancel == [first, second]
    session.ended(1, first)
    assert session.receive(cancel({"id": 1})).cancel == [second]


def test_a_null_id_names_the_request_with_a_null_id() -> None:
    session: Session[str] = Session()
    request = Running("null")
    session.started(None, request)
    assert session.receive(cancel({"id": None})).cancel == [request]


def test_cancels_in_a_batch_are_sorted_out_beside_the_requests() -> None:
    session: Session[str] = Session()
    request = Running("2")
    session.started(2, request)
    batch = json.dumps(
        [
            {"jsonrpc": "2.0", "method": "rpc.cancel", "params": {"id": 2}},
            {"jsonrpc": "2.0", "method": "add", "params": [1, 2], "id": 3},
        ]
    )
    received = session.receive(batch)
    assert received.cancel == [request]
    assert received.work is not None and [m.id for m in received.work.messages] == [3]


def test_a_cancel_with_an_id_is_a_request_like_any_other() -> None:
    # Only the notification is the protocol's: a request rpc.cancel goes to dispatch (-32601).
    session: Session[str] = Session()
    session.started(7, Running("7"))
    received = session.receive(json.dumps({"jsonrpc": "2.0", "method": "rpc.cancel", "params": {"id": 7}, "id": 1}))
    assert received.cancel == []
    assert received.work is not None and received.work.running == 1


def test_cancels_do_not_count_against_the_in_flight_bound() -> None:
    session: Session[str] = Session(max_in_flight=1)
    for _ in range(100):
        session.receive(cancel({"id": 1}))
    assert session.in_flight == 0


def test_this_sides_cancel_frame() -> None:
    assert json.loads(protocol.cancel(3)) == {"jsonrpc": "2.0", "method": "rpc.cancel", "params": {"id": 3}}


# rpc.progress ------------------------------------------------------------------------------------------


def test_progress_reaches_the_waiter_of_the_call_it_names_before_its_reply() -> None:
    session: Session[str] = Session()
    id_, _ = session.call("report", None, "waiter")
    frame = json.dumps(
        [
            {"jsonrpc": "2.0", "method": "rpc.progress", "params": {"id": id_, "value": 1}},
            {"jsonrpc": "2.0", "result": "done", "id": id_},
        ]
    )
    received = session.receive(frame)
    assert [(p.waiter, p.value) for p in received.progressed] == [("waiter", 1)]
    assert [(s.waiter, s.result) for s in received.settled] == [("waiter", "done")]
    assert received.work is None


@pytest.mark.parametrize("id_", [99, "1", True, None])
def test_progress_on_no_pending_call_is_dropped(id_: Any) -> None:
    session: Session[str] = Session()
    session.call("report", None, "waiter")  # id 1
    received = session.receive(progress(id_, 5))
    assert received.progressed == [] and received.work is None and received.reply is None


def test_progress_after_the_call_was_forgotten_is_dropped() -> None:
    session: Session[str] = Session()
    id_, _ = session.call("report", None, "waiter")
    session.forget(id_)
    assert session.receive(progress(id_, 5)).progressed == []


def test_progress_without_a_value_reports_null() -> None:
    session: Session[str] = Session()
    id_, _ = session.call("report", None, "waiter")
    frame = json.dumps({"jsonrpc": "2.0", "method": "rpc.progress", "params": {"id": id_}})
    assert [p.value for p in session.receive(frame).progressed] == [None]


def test_this_sides_progress_frame_refuses_a_value_with_no_json_form() -> None:
    assert json.loads(protocol.progress("a", [1])) == {
        "jsonrpc": "2.0",
        "method": "rpc.progress",
        "params": {"id": "a", "value": [1]},
    }
    with pytest.raises(TypeError):
        protocol.progress("a", object())


# The gate: at least ten a second, the latest kept ----------------------------------------------------


def test_reports_apart_by_the_interval_all_go() -> None:
    gate: Gate[int] = Gate(10.0)
    assert [gate.offer(n, now=n * 0.1) for n in range(20)] == [True] * 20


def test_faster_reports_wait_and_the_latest_replaces_the_others() -> None:
    gate: Gate[int] = Gate(10.0)
    assert gate.offer(1, now=0.0) is True
    assert gate.offer(2, now=0.01) is False
    assert gate.offer(3, now=0.02) is False
    assert gate.due == pytest.approx(0.1)
    assert gate.take(now=0.1) == [3]
    assert gate.take(now=0.1) == []
    # The next report counts from the one that went at 0.1.
    assert gate.offer(4, now=0.15) is False
    assert gate.due == pytest.approx(0.2)


def test_a_report_never_overtakes_one_that_waits() -> None:
    gate: Gate[int] = Gate(10.0)
    gate.offer(1, now=0.0)
    gate.offer(2, now=0.05)
    # Its turn has come, but 2 waits for its timer: 5 replaces it, in order.
    assert gate.offer(5, now=0.5) is False
    assert gate.take(now=0.5) == [5]


def test_without_a_rate_every_report_goes() -> None:
    gate: Gate[int] = Gate(None)
    assert all(gate.offer(n, now=0.0) for n in range(100))


# The progress parameter -------------------------------------------------------------------------------


async def report(total: int, progress: Any) -> int:
    return total


def with_both(a: Any, connection: Any, /, progress: Any, b: Any = 0) -> tuple[Any, Any, Any, Any]:
    return a, connection, progress, b


def test_progress_is_filled_and_never_a_json_param() -> None:
    binder = Binder(report)
    assert [p.name for p in binder.parameters] == ["total"]
    assert binder.wants_progress and not binder.wants_connection
    assert binder.bind({"total": 3}, progress=NOWHERE) == ((), {"total": 3, "progress": NOWHERE})
    assert binder.bind([3], progress=NOWHERE) == ((), {"total": 3, "progress": NOWHERE})


@pytest.mark.parametrize("params", [{"total": 3, "progress": 1}, [3, 1]], ids=["named", "positional"])
def test_progress_from_the_request_is_refused(params: Any) -> None:
    with pytest.raises(InvalidParams):
        Binder(report).bind(params, progress=NOWHERE)


def test_progress_is_bound_wherever_it_sits_beside_the_connection() -> None:
    binder = Binder(with_both)
    assert binder.filled == ("connection", "progress")
    conn = Caller()
    args, kwargs = binder.bind([1, 2], connection=conn, progress=NOWHERE)
    assert with_both(*args, **kwargs) == (1, conn, NOWHERE, 2)
    with pytest.raises(InvalidParams):
        binder.bind({"b": 2, "progress": 1}, connection=conn, progress=NOWHERE)

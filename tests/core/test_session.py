"""The sans-I/O session (``wsrpc_app.core.session``): plain functions, no event loop anywhere."""

from __future__ import annotations

import asyncio
import json

import pytest

from wsrpc_app.core import protocol
from wsrpc_app.core.errors import RpcError
from wsrpc_app.core.session import Session


def request(method: str, id_: int | str | None = None, *, params: object = None) -> dict[str, object]:
    message: dict[str, object] = {"jsonrpc": "2.0", "method": method}
    if id_ is not None:
        message["id"] = id_
    if params is not None:
        message["params"] = params
    return message


def frame(*messages: dict[str, object], batch: bool = False) -> str:
    return json.dumps(list(messages) if batch or len(messages) != 1 else messages[0])


@pytest.fixture(autouse=True)
def no_event_loop() -> None:
    with pytest.raises(RuntimeError):
        asyncio.get_running_loop()


def test_a_request_becomes_work() -> None:
    session: Session[str] = Session()
    received = session.receive(frame(request("add", 1, params=[1, 2])))
    assert received.reply is None and received.settled == [] and received.inline == []
    assert received.work is not None
    assert [(m.method, m.params, m.id) for m in received.work.messages] == [("add", [1, 2], 1)]
    assert not received.work.batch
    assert session.in_flight == 1


def test_invalid_json_is_answered_at_once_with_a_parse_error() -> None:
    received = Session[str]().receive("{")
    assert received.work is None
    assert received.reply is not None
    reply = json.loads(received.reply)
    assert (reply["error"]["code"], reply["id"]) == (-32700, None)


def test_a_batch_over_the_limit_is_one_error() -> None:
    session: Session[str] = Session(max_batch=2)
    received = session.receive(frame(*(request("a", i) for i in range(3)), batch=True))
    assert received.reply is not None and json.loads(received.reply)["error"]["code"] == -32600
    assert session.in_flight == 0


def test_requests_over_the_in_flight_bound_are_refused_and_joined_into_the_batch_reply() -> None:
    session: Session[str] = Session(max_in_flight=2)
    work = session.receive(frame(request("a", 1), request("b", 2), request("c", 3), request("d"), batch=True)).work
    assert work is not None and work.batch
    assert [m.id for m in work.messages] == [1, 2]
    assert session.in_flight == 2
    answered = protocol.join_batch([protocol.result_reply(1, "a"), protocol.result_reply(2, "b")])
    reply = session.finish(work, answered)
    assert session.in_flight == 0
    assert reply is not None
    replies = json.loads(reply)
    assert [r["id"] for r in replies] == [1, 2, 3]  # the notification "d" is refused silently
    assert replies[2]["error"] == {"code": -32029, "message": "Too many requests", "data": {"max_in_flight": 2}}


def test_a_refused_single_request_is_answered_alone() -> None:
    session: Session[str] = Session(max_in_flight=0)
    work = session.receive(frame(request("a", 7))).work
    assert work is not None and work.messages == [] and work.running == 0
    reply = session.finish(work, None)
    assert reply is not None and json.loads(reply)["id"] == 7


def test_the_bound_counts_until_finish() -> None:
    session: Session[str] = Session(max_in_flight=1)
    first = session.receive(frame(request("a", 1))).work
    second = session.receive(frame(request("b", 2))).work
    assert first is not None and second is not None
    assert len(first.messages) == 1 and second.messages == []
    session.finish(first, None)
    third = session.receive(frame(request("c", 3))).work
    assert third is not None and len(third.messages) == 1


def test_calls_get_increasing_ids_and_their_replies_find_the_waiter() -> None:
    session: Session[str] = Session()
    first, frame_one = session.call("add", [1, 2], "waiter one")
    second, _ = session.call("ping", None, "waiter two")
    assert (first, second) == (1, 2)
    assert json.loads(frame_one) == {"jsonrpc": "2.0", "method": "add", "params": [1, 2], "id": 1}
    received = session.receive(
        json.dumps(
            [
                {"jsonrpc": "2.0", "result": 3, "id": 1},
                {"jsonrpc": "2.0", "error": {"code": 5, "message": "no"}, "id": 2},
            ]
        )
    )
    assert received.work is None
    assert [(s.waiter, s.result) for s in received.settled] == [("waiter one", 3), ("waiter two", None)]
    error = received.settled[1].error
    assert isinstance(error, RpcError) and (error.code, error.message) == (5, "no")


def test_a_reply_to_no_call_is_dropped_and_never_answered() -> None:
    session: Session[str] = Session()
    received = session.receive(json.dumps({"jsonrpc": "2.0", "result": 1, "id": 99}))
    assert received.settled == [] and received.work is None and received.reply is None


def test_a_forgotten_call_gets_no_reply() -> None:
    session: Session[str] = Session()
    id_, _ = session.call("slow", None, "waiter")
    session.forget(id_)
    assert session.pending == {}
    assert session.receive(json.dumps({"jsonrpc": "2.0", "result": 1, "id": id_})).settled == []


def test_a_malformed_reply_fails_its_call_and_is_never_answered() -> None:
    session: Session[str] = Session()
    id_, _ = session.call("add", None, "waiter")
    received = session.receive(
        json.dumps({"jsonrpc": "2.0", "result": 1, "error": {"code": 1, "message": "x"}, "id": id_})
    )
    assert received.work is None
    assert [s.waiter for s in received.settled] == ["waiter"]
    assert received.settled[0].error is not None and received.settled[0].error.code == -32600


def test_a_batch_of_calls_is_one_frame() -> None:
    session: Session[str] = Session()
    sent, ids = session.call_batch([("a", None, "one"), ("b", [1], "two")])
    assert ids == [1, 2]
    assert [m["id"] for m in json.loads(sent)] == [1, 2]
    assert session.pending == {1: "one", 2: "two"}


def test_inline_notifications_are_handed_back_in_order_outside_the_bound() -> None:
    session: Session[str] = Session(max_in_flight=0, inline={"rpc.event"})
    received = session.receive(
        frame(request("rpc.event", params={"n": 1}), request("rpc.event", params={"n": 2}), batch=True)
    )
    assert [r.params for r in received.inline] == [{"n": 1}, {"n": 2}]
    assert received.work is None


def test_an_inline_name_called_with_an_id_is_a_request() -> None:
    session: Session[str] = Session(inline={"rpc.event"})
    received = session.receive(frame(request("rpc.event", 5)))
    assert received.inline == [] and received.work is not None


def test_invalid_elements_of_a_batch_are_work_to_answer() -> None:
    session: Session[str] = Session(max_in_flight=1)
    work = session.receive(json.dumps([1, request("a", 1)])).work
    assert work is not None
    assert len(work.messages) == 2 and work.running == 1

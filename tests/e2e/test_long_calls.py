"""Long calls on live daphne and uvicorn servers, on the wire: ``rpc.cancel`` and ``rpc.progress`` both ways.

The methods are in ``tests/support/long_calls.py``; ``job_state(key)`` tells
from another request what became of a job (its ``finally`` ran, or not).
Leaks are counted with ``server_stats`` against a quiet baseline.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import time
import uuid
from typing import Any

import django
import pytest
from websockets.asyncio.client import ClientConnection

from tests.support.servers import ServerProcess

from .server_stats import no_crash, quiet_baseline, settled  # noqa: F401
from .wire import assert_silent, call, keeps_answering, open_socket, recv_json, send_json

pytestmark = pytest.mark.e2e

#: The test settings' METHOD_TIME_LIMIT: a job that outlives it was not cancelled.
TIME_LIMIT = 5.0


def key() -> str:
    return uuid.uuid4().hex


def request(method: str, params: Any, id_: Any) -> dict[str, Any]:
    message = {"jsonrpc": "2.0", "method": method, "id": id_}
    if params is not None:
        message["params"] = params
    return message


def cancel(id_: Any) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "method": "rpc.cancel", "params": {"id": id_}}


def cancelled(id_: Any) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "error": {"code": -32800, "message": "Request cancelled", "data": {"id": id_}}, "id": id_}


async def job_state(ws: ClientConnection, job: str) -> list[str]:
    reply = await call(ws, request("job_state", {"key": job}, "state"))
    state: list[str] = reply["result"]
    return state


async def until_state(ws: ClientConnection, job: str, state: list[str], within: float = 5.0) -> None:
    deadline = time.monotonic() + within
    while (seen := await job_state(ws, job)) != state:
        assert time.monotonic() < deadline, f"{job}: {seen}, not {state}"
        await asyncio.sleep(0.02)


# Cancelling the server's methods ----------------------------------------------------------------------


async def test_a_30_s_method_cancelled_after_0_2_s_stops_and_answers_32800_after_its_finally(
    ws: ClientConnection,
) -> None:
    job = key()
    await send_json(ws, request("long_job", {"key": job, "seconds": 30}, 7))
    await asyncio.sleep(0.2)
    assert await job_state(ws, job) == ["running"]
    sent = time.monotonic()
    await send_json(ws, cancel(7))
    assert await recv_json(ws) == cancelled(7)
    # The reply is written after the method ended: its finally has run by now, long before 30 s.
    assert time.monotonic() - sent < TIME_LIMIT
    assert await job_state(ws, job) == ["running", "cancelled", "finally"]
    await assert_silent(ws)


async def test_one_member_of_a_batch_is_cancelled_alone(ws: ClientConnection) -> None:
    short, long = key(), key()
    batch = [request("long_job", {"key": short, "seconds": 0.5}, "s"), request("long_job", {"key": long}, "l")]
    await send_json(ws, batch)
    await asyncio.sleep(0.2)
    await send_json(ws, cancel("l"))
    replies = await recv_json(ws)
    assert sorted(replies, key=lambda r: r["id"]) == [cancelled("l"), {"jsonrpc": "2.0", "result": "done", "id": "s"}]
    assert await job_state(ws, short) == ["running", "finally", "done"]
    assert await job_state(ws, long) == ["running", "cancelled", "finally"]


async def test_unknown_finished_and_malformed_cancels_are_ignored(ws: ClientConnection) -> None:
    job = key()
    assert (await call(ws, request("long_job", {"key": job, "seconds": 0}, 1)))["result"] == "done"
    running = key()
    await send_json(ws, request("long_job", {"key": running}, 2))
    for params in ({"id": 1}, {"id": 99}, {"id": "2"}, {"id": True}, {"id": [2]}, {}, [2]):
        await send_json(ws, {"jsonrpc": "2.0", "method": "rpc.cancel", "params": params})
    await send_json(ws, {"jsonrpc": "2.0", "method": "rpc.cancel"})
    await assert_silent(ws)
    assert await job_state(ws, running) == ["running"]
    await send_json(ws, cancel(2))
    assert await recv_json(ws) == cancelled(2)


async def test_a_cancel_naming_another_connections_request_does_nothing(server: ServerProcess) -> None:
    job = key()
    async with open_socket(server) as owner, open_socket(server) as other:
        await send_json(owner, request("long_job", {"key": job}, 1))
        await asyncio.sleep(0.1)
        for id_ in (1, "1", None):
            await send_json(other, cancel(id_))
        await assert_silent(other)
        await assert_silent(owner)
        assert await job_state(other, job) == ["running"]
        await send_json(owner, cancel(1))
        assert await recv_json(owner) == cancelled(1)


async def test_a_sync_method_is_not_interrupted_but_its_result_is_dropped(ws: ClientConnection) -> None:
    job = key()
    await send_json(ws, request("sync_job", {"key": job, "seconds": 1.5}, 1))
    await asyncio.sleep(0.2)
    await send_json(ws, cancel(1))
    assert await recv_json(ws) == cancelled(1)
    assert await job_state(ws, job) == ["running"]  # the thread still runs: answered before it ended
    await until_state(ws, job, ["running", "thread done"])
    await assert_silent(ws)  # and its result never comes


async def test_cancels_racing_replies_get_exactly_one_answer_each(server: ServerProcess) -> None:
    baseline = await quiet_baseline(server)
    async with open_socket(server) as ws:
        for n in range(200):
            await send_json(ws, request("sleep", [0.001 * (n % 5)], n))
            await send_json(ws, cancel(n))
        replies = [await recv_json(ws) for _ in range(200)]
        assert sorted(r["id"] for r in replies) == list(range(200))
        assert all(r.get("result") is not None or r["error"]["code"] in (-32800, -32029) for r in replies)
        await assert_silent(ws)
    await settled(server, baseline)


async def test_a_flood_of_cancels_disturbs_nobody(server: ServerProcess) -> None:
    """Cancels need no task and count against no bound; other connections and their requests go on."""
    baseline = await quiet_baseline(server)
    job = key()
    async with keeps_answering(server), open_socket(server) as victim, open_socket(server) as flooder:
        await send_json(victim, request("long_job", {"key": job}, 1))
        for n in range(3000):
            await send_json(flooder, cancel(n % 3))
        await send_json(flooder, [cancel(n) for n in range(50)])
        await assert_silent(flooder)
        assert await job_state(victim, job) == ["running"]
        await send_json(victim, cancel(1))
        assert await recv_json(victim) == cancelled(1)
    await settled(server, baseline)


# Progress -----------------------------------------------------------------------------------------------


def progress(id_: Any, value: Any) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "method": "rpc.progress", "params": {"id": id_, "value": value}}


@pytest.mark.parametrize("method", ["count_up", "count_up_sync"])
async def test_ten_reports_a_second_all_arrive_in_order_before_the_result(ws: ClientConnection, method: str) -> None:
    await send_json(ws, request(method, {"count": 10, "pause": 0.1}, "p"))
    frames = [await recv_json(ws) for _ in range(11)]
    assert frames == [*(progress("p", n) for n in range(1, 11)), {"jsonrpc": "2.0", "result": "counted", "id": "p"}]


async def test_faster_reports_are_coalesced_the_latest_kept(ws: ClientConnection) -> None:
    await send_json(ws, request("count_up", {"count": 5000}, 1))
    values = []
    while "result" not in (frame := await recv_json(ws)):
        values.append(frame["params"]["value"])
    assert frame == {"jsonrpc": "2.0", "result": "counted", "id": 1}
    assert values[0] == 1 and values[-1] == 5000
    assert values == sorted(set(values))


async def test_progress_is_never_taken_from_the_request(ws: ClientConnection) -> None:
    reply = await call(ws, request("count_up", {"count": 1, "progress": "mine"}, 1))
    assert reply["error"]["code"] == -32602
    reply = await call(ws, request("rpc.discover", None, 2))
    [method] = [m for m in reply["result"]["methods"] if m["name"] == "count_up"]
    assert [p["name"] for p in method["params"]] == ["count", "pause"]


# The server cancels its calls to the client -----------------------------------------------------------


async def test_a_server_call_that_times_out_is_cancelled_at_the_client(ws: ClientConnection) -> None:
    await send_json(ws, request("ask_client", {"method": "client.wait", "timeout": 0.3}, "outer"))
    incoming = await recv_json(ws)
    assert incoming["method"] == "client.wait"
    assert await recv_json(ws) == cancel(incoming["id"])
    assert await recv_json(ws) == {"jsonrpc": "2.0", "result": {"timeout": True, "progress": []}, "id": "outer"}


async def test_a_cancelled_method_cancels_the_call_it_was_waiting_for(ws: ClientConnection) -> None:
    await send_json(ws, request("ask_client", {"method": "client.wait"}, "outer"))
    incoming = await recv_json(ws)
    await send_json(ws, cancel("outer"))
    # The inner call's cancel goes first: the method ended with it, then was answered.
    assert await recv_json(ws) == cancel(incoming["id"])
    assert await recv_json(ws) == cancelled("outer")
    # The client's late answer is dropped.
    await send_json(
        ws, {"jsonrpc": "2.0", "error": {"code": -32800, "message": "Request cancelled"}, "id": incoming["id"]}
    )
    await assert_silent(ws)


async def test_the_clients_progress_reaches_the_servers_callback(ws: ClientConnection) -> None:
    await send_json(ws, request("ask_client", {"method": "client.job"}, "outer"))
    incoming = await recv_json(ws)
    for value in ("a", "b"):
        await send_json(ws, progress(incoming["id"], value))
    await send_json(ws, progress(999, "nobody's"))
    await send_json(ws, {"jsonrpc": "2.0", "result": 42, "id": incoming["id"]})
    assert await recv_json(ws) == {"jsonrpc": "2.0", "result": {"result": 42, "progress": ["a", "b"]}, "id": "outer"}


# Nothing left behind -------------------------------------------------------------------------------------


@pytest.mark.parametrize("how", ["close", "abort"])
async def test_a_peer_that_vanishes_mid_call_leaves_nothing(server: ServerProcess, how: str) -> None:
    baseline = await quiet_baseline(server)
    jobs = [key() for _ in range(3)]
    async with open_socket(server) as watcher:
        for n in range(3):
            async with open_socket(server) as leaving:
                await send_json(leaving, request("long_job", {"key": jobs[n]}, 1))
                await send_json(leaving, request("count_up", {"count": 1000, "pause": 0.01}, 2))
                await send_json(leaving, request("ask_client", {"method": "client.wait"}, 3))
                await send_json(leaving, [request("long_job", {"key": jobs[n] + "b"}, 4), request("sleep", [30], 5)])
                while (await recv_json(leaving)).get("method") != "client.wait":
                    pass
                if how == "close":
                    await leaving.close()
                else:
                    leaving.transport.abort()
        for job in jobs:
            await until_state(watcher, job, ["running", "cancelled", "finally"])
    await settled(server, baseline)


async def test_a_client_side_timeout_leaves_no_task_on_the_server(server: ServerProcess) -> None:
    from wsrpc_app.client import WsRpcClient

    baseline = await quiet_baseline(server)
    job = key()
    async with WsRpcClient(server.ws_url, origin=server.origin, proxy=None) as client:
        with pytest.raises(TimeoutError):
            await client.request("long_job", {"key": job}, timeout=0.3)
        deadline = time.monotonic() + 5
        while await client.call("job_state", key=job) != ["running", "cancelled", "finally"]:
            assert time.monotonic() < deadline
            await asyncio.sleep(0.02)
    await settled(server, baseline)


async def test_many_cancelled_calls_leave_nothing(server: ServerProcess) -> None:
    baseline = await quiet_baseline(server)
    ids = itertools.count()
    async with open_socket(server) as ws:
        for _ in range(10):
            batch = [request("long_job", {"key": key()}, next(ids)) for _ in range(10)]
            await send_json(ws, batch)
            await asyncio.sleep(0.05)
            for message in batch:
                await send_json(ws, cancel(message["id"]))
            replies = await recv_json(ws)
            assert [r["error"]["code"] for r in replies] == [-32800] * 10
    await settled(server, baseline)


# Over HTTP ------------------------------------------------------------------------------------------------


async def test_a_client_that_leaves_post_rpc_cancels_its_async_method_where_django_does(server: ServerProcess) -> None:
    # Django cancels a view whose client left from 5.0 on; on 4.2 the method
    # runs to its end, as the README says (a short job, to see it end).
    cancels = django.VERSION >= (5, 0)
    job = key()
    params = {"key": job} if cancels else {"key": job, "seconds": 1.0}
    body = json.dumps(request("long_job", params, 1)).encode()
    host, port = server.http_url.split("//")[1].rstrip("/").split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    writer.write(
        b"POST /wsrpc/rpc/ HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s"
        % (host.encode(), len(body), body)
    )
    await writer.drain()
    async with open_socket(server) as ws:
        await until_state(ws, job, ["running"])
        writer.close()  # the client gives up
        await writer.wait_closed()
        ending = ["cancelled", "finally"] if cancels else ["finally", "done"]
        await until_state(ws, job, ["running", *ending])

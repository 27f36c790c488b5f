"""Long calls through the consumer, with Channels' communicator: the settings that shape them.

METHOD_TIME_LIMIT stops a method, and the call it was waiting for is
cancelled at the client; PROGRESS_RATE bounds the reports of a request.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.test import override_settings

from tests.support.communicators import connected, request


def wsrpc(**overrides: Any) -> dict[str, Any]:
    return {**settings.WSRPC, **overrides}


async def test_a_method_over_its_time_limit_cancels_the_call_it_waits_for() -> None:
    with override_settings(WSRPC=wsrpc(METHOD_TIME_LIMIT=0.3, CALL_TIMEOUT=None)):
        async with connected() as ws:
            await ws.send_json_to(request("ask_client", {"method": "client.wait"}, "outer"))
            incoming = await ws.receive_json_from()
            assert incoming["method"] == "client.wait"
            cancel = await ws.receive_json_from(timeout=3)
            assert cancel == {"jsonrpc": "2.0", "method": "rpc.cancel", "params": {"id": incoming["id"]}}
            reply = await ws.receive_json_from()
            assert reply["id"] == "outer" and reply["error"]["code"] == -32008


async def test_progress_rate_none_lets_every_report_through() -> None:
    with override_settings(WSRPC=wsrpc(PROGRESS_RATE=None)):
        async with connected() as ws:
            await ws.send_json_to(request("count_up", {"count": 200}, 1))
            frames = [await ws.receive_json_from() for _ in range(201)]
    assert [f["params"]["value"] for f in frames[:-1]] == list(range(1, 201))
    assert frames[-1] == {"jsonrpc": "2.0", "result": "counted", "id": 1}


async def test_progress_rate_coalesces_a_burst_into_the_first_and_the_latest() -> None:
    # 200 reports in one step of the method: the first goes, the latest waits for the reply.
    with override_settings(WSRPC=wsrpc(PROGRESS_RATE=10)):
        async with connected() as ws:
            await ws.send_json_to(request("count_up", {"count": 200}, 1))
            frames = [await ws.receive_json_from() for _ in range(3)]
            assert await ws.receive_nothing()
    assert [f.get("params", {}).get("value") for f in frames] == [1, 200, None]
    assert frames[-1]["result"] == "counted"

"""The metrics of a real uvicorn process move as its clients call, fail, publish and stop reading."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterator

import pytest

from tests.e2e.test_pubsub_cluster import BIG, drain, not_reading, published, subscribe
from tests.e2e.wire import call, open_socket, recv_json
from tests.support.servers import ServerProcess

from .scraping import TOKEN, get, scrape, value

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def server() -> Iterator[ServerProcess]:
    env = {"WSRPC_TEST_METRICS_TOKEN": TOKEN, "WSRPC_TEST_OUTBOUND_QUEUE": "20"}
    with ServerProcess("uvicorn", env=env) as process:
        yield process


def request(method: str, params: object = None, id_: object = 1) -> dict[str, object]:
    message: dict[str, object] = {"jsonrpc": "2.0", "method": method, "id": id_}
    if params is not None:
        message["params"] = params
    return message


async def test_calls_errors_and_publishes_count(server: ServerProcess) -> None:
    before = scrape(server)
    async with open_socket(server) as ws, open_socket(server) as subscriber:
        assert (await call(ws, request("add", [1, 2])))["result"] == 3
        assert (await call(ws, request("no.such.method")))["error"]["code"] == -32601
        assert (await call(ws, request("fail_rpc")))["error"]["code"] == -32050
        await subscribe(subscriber, "chat.lobby")
        await published(ws, "chat.lobby", {"n": 1})
        assert (await recv_json(subscriber))["method"] == "rpc.event"
        during = scrape(server)
    await asyncio.sleep(0.5)  # the server sees the close
    after = scrape(server)

    def grew(name: str, **labels: str) -> float:
        return value(during, name, **labels) - value(before, name, **labels)

    assert grew("wsrpc_calls_total", method="add", outcome="ok") == 1
    assert grew("wsrpc_calls_total", method="unknown", outcome="-32601") == 1
    assert grew("wsrpc_calls_total", method="fail_rpc", outcome="-32050") == 1
    assert grew("wsrpc_calls_total", method="rpc.publish", outcome="ok") == 1
    assert grew("wsrpc_calls_total", method="rpc.subscribe", outcome="ok") == 1
    assert grew("wsrpc_call_duration_seconds_count", method="add") == 1
    assert grew("wsrpc_events_published_total") == 1
    assert grew("wsrpc_events_delivered_total") == 1
    assert grew("wsrpc_connections_opened_total") == 2
    assert value(during, "wsrpc_connections_open") == value(before, "wsrpc_connections_open") + 2
    assert grew("wsrpc_frames_received_total") == 5
    assert grew("wsrpc_frames_sent_total") == 6  # five replies and the event
    assert grew("wsrpc_received_bytes_total") > 5 * len('{"jsonrpc":"2.0"}')
    assert value(after, "wsrpc_connections_open") == value(before, "wsrpc_connections_open")
    closed = value(after, "wsrpc_connections_closed_total", code="1000")
    assert closed == value(before, "wsrpc_connections_closed_total", code="1000") + 2


async def test_a_client_that_stops_reading_counts_as_a_4008_close(server: ServerProcess) -> None:
    before = scrape(server)
    async with not_reading(server) as slow, open_socket(server) as publisher:
        await subscribe(slow, "chat.lobby")
        for n in range(120):
            await published(publisher, "chat.lobby", {"n": n, "pad": os.urandom(BIG // 2).hex()})
        _, code = await drain(slow, within=10)
    assert code == 4008
    after = scrape(server)
    assert value(after, "wsrpc_slow_consumer_closes_total") == value(before, "wsrpc_slow_consumer_closes_total") + 1
    assert value(after, "wsrpc_connections_closed_total", code="4008") == 1 + value(
        before, "wsrpc_connections_closed_total", code="4008"
    )
    dropped = value(after, "wsrpc_events_dropped_total", reason="slow_consumer")
    assert dropped - value(before, "wsrpc_events_dropped_total", reason="slow_consumer") >= 20


def test_the_exposition_needs_the_token(server: ServerProcess) -> None:
    assert get(server, "wsrpc/metrics/")[0] == 403
    assert get(server, "wsrpc/metrics/", {"Authorization": "Bearer wrong"})[0] == 403
    status, content_type, body = get(server, "wsrpc/metrics/", {"Authorization": f"Bearer {TOKEN}"})
    assert status == 200 and b"# TYPE wsrpc_calls_total counter" in body


def test_openmetrics_when_the_scraper_asks(server: ServerProcess) -> None:
    accept = "application/openmetrics-text; version=1.0.0"
    status, content_type, body = get(server, "wsrpc/metrics/", {"Authorization": f"Bearer {TOKEN}", "Accept": accept})
    assert status == 200 and content_type.startswith("application/openmetrics-text")
    assert body.rstrip().endswith(b"# EOF")

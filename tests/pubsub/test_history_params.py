"""The history params of rpc.subscribe and rpc.history, in process on the in-memory layer and store.

``since``, ``rewind`` and ``limit`` that do not fit (SPEC, "History, offsets
and recovery") answer -32602 naming the param, and change nothing: no
subscription is made, the connection goes on. Values the params take in
good faith have the shapes /tmp/history-wire.md fixes.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
from django.test import override_settings

from tests.support.pubsub import Peer, connected, fresh_permissions, make_topic, wsrpc  # noqa: F401
from wsrpc_app.models import Topic

# Rows are created by the test and read by the permission check in another
# thread, so they must be committed: every test here is transactional.
pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def topics() -> None:
    """``room.#`` keeps 10 events, ``plain.#`` none; anyone subscribes and publishes to both."""
    Topic.objects.all().delete()
    anyone = {"anonymous_subscribe": True, "anonymous_publish": True}
    make_topic("room.#", history_size=10, history_ttl=600, **anyone)
    make_topic("plain.#", **anyone)


def fresh(root: str) -> str:
    """A topic under ``root`` that no other test published to (the in-memory store outlives a test)."""
    return f"{root}.t{uuid.uuid4().hex[:10]}"


async def epoch_of(peer: Peer, topic: str) -> str:
    """The topic's current epoch, from a subscription made and ended."""
    result = await peer.result("rpc.subscribe", {"topic": topic})
    await peer.result("rpc.unsubscribe", {"topic": topic})
    epoch: str = result["epoch"]
    return epoch


async def refused_and_nothing_changed(peer: Peer, method: str, params: dict[str, Any], name: str) -> None:
    """``method`` answers -32602 naming ``name``; afterwards the peer has no subscription and still answers."""
    error = await peer.error(method, params)
    assert error["code"] == -32602, error
    text = json.dumps(error)
    assert name in text, f"the error does not say which param is wrong: {error}"
    assert "Traceback" not in text and 'File "' not in text, error
    assert await peer.result("rpc.ping") == "pong"
    # A refused subscribe subscribed to nothing: an event of the topic does not come.
    assert (await peer.result("rpc.publish", {"topic": params["topic"], "data": "after"}))["topic"] == params["topic"]
    assert await peer.nothing_more()


# Bad values ------------------------------------------------------------------------

EPOCH = object()  # stands for the topic's real epoch, so that only the value under test is wrong

BAD_SINCE = {
    "a-string": "yesterday",
    "a-number": 5,
    "a-list": [1, "e"],
    "an-empty-object": {},
    "no-epoch": {"offset": 1},
    "no-offset": {"epoch": EPOCH},
    "negative-offset": {"offset": -1, "epoch": EPOCH},
    "fractional-offset": {"offset": 1.5, "epoch": EPOCH},
    "text-offset": {"offset": "one", "epoch": EPOCH},
    "null-offset": {"offset": None, "epoch": EPOCH},
    "list-offset": {"offset": [1], "epoch": EPOCH},
    "number-epoch": {"offset": 1, "epoch": 7},
    "null-epoch": {"offset": 1, "epoch": None},
    "object-epoch": {"offset": 1, "epoch": {}},
}

BAD_REWIND = {
    "zero": 0,
    "negative": -1,
    "huge": 10**20,
    "fractional": 1.5,
    "text": "last",
    "a-list": [1],
    "an-object": {"k": 1},
}

BAD_LIMIT = {
    "zero": 0,
    "negative": -5,
    "fractional": 2.5,
    "text": "all",
    "a-list": [1],
}


def with_epoch(value: Any, epoch: str) -> Any:
    if isinstance(value, dict):
        return {key: epoch if item is EPOCH else item for key, item in value.items()}
    return value


@pytest.mark.parametrize("since", BAD_SINCE.values(), ids=BAD_SINCE.keys())
async def test_subscribe_with_a_bad_since(topics: None, since: Any) -> None:
    topic = fresh("room")
    async with connected() as peer:
        params = {"topic": topic, "since": with_epoch(since, await epoch_of(peer, topic))}
        await refused_and_nothing_changed(peer, "rpc.subscribe", params, "since")


@pytest.mark.parametrize("rewind", BAD_REWIND.values(), ids=BAD_REWIND.keys())
async def test_subscribe_with_a_bad_rewind(topics: None, rewind: Any) -> None:
    async with connected() as peer:
        await refused_and_nothing_changed(peer, "rpc.subscribe", {"topic": fresh("room"), "rewind": rewind}, "rewind")


@pytest.mark.parametrize("root", ["plain", "room"])
async def test_a_bad_value_is_refused_whether_or_not_the_topic_keeps_history(topics: None, root: str) -> None:
    async with connected() as peer:
        await refused_and_nothing_changed(peer, "rpc.subscribe", {"topic": fresh(root), "rewind": 0}, "rewind")
        await refused_and_nothing_changed(peer, "rpc.subscribe", {"topic": fresh(root), "since": "x"}, "since")


@pytest.mark.parametrize("since", BAD_SINCE.values(), ids=BAD_SINCE.keys())
async def test_history_with_a_bad_since(topics: None, since: Any) -> None:
    topic = fresh("room")
    async with connected() as peer:
        params = {"topic": topic, "since": with_epoch(since, await epoch_of(peer, topic))}
        await refused_and_nothing_changed(peer, "rpc.history", params, "since")


@pytest.mark.parametrize("limit", BAD_LIMIT.values(), ids=BAD_LIMIT.keys())
async def test_history_with_a_bad_limit(topics: None, limit: Any) -> None:
    async with connected() as peer:
        await refused_and_nothing_changed(peer, "rpc.history", {"topic": fresh("room"), "limit": limit}, "limit")


async def test_many_refusals_leave_the_connection_whole(topics: None) -> None:
    """Every bad value in a row on one connection; then it subscribes, and receives exactly its events."""
    topic = fresh("room")
    async with connected() as peer, connected() as speaker:
        epoch = await epoch_of(peer, topic)
        for since in BAD_SINCE.values():
            await peer.error("rpc.subscribe", {"topic": topic, "since": with_epoch(since, epoch)})
        for rewind in BAD_REWIND.values():
            await peer.error("rpc.subscribe", {"topic": topic, "rewind": rewind})
        for limit in BAD_LIMIT.values():
            await peer.error("rpc.history", {"topic": topic, "limit": limit})
        assert await peer.nothing_more()
        assert (await peer.result("rpc.subscribe", {"topic": topic}))["offset"] == 0
        await speaker.result("rpc.publish", {"topic": topic, "data": 1})
        frame = await peer.notification()
        assert frame == {
            "jsonrpc": "2.0",
            "method": "rpc.event",
            "params": {"topic": topic, "data": 1, "offset": 1, "epoch": epoch},
        }
        assert await peer.nothing_more()


# Good values, their shapes -----------------------------------------------------------


async def test_subscribe_results(topics: None) -> None:
    kept, plain = fresh("room"), fresh("plain")
    async with connected() as peer:
        assert await peer.result("rpc.subscribe", {"topic": plain}) == {"topic": plain, "subscribed": True}
        result = await peer.result("rpc.subscribe", [kept])  # positional, as before
        assert set(result) == {"topic", "subscribed", "offset", "epoch"}, result
        assert (result["topic"], result["subscribed"], result["offset"]) == (kept, True, 0)
        assert isinstance(result["epoch"], str) and result["epoch"]


@pytest.mark.parametrize(
    ("topic", "extra"),
    [
        ("plain.one", {"rewind": 1}),
        ("plain.one", {"since": {"offset": 0, "epoch": "e"}}),
        ("room.*", {"rewind": 1}),
        ("room.#", {"since": {"offset": 0, "epoch": "e"}}),
    ],
    ids=["no-history-rewind", "no-history-since", "pattern-rewind", "pattern-since"],
)
async def test_patterns_and_topics_without_history_do_not_recover(topics: None, topic: str, extra: Any) -> None:
    async with connected() as peer:
        result = await peer.result("rpc.subscribe", {"topic": topic, **extra})
        assert result == {"topic": topic, "subscribed": True, "recovered": False, "publications": []}


async def test_rewind_and_since_in_process(topics: None) -> None:
    topic = fresh("room")
    async with connected() as speaker, connected() as peer:
        for n in range(1, 4):
            await speaker.result("rpc.publish", {"topic": topic, "data": n})
        result = await peer.result("rpc.subscribe", {"topic": topic, "rewind": 1})
        assert result["recovered"] is True and result["offset"] == 3, result
        epoch = result["epoch"]
        assert result["publications"] == [{"topic": topic, "data": 3, "offset": 3, "epoch": epoch}]
        since = await peer.result("rpc.history", {"topic": topic, "since": {"offset": 1, "epoch": epoch}})
        assert since["publications"] == [
            {"topic": topic, "data": 2, "offset": 2, "epoch": epoch},
            {"topic": topic, "data": 3, "offset": 3, "epoch": epoch},
        ]
        assert since["recovered"] is True
        assert await peer.nothing_more()


async def test_subscribing_again_answers_the_position(topics: None) -> None:
    """Subscribing twice is harmless; the second answer still carries the topic's offset and epoch."""
    topic = fresh("room")
    async with connected() as peer:
        first = await peer.result("rpc.subscribe", {"topic": topic})
        await peer.result("rpc.publish", {"topic": topic, "data": 1})
        assert (await peer.notification())["params"]["offset"] == 1
        again = await peer.result("rpc.subscribe", {"topic": topic})
        assert again == {"topic": topic, "subscribed": True, "offset": 1, "epoch": first["epoch"]}
        assert await peer.nothing_more()


async def test_since_further_back_than_max_recovered_does_not_recover(topics: None) -> None:
    """MAX_RECOVERED 5: since offset 3 of 8 recovers five events; since offset 2 would need six."""
    topic = fresh("room")
    with override_settings(WSRPC=wsrpc(MAX_RECOVERED=5)):
        async with connected() as speaker, connected() as peer:
            for n in range(1, 9):
                await speaker.result("rpc.publish", {"topic": topic, "data": n})
            epoch = (await peer.result("rpc.history", {"topic": topic, "limit": 1}))["epoch"]
            since_3 = await peer.result("rpc.subscribe", {"topic": topic, "since": {"offset": 3, "epoch": epoch}})
            assert since_3["recovered"] is True, since_3
            assert [event["offset"] for event in since_3["publications"]] == [4, 5, 6, 7, 8]
            await peer.result("rpc.unsubscribe", {"topic": topic})
            since_2 = await peer.result("rpc.subscribe", {"topic": topic, "since": {"offset": 2, "epoch": epoch}})
            assert since_2["recovered"] is False and since_2["publications"] == [], since_2
            assert (since_2["offset"], since_2["epoch"]) == (8, epoch)
            capped = await peer.result("rpc.history", {"topic": topic, "limit": 100})
            assert [event["offset"] for event in capped["publications"]] == [4, 5, 6, 7, 8], capped

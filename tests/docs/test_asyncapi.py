"""The AsyncAPI 3.0 document (wsrpc_app.docs.asyncapi), checked against the official schema and real frames.

The schema comes from @asyncapi/specs (tests/data/README.md) and is used
offline. Every frame a real connection exchanges must match exactly one
message of the WebSocket channel, as AsyncAPI requires.
"""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.test import override_settings
from jsonschema import Draft7Validator

from tests.support.pubsub import wsrpc
from tests.support.schemas import asyncapi_validator, errors_of, local_refs, resolve
from wsrpc_app.consumers import CloseCode, RpcConsumer
from wsrpc_app.docs.asyncapi import (
    ASYNCAPI_VERSION,
    CLOSE_CODES,
    ERROR_CODES,
    WEBSOCKET_PATH,
    document,
    topic_channel_id,
)
from wsrpc_app.errors import ErrorCode
from wsrpc_app.models import Topic
from wsrpc_app.routing import websocket_urlpatterns

TOPICS = [
    {"name": "chat.lobby", "description": "The open chat room.", "pattern": False, "subscribe": True, "publish": True},
    {"name": "news", "description": "", "pattern": False, "subscribe": True, "publish": False},
    {"name": "chat.*", "description": "Every room.", "pattern": True, "subscribe": True, "publish": False},
    {"name": "sensors.#", "description": "", "pattern": True, "subscribe": True, "publish": False},
]


def valid(doc: dict[str, Any]) -> dict[str, Any]:
    """``doc``, once it passed the official schema and its references all point somewhere."""
    assert errors_of(asyncapi_validator(), doc) == []
    for ref in local_refs(doc):
        resolve(doc, ref)
    return doc


def conforms(doc: dict[str, Any], payload: dict[str, Any], frame: Any) -> bool:
    """Whether ``frame`` is valid against ``payload``, a schema whose references point into ``doc``."""
    # The document is no schema but has no key that is a JSON Schema keyword: it can be the root.
    return bool(Draft7Validator({**doc, "allOf": [payload]}).is_valid(frame))


def channel_messages(doc: dict[str, Any], channel: str) -> dict[str, dict[str, Any]]:
    """The messages of a channel, references followed."""
    messages = doc["channels"][channel]["messages"]
    return {key: resolve(doc, m["$ref"]) if "$ref" in m else m for key, m in messages.items()}


def matches(doc: dict[str, Any], frame: Any, channel: str = "rpc") -> list[str]:
    """The keys of the channel's messages ``frame`` is valid against."""
    return [key for key, m in channel_messages(doc, channel).items() if conforms(doc, m["payload"], frame)]


@pytest.fixture(scope="module")
def doc() -> dict[str, Any]:
    return valid(document(TOPICS, host="example.com", protocol="wss"))


# The schema ---------------------------------------------------------------------------


def test_the_validator_rejects_a_broken_document(doc: dict[str, Any]) -> None:
    broken = copy.deepcopy(doc)
    broken["operations"]["receiveCall"]["action"] = "publish"
    broken["servers"]["wsrpc"].pop("protocol")
    broken["components"]["schemas"]["Id"]["type"] = 5
    assert len(errors_of(asyncapi_validator(), broken)) == 3


def test_without_topics() -> None:
    bare = valid(document())
    assert list(bare["channels"]) == ["rpc"]
    assert bare["servers"]["wsrpc"]["host"] == "localhost:8000"


def test_the_websocket_channel(doc: dict[str, Any]) -> None:
    assert doc["asyncapi"] == ASYNCAPI_VERSION == "3.0.0"
    assert doc["defaultContentType"] == "application/json"
    server = doc["servers"]["wsrpc"]
    assert (server["host"], server["protocol"]) == ("example.com", "wss")
    rpc = doc["channels"]["rpc"]
    assert rpc["address"] == "/ws/rpc/"
    assert rpc["servers"] == [{"$ref": "#/servers/wsrpc"}]
    assert rpc["bindings"]["ws"]["method"] == "GET"
    assert set(rpc["messages"]) >= {"request", "notification", "result", "error", "batch", "event", "unsubscribed"}
    schemes = doc["components"]["securitySchemes"]
    assert (schemes["token"]["in"], schemes["token"]["name"]) == ("header", "Authorization")
    assert (schemes["session"]["in"], schemes["session"]["name"]) == ("cookie", "sessionid")


def test_operations_go_both_ways(doc: dict[str, Any]) -> None:
    operations = doc["operations"]
    # Described from the server's side: it receives the client's calls and answers them...
    call = operations["receiveCall"]
    assert call["action"] == "receive"
    assert call["messages"] == [{"$ref": "#/channels/rpc/messages/request"}]
    assert call["reply"]["messages"] == [
        {"$ref": "#/channels/rpc/messages/result"},
        {"$ref": "#/channels/rpc/messages/error"},
    ]
    # ...and calls the client (connection.call), which answers in turn.
    back = operations["sendCall"]
    assert back["action"] == "send" and back["messages"] == call["messages"] and back["reply"] == call["reply"]
    assert operations["receiveNotification"]["action"] == "receive" and "reply" not in operations["receiveNotification"]
    assert operations["sendNotification"]["action"] == "send"
    assert operations["sendEvent"]["messages"] == [{"$ref": "#/channels/rpc/messages/event"}]
    assert operations["sendUnsubscribed"]["messages"] == [{"$ref": "#/channels/rpc/messages/unsubscribed"}]
    for name in ("receiveSubscribe", "receiveUnsubscribe", "receivePublish", "receivePing", "receiveDiscover"):
        assert operations[name]["action"] == "receive" and operations[name]["reply"] == call["reply"]
    # An operation's messages are the channel's own (AsyncAPI requires a subset).
    for operation in operations.values():
        channel = operation["channel"]["$ref"]
        for message in operation["messages"]:
            assert message["$ref"].startswith(channel + "/messages/")


def test_topics_are_channels(doc: dict[str, Any]) -> None:
    lobby = doc["channels"][topic_channel_id("chat.lobby")]
    assert lobby["address"] == "chat.lobby"
    assert lobby["description"].startswith("The open chat room.")
    assert (lobby["x-wsrpc-pattern"], lobby["x-wsrpc-subscribe"], lobby["x-wsrpc-publish"]) == (False, True, True)
    assert set(lobby["messages"]) == {"event", "publish"}
    rooms = doc["channels"][topic_channel_id("chat.*")]
    assert topic_channel_id("chat.*") == "topic.chat._star_"
    assert topic_channel_id("sensors.#") == "topic.sensors._hash_"
    assert rooms["address"] == "chat.*" and rooms["x-wsrpc-pattern"] is True
    assert "pattern" in rooms["description"].lower()
    assert set(rooms["messages"]) == {"event"}
    assert set(doc["channels"][topic_channel_id("news")]["messages"]) == {"event"}
    operations = doc["operations"]
    assert operations["topic.chat.lobby.events"]["action"] == "send"
    assert operations["topic.chat.lobby.publish"]["action"] == "receive"
    assert "topic.news.publish" not in operations
    assert operations["topic.chat._star_.events"]["channel"] == {"$ref": "#/channels/topic.chat._star_"}


def test_error_and_close_codes_are_all_listed(doc: dict[str, Any]) -> None:
    assert {code for code, _ in ERROR_CODES} == {int(code) for code in ErrorCode}
    close = {code for code, _ in CLOSE_CODES}
    assert {
        CloseCode.MESSAGE_TOO_BIG,
        CloseCode.SLOW_CONSUMER,
        CloseCode.IDLE_TIMEOUT,
        CloseCode.LIFESPAN_REACHED,
    } <= close
    for code, _ in ERROR_CODES + CLOSE_CODES:
        assert f"| {code} |" in doc["info"]["description"]


def test_the_websocket_path_is_where_the_routing_serves_the_consumer() -> None:
    (route,) = websocket_urlpatterns
    assert WEBSOCKET_PATH == "/" + str(route.pattern) == "/ws/rpc/"


# Message schemas ----------------------------------------------------------------------


def test_every_example_is_valid_against_its_own_message_only(doc: dict[str, Any]) -> None:
    for key, message in channel_messages(doc, "rpc").items():
        example = message["examples"][0]["payload"]
        assert matches(doc, example) == [key], (key, example)


@pytest.mark.parametrize(
    ("frame", "key"),
    [
        ({"jsonrpc": "2.0", "method": "add", "params": {"a": 1, "b": 2}, "id": "x"}, "request"),
        ({"jsonrpc": "2.0", "method": "add", "id": None}, "request"),
        ({"jsonrpc": "2.0", "method": "log"}, "notification"),
        ({"jsonrpc": "2.0", "result": None, "id": 7}, "result"),
        ({"jsonrpc": "2.0", "error": {"code": -32700, "message": "Parse error"}, "id": None}, "error"),
        ({"jsonrpc": "2.0", "method": "rpc.subscribe", "params": ["chat.*"], "id": 1}, "subscribe"),
        ({"jsonrpc": "2.0", "method": "rpc.publish", "params": ["chat.lobby"], "id": 1}, "publish"),
        ({"jsonrpc": "2.0", "method": "rpc.publish", "params": ["chat.lobby", [1, 2]], "id": 1}, "publish"),
        ({"jsonrpc": "2.0", "method": "rpc.event", "params": {"topic": "a", "data": None, "offset": 3}}, "event"),
    ],
)
def test_frames_match_one_message(doc: dict[str, Any], frame: Any, key: str) -> None:
    assert matches(doc, frame) == [key]


@pytest.mark.parametrize(
    "frame",
    [
        {"jsonrpc": "1.0", "method": "add", "id": 1},
        {"jsonrpc": "2.0", "method": "add", "params": 3, "id": 1},
        {"jsonrpc": "2.0", "result": 1, "error": {"code": 1, "message": "x"}, "id": 1},
        {"jsonrpc": "2.0", "method": "rpc.subscribe", "params": {"topic": "a..b"}, "id": 1},
        {"jsonrpc": "2.0", "method": "rpc.publish", "params": {"topic": "chat.*", "data": 1}, "id": 1},
        {"jsonrpc": "2.0", "method": "rpc.event", "params": {"data": 1}},
        [],
    ],
)
def test_invalid_frames_match_nothing(doc: dict[str, Any], frame: Any) -> None:
    assert matches(doc, frame) == []


def test_history_frames(doc: dict[str, Any]) -> None:
    gap = {"jsonrpc": "2.0", "method": "rpc.gap", "params": {"topic": "a.b", "epoch": "e1", "offset": 4}}
    assert matches(doc, gap) == ["gap"]
    assert matches(doc, {**gap, "params": {**gap["params"], "missed": [2, 4]}}) == ["gap"]
    since = {"topic": "a.b", "since": {"offset": 3, "epoch": "e1"}}
    assert matches(doc, {"jsonrpc": "2.0", "method": "rpc.subscribe", "params": since, "id": 1}) == ["subscribe"]
    assert matches(doc, {"jsonrpc": "2.0", "method": "rpc.history", "params": since, "id": 1}) == ["history"]
    event = {"jsonrpc": "2.0", "method": "rpc.event", "params": {"topic": "a.b", "data": 1, "offset": 4, "epoch": "e"}}
    assert matches(doc, event) == ["event"]


def test_topic_events(doc: dict[str, Any]) -> None:
    params: dict[str, Any] = {"topic": "chat.lobby", "data": {"text": "hi"}}
    direct = {"jsonrpc": "2.0", "method": "rpc.event", "params": params}
    through = {**direct, "params": {**params, "subscription": "chat.*"}}
    lobby, rooms = topic_channel_id("chat.lobby"), topic_channel_id("chat.*")
    assert matches(doc, direct, lobby) == ["event"] and matches(doc, direct, rooms) == []
    assert matches(doc, through, rooms) == ["event"]
    publish = {"jsonrpc": "2.0", "method": "rpc.publish", "params": {"topic": "chat.lobby", "data": 1}, "id": 4}
    assert matches(doc, publish, lobby) == ["publish"]
    assert matches(doc, {**publish, "params": ["chat.lobby", 1]}, lobby) == ["publish"]
    assert matches(doc, {**publish, "params": ["news", 1]}, lobby) == []


# Real frames ---------------------------------------------------------------------------


class Recorder:
    """A WebSocket client that keeps every frame it sends and receives, decoded."""

    def __init__(self, communicator: WebsocketCommunicator) -> None:
        self.ws = communicator
        self.sent: list[Any] = []
        self.received: list[Any] = []

    async def send(self, frame: Any) -> None:
        text = frame if isinstance(frame, str) else json.dumps(frame)
        if not isinstance(frame, str):
            self.sent.append(frame)
        await self.ws.send_to(text_data=text)

    async def receive(self) -> Any:
        frame = json.loads(await self.ws.receive_from(timeout=3))
        self.received.append(frame)
        return frame


@pytest.mark.django_db(transaction=True)
async def test_every_frame_of_a_session_matches_exactly_one_message() -> None:
    # Topics no Topic row touches (the demo's rows are in the database), open to all by the default policy.
    topics = [
        {"name": "room.a", "description": "", "pattern": False, "subscribe": True, "publish": True},
        {"name": "room.*", "description": "", "pattern": True, "subscribe": True, "publish": False},
    ]
    doc = valid(document(topics))
    with override_settings(WSRPC=wsrpc(TOPIC_DEFAULT_POLICY="allow")):
        communicator = WebsocketCommunicator(RpcConsumer.as_asgi(), "/ws/rpc/")
        assert (await communicator.connect())[0]
        peer = Recorder(communicator)
        try:
            await peer.send({"jsonrpc": "2.0", "method": "add", "params": [1, 2], "id": 1})
            assert (await peer.receive())["result"] == 3
            await peer.send({"jsonrpc": "2.0", "method": "notify_hello", "params": [1]})
            await peer.send({"jsonrpc": "2.0", "method": "nope", "id": 2})
            assert (await peer.receive())["error"]["code"] == -32601
            await peer.send("{not json")
            assert (await peer.receive())["error"]["code"] == -32700
            await peer.send(
                [
                    {"jsonrpc": "2.0", "method": "subtract", "params": [5, 3], "id": 3},
                    {"jsonrpc": "2.0", "method": "notify_sum", "params": [1]},
                    {"jsonrpc": "2.0", "method": "calc.divide", "params": [1, 0], "id": 4},
                ]
            )
            assert len(await peer.receive()) == 2
            for id_, method in enumerate(("rpc.ping", "rpc.discover"), start=5):
                await peer.send({"jsonrpc": "2.0", "method": method, "id": id_})
                assert "result" in await peer.receive()
            await peer.send({"jsonrpc": "2.0", "method": "rpc.subscribe", "params": {"topic": "room.a"}, "id": 7})
            assert "result" in await peer.receive()
            await peer.send({"jsonrpc": "2.0", "method": "rpc.subscribe", "params": ["room.*"], "id": 8})
            assert "result" in await peer.receive()
            await peer.send(
                {"jsonrpc": "2.0", "method": "rpc.publish", "params": {"topic": "room.a", "data": [1]}, "id": 9}
            )
            frames = [await peer.receive() for _ in range(3)]  # the reply and two events, in any order
            assert sorted(frame.get("method", "reply") for frame in frames) == ["reply", "rpc.event", "rpc.event"]
            await peer.send({"jsonrpc": "2.0", "method": "rpc.unsubscribe", "params": ["room.*"], "id": 10})
            await peer.receive()
            # A topic with history: positions in the answers and the events.
            await database_sync_to_async(Topic.objects.create)(
                name="kept.a", history_size=10, history_ttl=60, anonymous_subscribe=True, anonymous_publish=True
            )
            await peer.send(
                {"jsonrpc": "2.0", "method": "rpc.subscribe", "params": {"topic": "kept.a", "rewind": 1}, "id": 20}
            )
            assert (await peer.receive())["result"]["recovered"] is True
            await peer.send(
                {"jsonrpc": "2.0", "method": "rpc.publish", "params": {"topic": "kept.a", "data": 1}, "id": 21}
            )
            frames = [await peer.receive() for _ in range(2)]
            assert sorted(frame.get("method", "reply") for frame in frames) == ["reply", "rpc.event"]
            await peer.send(
                {"jsonrpc": "2.0", "method": "rpc.history", "params": {"topic": "kept.a", "limit": 5}, "id": 22}
            )
            reply = await peer.receive()
            assert len(reply["result"]["publications"]) == 1, reply
            # The server calls the client back, which answers.
            await peer.send({"jsonrpc": "2.0", "method": "call_back", "params": ["answer", ["why?"]], "id": 11})
            request = await peer.receive()
            assert request["method"] == "answer"
            await peer.send({"jsonrpc": "2.0", "result": 42, "id": request["id"]})
            assert (await peer.receive())["result"] == 42
            await peer.send({"jsonrpc": "2.0", "method": "call_back", "params": ["refuse"], "id": 12})
            request = await peer.receive()
            await peer.send({"jsonrpc": "2.0", "error": {"code": -32601, "message": "no"}, "id": request["id"]})
            assert (await peer.receive())["error"]["code"] == -32601
            await peer.send({"jsonrpc": "2.0", "method": "notify_back", "params": ["hello", [1]], "id": 13})
            notified = [await peer.receive(), await peer.receive()]
            assert {frame.get("method") for frame in notified} == {"hello", None}
        finally:
            await communicator.disconnect()
    assert (len(peer.sent), len(peer.received)) == (18, 22)
    for frame in peer.sent + peer.received:
        assert len(matches(doc, frame)) == 1, frame
    events = [frame for frame in peer.received if isinstance(frame, dict) and frame.get("method") == "rpc.event"]
    by_pattern = next(frame for frame in events if "subscription" in frame["params"])
    direct = next(frame for frame in events if "subscription" not in frame["params"])
    assert matches(doc, by_pattern, topic_channel_id("room.*")) == ["event"]
    assert matches(doc, direct, topic_channel_id("room.a")) == ["event"]
    assert matches(doc, direct, topic_channel_id("room.*")) == []

"""The routing table (``wsrpc_app.pubsub.routes``) and the layer messages (``messages``): no I/O, no event loop."""

from __future__ import annotations

import json

import pytest

from wsrpc_app.pubsub import messages
from wsrpc_app.pubsub.routes import Routes


class Recorder:
    def __init__(self, user: object = None) -> None:
        self.user = user
        self.frames: list[dict[str, object]] = []

    def deliver(self, frame: str) -> None:
        self.frames.append(json.loads(frame))

    async def revoke(self, name: str, reason: str) -> None:
        raise AssertionError("not used here")


def test_an_event_reaches_exact_and_pattern_subscribers_once_each() -> None:
    routes = Routes()
    exact, pattern, other = Recorder(), Recorder(), Recorder()
    routes.add("wsrpc.t.chat.lobby", "chat.lobby", exact)
    routes.add("wsrpc.p.chat", "chat.*", pattern)
    routes.add("wsrpc.p.chat", "chat.lobby.*", other)
    routes.deliver_event("wsrpc.t.chat.lobby", "chat.lobby", b'{"text":"hi"}')
    routes.deliver_event("wsrpc.p.chat", "chat.lobby", b'{"text":"hi"}')
    params = {"topic": "chat.lobby", "data": {"text": "hi"}}
    assert exact.frames == [{"jsonrpc": "2.0", "method": "rpc.event", "params": params}]
    assert pattern.frames == [{"jsonrpc": "2.0", "method": "rpc.event", "params": {**params, "subscription": "chat.*"}}]
    assert other.frames == []


def test_filing_twice_and_removing_what_is_not_there_say_so() -> None:
    routes = Routes()
    subscriber = Recorder()
    assert routes.add("g", "news", subscriber) is True
    assert routes.add("g", "news", subscriber) is False
    assert routes.remove("g", "chat", subscriber) is False
    assert routes.names_of(subscriber) == ["news"]
    assert routes.remove("g", "news", subscriber) is True
    assert routes.topics == {} and routes.groups() == []


def test_a_user_group_reaches_each_connection_of_the_user() -> None:
    routes = Routes()
    phone, laptop = Recorder(), Recorder()
    routes.add_user("wsrpc.u.7", phone)
    routes.add_user("wsrpc.u.7", laptop)
    routes.deliver_user("wsrpc.u.7", '{"jsonrpc":"2.0","method":"hi"}')
    assert phone.frames == laptop.frames == [{"jsonrpc": "2.0", "method": "hi"}]
    assert routes.remove_user("wsrpc.u.7", phone) is True
    assert routes.remove_user("wsrpc.u.7", phone) is False
    assert routes.groups() == ["wsrpc.u.7"]


def test_subscriptions_may_be_removed_while_iterating() -> None:
    routes = Routes()
    subscribers = [Recorder(), Recorder()]
    for subscriber in subscribers:
        routes.add("g", "news", subscriber)
    for name, subscriber in routes.subscriptions():
        routes.remove("g", name, subscriber)
    assert routes.topics == {}


def test_messages_are_built_and_parsed_in_one_place() -> None:
    events = messages.event_messages("news", b"1")
    assert [event["group"] for event in events] == list(messages.publish_groups("news"))
    assert [messages.parse(event) for event in events] == events
    user = messages.user_message("wsrpc.u.7", "{}")
    assert messages.parse(user) == user
    control = messages.control_message("permissions")
    assert messages.parse(control) == control


def test_a_message_of_another_app_is_ignored() -> None:
    assert messages.parse({"type": "chat.message", "text": "hi"}) is None


@pytest.mark.parametrize(
    "message",
    [
        {"type": "wsrpc.event", "group": "wsrpc.t.news", "data": b"1"},
        {"type": "wsrpc.event", "group": "wsrpc.t.news", "topic": "news", "data": 1},
        {"type": "wsrpc.user", "group": 7, "frame": "{}"},
        {"type": "wsrpc.control"},
    ],
)
def test_a_malformed_message_of_this_app_is_an_error(message: dict[str, object]) -> None:
    with pytest.raises(ValueError, match="malformed"):
        messages.parse(message)


def test_group_names_stay_under_channels_limit() -> None:
    long_topic = ".".join(["segment"] * 20)
    assert len(messages.subscription_group(long_topic)) < 100
    assert messages.publish_groups(long_topic)[0] == messages.subscription_group(long_topic)
    assert messages.subscription_group("#.error") == messages.ANY_GROUP
    assert messages.subscription_group("sensors.*.temp") == "wsrpc.p.sensors"

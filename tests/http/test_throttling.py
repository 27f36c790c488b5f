"""PUBLISH_RATE over HTTP: POST wsrpc/publish/ and rpc.publish in POST wsrpc/rpc/, per caller, through DRF."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.test import Client, RequestFactory, override_settings
from rest_framework.request import Request
from rest_framework.throttling import SimpleRateThrottle

from tests.support.pubsub import fresh_permissions, make_topic  # noqa: F401
from wsrpc_app.http.throttling import PublishRateThrottle, client_address

pytestmark = pytest.mark.django_db

User = get_user_model()


class Clock:
    """A frozen ``time.time`` for the throttle: a burst happens at one instant."""

    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


class TwoPerMinute(SimpleRateThrottle):
    """A project's own throttle, as a REST_FRAMEWORK setting would list it."""

    rate = "2/min"
    scope = "project"

    def get_cache_key(self, request: Any, view: Any) -> str:
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    frozen = Clock()
    monkeypatch.setattr(PublishRateThrottle, "timer", staticmethod(frozen))
    return frozen


@pytest.fixture(autouse=True)
def rate() -> Iterator[None]:
    """PUBLISH_RATE 50 (the default), an open chat.lobby, and no count left from another test."""
    cache.clear()
    make_topic("chat.lobby", anonymous_subscribe=True, anonymous_publish=True)
    with override_settings(WSRPC={**settings.WSRPC, "PUBLISH_RATE": 50.0}):
        yield
    cache.clear()


def publish(client: Client, topic: str = "chat.lobby", **extra: Any) -> Any:
    return client.post("/wsrpc/publish/", {"topic": topic, "data": 1}, content_type="application/json", **extra)


def rpc(client: Client, body: Any, **extra: Any) -> Any:
    return client.post("/wsrpc/rpc/", json.dumps(body), content_type="application/json", **extra)


def rpc_publish(id_: Any = 1, topic: str = "chat.lobby") -> dict[str, Any]:
    message: dict[str, Any] = {"jsonrpc": "2.0", "method": "rpc.publish", "params": {"topic": topic, "data": 1}}
    if id_ is not None:
        message["id"] = id_
    return message


# POST publish/ -------------------------------------------------------------------


def test_300_anonymous_publishes_in_a_burst_get_429_beyond_the_rate(client: Client, clock: Clock) -> None:
    statuses = [publish(client) for _ in range(300)]
    assert [r.status_code for r in statuses] == [200] * 50 + [429] * 250
    refused = statuses[50]
    assert refused["Content-Type"] == "application/json"
    assert refused["Retry-After"] == "1"
    body = refused.json()
    assert body["publish_rate"] == 50.0
    assert "Publishing too fast" in body["detail"]
    clock.now += 1.0  # the window has passed: a new burst
    assert publish(client).status_code == 200


def test_the_rate_is_per_address(client: Client, clock: Clock) -> None:
    assert {publish(client, REMOTE_ADDR="10.1.1.1").status_code for _ in range(50)} == {200}
    assert publish(client, REMOTE_ADDR="10.1.1.1").status_code == 429
    assert publish(client, REMOTE_ADDR="10.2.2.2").status_code == 200


def test_a_logged_in_user_has_a_rate_of_their_own(client: Client, clock: Clock) -> None:
    for _ in range(50):
        publish(client)
    assert publish(client).status_code == 429  # anonymous, from 127.0.0.1
    alice, bob = Client(), Client()
    alice.force_login(User.objects.create_user("alice"))
    bob.force_login(User.objects.create_user("bob"))
    assert {publish(alice).status_code for _ in range(50)} == {200}  # same address, not the same caller
    assert publish(alice).status_code == 429
    assert publish(bob).status_code == 200
    assert publish(alice, REMOTE_ADDR="10.9.9.9").status_code == 429  # a user is one caller from anywhere


def test_a_refused_publish_is_not_sent(client: Client, clock: Clock) -> None:
    with override_settings(WSRPC={**settings.WSRPC, "PUBLISH_RATE": 1.0}):
        assert publish(client).status_code == 200
        assert publish(client, topic="not..valid").status_code == 429  # the rate is checked first, as DRF does


def test_publish_rate_none_lets_everything_through(client: Client) -> None:
    with override_settings(WSRPC={**settings.WSRPC, "PUBLISH_RATE": None}):
        assert {publish(client).status_code for _ in range(120)} == {200}


def test_a_fractional_rate_keeps_its_average(client: Client, clock: Clock) -> None:
    with override_settings(WSRPC={**settings.WSRPC, "PUBLISH_RATE": 0.5}):
        assert [publish(client).status_code for _ in range(2)] == [200, 429]
        assert publish(client)["Retry-After"] == "2"
        clock.now += 2.0
        assert publish(client).status_code == 200


# X-Forwarded-For ------------------------------------------------------------------


def address(remote: str, forwarded: str | None = None) -> str:
    extra = {"REMOTE_ADDR": remote}
    if forwarded is not None:
        extra["HTTP_X_FORWARDED_FOR"] = forwarded
    return client_address(Request(RequestFactory().post("/wsrpc/publish/", **extra)))  # type: ignore[arg-type]


def test_x_forwarded_for_is_ignored_by_default() -> None:
    assert address("10.0.0.1", "203.0.113.7") == "10.0.0.1"


@override_settings(WSRPC={**settings.WSRPC, "TRUSTED_PROXIES": ["10.0.0.1", "192.168.0.0/16"]})
def test_x_forwarded_for_is_honoured_only_from_a_trusted_proxy() -> None:
    assert address("10.0.0.1", "203.0.113.7") == "203.0.113.7"
    assert address("198.51.100.1", "203.0.113.7") == "198.51.100.1"  # not a proxy: the header is the client's
    assert address("10.0.0.1") == "10.0.0.1"  # a trusted proxy that says nothing


@override_settings(WSRPC={**settings.WSRPC, "TRUSTED_PROXIES": ["10.0.0.1", "192.168.0.0/16"]})
def test_a_client_cannot_choose_its_address_through_a_trusted_proxy() -> None:
    # The client wrote "1.1.1.1"; the proxies appended what they saw, right to left.
    assert address("10.0.0.1", "1.1.1.1, 203.0.113.7, 192.168.3.4") == "203.0.113.7"
    assert address("10.0.0.1", "garbage, 203.0.113.7") == "203.0.113.7"
    assert address("10.0.0.1", "192.168.3.4, 10.0.0.1") == "192.168.3.4"  # proxies all the way: the first hop


def test_the_rate_follows_x_forwarded_for_from_a_trusted_proxy(client: Client, clock: Clock) -> None:
    proxy = {"REMOTE_ADDR": "10.0.0.1"}
    with override_settings(WSRPC={**settings.WSRPC, "PUBLISH_RATE": 2.0, "TRUSTED_PROXIES": ["10.0.0.0/8"]}):
        assert [publish(client, **proxy, HTTP_X_FORWARDED_FOR="203.0.113.7").status_code for _ in range(3)] == [
            200,
            200,
            429,
        ]
        assert publish(client, **proxy, HTTP_X_FORWARDED_FOR="203.0.113.8").status_code == 200
    with override_settings(WSRPC={**settings.WSRPC, "PUBLISH_RATE": 2.0}):  # no proxy trusted: one address
        assert publish(client, **proxy, HTTP_X_FORWARDED_FOR="203.0.113.9").status_code == 200
        assert publish(client, **proxy, HTTP_X_FORWARDED_FOR="203.0.113.10").status_code == 200
        assert publish(client, **proxy, HTTP_X_FORWARDED_FOR="203.0.113.11").status_code == 429


# rpc.publish over POST rpc/ ----------------------------------------------------------


def test_rpc_publish_in_a_batch_is_refused_beyond_the_rate_while_the_rest_succeed(client: Client, clock: Clock) -> None:
    with override_settings(WSRPC={**settings.WSRPC, "PUBLISH_RATE": 2.0}):
        response = rpc(
            client,
            [
                rpc_publish(1),
                {"jsonrpc": "2.0", "method": "add", "params": [1, 2], "id": "add"},
                rpc_publish(2),
                rpc_publish(3),
                rpc_publish(None),  # a notification over the rate: dropped, unanswered
                {"jsonrpc": "2.0", "method": "subtract", "params": [5, 3], "id": "sub"},
            ],
        )
    assert response.status_code == 200
    assert response["Retry-After"] == "1"
    replies = {reply["id"]: reply for reply in response.json()}
    assert set(replies) == {1, 2, 3, "add", "sub"}
    assert replies[1]["result"] == {"topic": "chat.lobby"}
    assert replies[2]["result"] == {"topic": "chat.lobby"}
    assert replies[3]["error"] == {"code": -32029, "message": "Publishing too fast", "data": {"publish_rate": 2.0}}
    assert replies["add"]["result"] == 3
    assert replies["sub"]["result"] == 2


def test_a_lone_rpc_publish_over_the_rate_is_429(client: Client, clock: Clock) -> None:
    with override_settings(WSRPC={**settings.WSRPC, "PUBLISH_RATE": 1.0}):
        assert rpc(client, rpc_publish(1)).status_code == 200
        refused = rpc(client, rpc_publish(2))
        assert (refused.status_code, refused["Retry-After"]) == (429, "1")
        assert refused.json() == {
            "jsonrpc": "2.0",
            "error": {"code": -32029, "message": "Publishing too fast", "data": {"publish_rate": 1.0}},
            "id": 2,
        }
        notification = rpc(client, rpc_publish(None))
        assert (notification.status_code, notification.content) == (204, b"")


def test_rpc_publish_and_publish_share_one_count(client: Client, clock: Clock) -> None:
    with override_settings(WSRPC={**settings.WSRPC, "PUBLISH_RATE": 2.0}):
        assert rpc(client, rpc_publish(1)).status_code == 200
        assert publish(client).status_code == 200
        assert rpc(client, rpc_publish(2)).json()["error"]["code"] == -32029
        assert publish(client).status_code == 429


def test_other_methods_do_not_count(client: Client, clock: Clock) -> None:
    with override_settings(WSRPC={**settings.WSRPC, "PUBLISH_RATE": 1.0}):
        for _ in range(5):
            assert rpc(client, {"jsonrpc": "2.0", "method": "add", "params": [1, 2], "id": 1}).status_code == 200
        assert rpc(client, rpc_publish(1)).json()["result"] == {"topic": "chat.lobby"}


# The rate holds across threads; the project's throttles still apply -------------------


class SlowCache:
    """The default cache, slow to answer a read: threads interleave between reading a count and writing it."""

    def get(self, key: str, default: Any = None) -> Any:
        value = cache.get(key, default)
        time.sleep(0.0005)
        return value

    def set(self, key: str, value: Any, timeout: float | None = None) -> None:
        cache.set(key, value, timeout)


def test_the_rate_holds_across_the_threads_of_a_process(clock: Clock, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(PublishRateThrottle, "cache", SlowCache())
    request = Request(RequestFactory().post("/wsrpc/publish/"))  # type: ignore[arg-type]
    request.user = None
    allowed: list[bool] = []
    start = threading.Barrier(8)

    def burst() -> None:
        start.wait()
        allowed.extend(PublishRateThrottle().allow_request(request, None) for _ in range(40))

    threads = [threading.Thread(target=burst) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert allowed.count(True) == 50
    assert len(allowed) == 320


def test_the_projects_own_throttles_still_apply(client: Client) -> None:
    rest_framework = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_CLASSES": [f"{__name__}.TwoPerMinute"]}
    with override_settings(REST_FRAMEWORK=rest_framework):
        assert [publish(client).status_code for _ in range(3)] == [200, 200, 429]
        refused = publish(client)
        assert int(refused["Retry-After"]) > 1  # the project's throttle's wait, not PUBLISH_RATE's
        assert "publish_rate" not in refused.json()
        assert client.get("/wsrpc/topics/").status_code == 429  # every endpoint, as DRF applies them
        assert rpc(client, {"jsonrpc": "2.0", "method": "add", "params": [1, 2], "id": 1}).status_code == 429
    cache.clear()
    assert client.get("/wsrpc/topics/").status_code == 200

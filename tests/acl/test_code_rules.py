"""Topic rules in code (WSRPC["TOPIC_RULES"]): asked before the Topic rows, cached, checked at start-up."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from channels.db import database_sync_to_async
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AnonymousUser
from django.core.checks import Error
from django.test import override_settings

from tests.support import topic_rules
from tests.support.pubsub import connected, fresh_permissions, make_topic, wsrpc  # noqa: F401
from wsrpc_app import arefresh_permissions
from wsrpc_app.acl.access import allowed
from wsrpc_app.checks import check_settings

pytestmark = pytest.mark.django_db(transaction=True)

User = get_user_model()
RULES = "tests.support.topic_rules"


@pytest.fixture
def rules() -> Iterator[None]:
    paths = [f"{RULES}.owner_only", f"{RULES}.async_reader", f"{RULES}.broken", f"{RULES}.revocable"]
    with override_settings(WSRPC=wsrpc(TOPIC_RULES=paths)):
        yield


@pytest.fixture
def people() -> tuple[Any, Any, Any]:
    return (
        User.objects.create(username="owner"),
        User.objects.create(username="stranger"),
        User.objects.create(username="root", is_superuser=True),
    )


def test_a_rule_grants_a_users_topics_to_that_user_only(rules: None, people: tuple[Any, Any, Any]) -> None:
    owner, stranger, root = people
    mine = f"user.{owner.pk}.inbox"
    assert allowed(owner, "subscribe", mine) and allowed(owner, "publish", mine)
    assert allowed(owner, "subscribe", f"user.{owner.pk}.#")
    assert not allowed(stranger, "subscribe", mine)
    assert not allowed(AnonymousUser(), "subscribe", mine)
    assert not allowed(None, "subscribe", "user.*.inbox")
    assert allowed(root, "subscribe", mine), "superusers may do anything"


def test_a_rule_with_no_opinion_leaves_it_to_the_rows(rules: None, people: tuple[Any, Any, Any]) -> None:
    owner, _, _ = people
    assert not allowed(owner, "subscribe", "chat.lobby")
    make_topic("chat.lobby", anonymous_subscribe=True)
    assert allowed(owner, "subscribe", "chat.lobby")


def test_an_async_rule_decides_too(rules: None) -> None:
    assert allowed(None, "subscribe", "async.news")
    assert not allowed(None, "publish", "async.news")


def test_a_rule_that_raises_denies(rules: None, caplog: pytest.LogCaptureFixture) -> None:
    make_topic("broken.#", anonymous_subscribe=True)  # the rows would allow it
    assert not allowed(None, "subscribe", "broken.x")
    assert "the topic rule" in caplog.text


def test_decisions_are_cached_until_permissions_are_refreshed(rules: None) -> None:
    topic_rules.ASKED.clear()
    assert allowed(None, "subscribe", "async.cached")
    assert allowed(None, "subscribe", "async.cached")
    assert topic_rules.ASKED.count(("subscribe", "async.cached")) == 1


async def test_refresh_permissions_ends_the_subscriptions_a_rule_no_longer_allows(rules: None) -> None:
    topic_rules.OPEN.clear()
    topic_rules.OPEN.add("gate.one")
    async with connected() as peer:
        assert (await peer.result("rpc.subscribe", {"topic": "gate.one"}))["subscribed"] is True
        assert (await peer.error("rpc.subscribe", {"topic": "gate.two"}))["code"] == -32003
        topic_rules.OPEN.discard("gate.one")
        assert await peer.nothing_more(), "a cached decision holds until refreshed"
        await arefresh_permissions()
        assert await peer.notification() == {
            "jsonrpc": "2.0",
            "method": "rpc.unsubscribed",
            "params": {"topic": "gate.one", "reason": "permission revoked"},
        }


async def test_over_the_websocket_a_rule_lets_the_owner_in(rules: None) -> None:
    owner = await database_sync_to_async(User.objects.create)(username="ws-owner")
    async with connected(owner) as peer:
        assert (await peer.result("rpc.subscribe", {"topic": f"user.{owner.pk}.#"}))["subscribed"] is True
        denied = await peer.error("rpc.subscribe", {"topic": f"user.{owner.pk + 1}.inbox"})
        assert denied["code"] == -32003


# The system check ------------------------------------------------------------------


def test_topic_rules_that_do_not_import_or_cannot_be_called_are_reported() -> None:
    paths = [f"{RULES}.owner_only", f"{RULES}.missing", f"{RULES}.NOT_CALLABLE", "no.such.module.rule"]
    with override_settings(WSRPC=wsrpc(TOPIC_RULES=paths)):
        errors = [m for m in check_settings() if m.id == "wsrpc_app.E016"]
    assert [type(e) for e in errors] == [Error, Error, Error]
    assert f"{RULES}.missing" in errors[0].msg and "NOT_CALLABLE" in errors[1].msg and "not callable" in errors[1].msg
    with override_settings(WSRPC=wsrpc(TOPIC_RULES="tests.support.topic_rules.owner_only")):
        [error] = [m for m in check_settings() if m.id == "wsrpc_app.E016"]
    assert "must be a list of dotted paths" in error.msg


@pytest.mark.parametrize("value", [["logout", "reboot"], "logout", None, [1]])
def test_disconnect_on_lists_only_known_events(value: object) -> None:
    with override_settings(WSRPC=wsrpc(DISCONNECT_ON=value)):
        assert [m.id for m in check_settings() if m.id.startswith("wsrpc_app.E0")] == ["wsrpc_app.E017"]


def test_the_defaults_pass_the_checks() -> None:
    with override_settings(WSRPC=wsrpc(DISCONNECT_ON=[], TOPIC_RULES=[], PRESENCE_TTL=5)):
        assert [m.id for m in check_settings()] == []
    with override_settings(WSRPC=wsrpc(PRESENCE_TTL=0)):
        assert [m.id for m in check_settings()] == ["wsrpc_app.E007"]

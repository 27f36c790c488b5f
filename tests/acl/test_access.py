"""Who may subscribe or publish: the permission matrix, its caches, and the signals that clear them."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from asgiref.sync import sync_to_async
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AnonymousUser, Group
from django.db import connection, transaction
from django.db.backends.utils import CursorWrapper
from django.test import override_settings
from django.test.utils import CaptureQueriesContext

from tests.support.pubsub import connected, fresh_permissions, grant, make_topic, wsrpc  # noqa: F401
from wsrpc_app.acl import access, queries
from wsrpc_app.acl.access import aallowed, allowed
from wsrpc_app.acl.rules import Action, Principal, Rules
from wsrpc_app.models import Topic, TopicPermission

User = get_user_model()


class World:
    """The rows of the matrix.

    - ``open``: anyone subscribes and publishes;
    - ``news``: anyone subscribes, group ``staff`` publishes (the demo's rule);
    - ``members.#``: any logged-in user subscribes and publishes;
    - ``chat.#``: user alice subscribes and publishes; ``chat.lobby``: anyone subscribes;
    - ``team.*``: group ``writers`` subscribes;
    - ``secret``: a restrictive row: nobody but carol, who may publish only.
    """

    def __init__(self) -> None:
        Topic.objects.all().delete()
        self.staff = Group.objects.get_or_create(name="staff")[0]
        self.writers = Group.objects.create(name="writers")
        self.alice = User.objects.create_user("alice")
        self.bob = User.objects.create_user("bob")
        self.bob.groups.add(self.writers)
        self.carol = User.objects.create_user("carol")
        self.stan = User.objects.create_user("stan")
        self.stan.groups.add(self.staff)
        self.root = User.objects.create_superuser("root")
        self.dave = User.objects.create_user("dave", is_active=False)  # alice's grants, but inactive
        self.dave.groups.add(self.writers)

        make_topic("open", anonymous_subscribe=True, anonymous_publish=True)
        news = make_topic("news", anonymous_subscribe=True)
        grant(news, group=self.staff, subscribe=True, publish=True)
        make_topic("members.#", authenticated_subscribe=True, authenticated_publish=True)
        chat = make_topic("chat.#")
        grant(chat, user=self.alice, subscribe=True, publish=True)
        grant(chat, user=self.dave, subscribe=True, publish=True)
        make_topic("chat.lobby", anonymous_subscribe=True)
        team = make_topic("team.*")
        grant(team, group=self.writers, subscribe=True)
        secret = make_topic("secret")
        grant(secret, user=self.carol, publish=True)

    def user(self, who: str) -> Any:
        if who == "nobody":
            return None
        if who == "anonymous":
            return AnonymousUser()
        return getattr(self, who)


@pytest.fixture
def world(db: None) -> World:
    return World()


# (who, action, name, allowed under the deny policy)
MATRIX = [
    # anonymous_*: anyone, logged in or not
    *[
        (who, action, "open", True)
        for who in ("nobody", "anonymous", "alice", "dave")
        for action in ("subscribe", "publish")
    ],
    ("nobody", "subscribe", "news", True),
    ("anonymous", "subscribe", "news", True),
    ("alice", "subscribe", "news", True),
    ("nobody", "publish", "news", False),
    ("alice", "publish", "news", False),
    ("stan", "publish", "news", True),  # a group grant
    # authenticated_*: logged-in (and active) users only; a pattern row covers its topics
    ("nobody", "subscribe", "members.x", False),
    ("anonymous", "publish", "members.x", False),
    ("alice", "subscribe", "members.x", True),
    ("alice", "publish", "members.x.y", True),
    ("alice", "subscribe", "members", True),  # '#' stands for zero segments too
    ("alice", "subscribe", "members.#", True),
    ("alice", "subscribe", "members.*.y", True),
    ("dave", "subscribe", "members.x", False),  # inactive
    # user grants on a pattern
    ("alice", "subscribe", "chat.x.y", True),
    ("alice", "publish", "chat.x.y", True),
    ("alice", "subscribe", "chat.*", True),
    ("alice", "subscribe", "chat.#", True),
    ("bob", "subscribe", "chat.x", False),
    ("bob", "publish", "chat.lobby", False),
    ("bob", "subscribe", "chat.lobby", True),
    ("nobody", "subscribe", "chat.lobby", True),
    ("bob", "subscribe", "chat.*", False),  # a grant on chat.lobby does not cover chat.*
    ("nobody", "subscribe", "chat.*", False),
    ("dave", "subscribe", "chat.x", False),  # an inactive user's grants do not count
    ("dave", "subscribe", "chat.lobby", True),  # but what anyone may do, he may
    # group grants on a '*' pattern
    ("bob", "subscribe", "team.a", True),
    ("bob", "publish", "team.a", False),
    ("bob", "subscribe", "team.*", True),
    ("bob", "subscribe", "team.#", False),  # team.# also matches team and team.a.b
    ("bob", "subscribe", "team.a.b", False),
    ("bob", "subscribe", "team", False),
    ("alice", "subscribe", "team.a", False),
    ("dave", "subscribe", "team.a", False),  # inactive, although in the group
    # a restrictive row
    ("carol", "publish", "secret", True),
    ("carol", "subscribe", "secret", False),
    ("nobody", "subscribe", "secret", False),
    ("alice", "publish", "secret", False),
    # names no row touches: denied
    ("nobody", "subscribe", "unlisted", False),
    ("alice", "publish", "unlisted", False),
    ("alice", "subscribe", "#", False),
    # superusers may do anything
    ("root", "publish", "secret", True),
    ("root", "subscribe", "secret", True),
    ("root", "publish", "unlisted", True),
    ("root", "subscribe", "#", True),
    ("root", "publish", "news", True),
]


@pytest.mark.parametrize(("who", "action", "name", "expected"), MATRIX)
def test_matrix(world: World, who: str, action: Action, name: str, expected: bool) -> None:
    assert allowed(world.user(who), action, name) is expected


# (who, action, name, allowed under the allow policy)
ALLOW_MATRIX = [
    ("nobody", "subscribe", "unlisted", True),
    ("nobody", "publish", "unlisted", True),
    ("nobody", "subscribe", "other.#", True),  # overlaps no row
    ("nobody", "subscribe", "team.a.b", True),  # team.* matches only two segments
    ("nobody", "subscribe", "secret", False),  # a row restricts it
    ("nobody", "subscribe", "#", False),  # overlaps restrictive rows
    ("nobody", "subscribe", "*", False),  # overlaps secret
    ("nobody", "subscribe", "chat.x", False),  # chat.# covers it and grants alice only
    ("alice", "subscribe", "chat.x", True),
    ("nobody", "subscribe", "chat.*", False),
    ("nobody", "publish", "news", False),
    ("nobody", "subscribe", "members.x", False),
    ("alice", "subscribe", "secret.sub", True),  # 'secret' does not overlap 'secret.sub'
]


@pytest.mark.parametrize(("who", "action", "name", "expected"), ALLOW_MATRIX)
def test_matrix_under_the_allow_policy(
    world: World, who: str, action: Action, name: str, expected: bool
) -> None:
    with override_settings(WSRPC=wsrpc(TOPIC_DEFAULT_POLICY="allow")):
        assert allowed(world.user(who), action, name) is expected


def test_the_default_policy_is_deny() -> None:
    from wsrpc_app.conf import DEFAULTS

    assert DEFAULTS["TOPIC_DEFAULT_POLICY"] == "deny"


def test_changing_the_policy_is_not_hidden_by_the_cache(world: World) -> None:
    assert allowed(None, "subscribe", "unlisted") is False
    with override_settings(WSRPC=wsrpc(TOPIC_DEFAULT_POLICY="allow")):
        assert allowed(None, "subscribe", "unlisted") is True
    assert allowed(None, "subscribe", "unlisted") is False


def test_a_user_sees_the_grants_of_all_of_their_groups(world: World) -> None:
    world.alice.groups.add(world.writers, world.staff)
    assert allowed(world.alice, "subscribe", "team.a") is True
    assert allowed(world.alice, "publish", "news") is True


def test_grants_add_up_over_several_rows(world: World) -> None:
    both = make_topic("both")
    grant(both, user=world.bob, subscribe=True)
    grant(both, group=world.writers, publish=True)
    assert allowed(world.bob, "subscribe", "both") is True
    assert allowed(world.bob, "publish", "both") is True


# Over the wire ------------------------------------------------------------------

WIRE = [
    ("nobody", "subscribe", "open", True),
    ("nobody", "publish", "news", False),
    ("stan", "publish", "news", True),
    ("alice", "subscribe", "chat.#", True),
    ("alice", "publish", "chat.x.y", True),
    ("bob", "subscribe", "chat.*", False),
    ("bob", "subscribe", "chat.lobby", True),
    ("bob", "subscribe", "team.*", True),
    ("bob", "subscribe", "team.#", False),
    ("dave", "subscribe", "chat.x", False),
    ("alice", "subscribe", "members.x", True),
    ("nobody", "subscribe", "members.x", False),
    ("root", "subscribe", "#", True),
    ("carol", "publish", "secret", True),
    ("carol", "subscribe", "secret", False),
]


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(("who", "action", "name", "expected"), WIRE)
async def test_matrix_over_the_wire(who: str, action: str, name: str, expected: bool) -> None:
    world = await sync_to_async(World)()
    params = {"topic": name} if action == "subscribe" else {"topic": name, "data": 1}
    async with connected(world.user(who)) as peer:
        reply = await peer.call(f"rpc.{action}", params)
    if expected:
        assert reply["result"]["topic"] == name
    else:
        assert reply["error"]["code"] == -32003
        assert reply["error"]["data"] == {"topic": name, "action": action}


@pytest.mark.django_db(transaction=True)
async def test_the_allow_policy_over_the_wire() -> None:
    await sync_to_async(World)()
    with override_settings(WSRPC=wsrpc(TOPIC_DEFAULT_POLICY="allow")):
        async with connected() as peer:
            assert (await peer.result("rpc.subscribe", ["unlisted"]))["topic"] == "unlisted"
            assert (await peer.error("rpc.subscribe", ["secret"]))["code"] == -32003
            assert (await peer.error("rpc.subscribe", ["#"]))["code"] == -32003


# Caching: no query once loaded --------------------------------------------------


def test_deciding_again_costs_no_query(world: World) -> None:
    with CaptureQueriesContext(connection) as first:
        assert allowed(world.alice, "publish", "chat.room") is True
    assert len(first) > 0  # the rows and the user's groups were loaded
    with CaptureQueriesContext(connection) as again:
        for _ in range(50):
            assert allowed(world.alice, "publish", "chat.room") is True
        # Other names and actions are decided from the rows in memory.
        assert allowed(world.alice, "publish", "chat.other") is True
        assert allowed(world.alice, "subscribe", "secret") is False
        assert allowed(None, "publish", "open") is True
    assert again.captured_queries == []


def test_a_new_user_costs_only_their_own_lookup(world: World) -> None:
    assert allowed(world.alice, "publish", "chat.room") is True
    with CaptureQueriesContext(connection) as queries:
        assert allowed(world.bob, "subscribe", "team.x") is True
    assert all("wsrpc_app_topic" not in query["sql"] for query in queries.captured_queries)
    with CaptureQueriesContext(connection) as queries:
        assert allowed(world.bob, "subscribe", "team.y") is True
    assert queries.captured_queries == []


@pytest.fixture
def every_query(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The SQL run on any connection, in any thread."""
    seen: list[str] = []
    lock = threading.Lock()
    original = CursorWrapper._execute_with_wrappers

    def counting(self: CursorWrapper, sql: str, *args: Any, **kwargs: Any) -> Any:
        with lock:
            seen.append(sql)
        return original(self, sql, *args, **kwargs)

    monkeypatch.setattr(CursorWrapper, "_execute_with_wrappers", counting)
    return seen


@pytest.mark.django_db(transaction=True)
async def test_publishing_over_the_wire_queries_only_once(every_query: list[str]) -> None:
    world = await sync_to_async(World)()
    async with connected(world.alice) as peer:
        every_query.clear()
        assert (await peer.result("rpc.publish", ["chat.room", 0]))["topic"] == "chat.room"
        assert every_query != []  # the first decision loaded the rows
        every_query.clear()
        for i in range(1, 30):
            assert (await peer.result("rpc.publish", ["chat.room", i]))["topic"] == "chat.room"
        assert (await peer.result("rpc.subscribe", ["chat.#"]))["topic"] == "chat.#"
        assert (await peer.error("rpc.publish", ["secret", 1]))["code"] == -32003
    assert every_query == []


@pytest.mark.django_db(transaction=True)
async def test_aallowed_answers_from_the_cache_in_the_event_loop(
    every_query: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    world = await sync_to_async(World)()
    assert await aallowed(world.alice, "publish", "chat.room") is True
    assert await aallowed(None, "subscribe", "open") is True

    def no_thread(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("a cached decision needs no thread")

    monkeypatch.setattr(access, "database_sync_to_async", no_thread)
    every_query.clear()
    for _ in range(20):
        assert await aallowed(world.alice, "publish", "chat.room") is True
        assert await aallowed(AnonymousUser(), "subscribe", "open") is True
    assert every_query == []


# Signals clear the caches -------------------------------------------------------

Change = Callable[[World], None]


def _set(obj: Any, **values: Any) -> None:
    for key, value in values.items():
        setattr(obj, key, value)
    obj.save()


def _save_only(obj: Any, **values: Any) -> None:
    for key, value in values.items():
        setattr(obj, key, value)
    obj.save(update_fields=list(values))


@pytest.mark.parametrize(
    ("who", "action", "name", "change", "before"),
    [
        # Topic saved
        ("nobody", "publish", "news", lambda w: _set(Topic.objects.get(name="news"), anonymous_publish=True), False),
        (
            "alice",
            "subscribe",
            "members.x",
            lambda w: _set(Topic.objects.get(name="members.#"), authenticated_subscribe=False),
            True,
        ),
        ("nobody", "subscribe", "fresh", lambda w: make_topic("fresh", anonymous_subscribe=True), False),
        # Topic deleted
        ("nobody", "subscribe", "open", lambda w: Topic.objects.get(name="open").delete(), True),
        ("alice", "subscribe", "chat.x", lambda w: Topic.objects.get(name="chat.#").delete(), True),
        # TopicPermission created, changed, deleted
        (
            "bob",
            "publish",
            "team.a",
            lambda w: grant(Topic.objects.get(name="team.*"), user=w.bob, publish=True),
            False,
        ),
        (
            "bob",
            "subscribe",
            "team.a",
            lambda w: _set(TopicPermission.objects.get(group=w.writers), can_subscribe=False),
            True,
        ),
        ("alice", "publish", "chat.x", lambda w: TopicPermission.objects.get(user=w.alice).delete(), True),
        # Group membership, from either side
        ("alice", "publish", "news", lambda w: w.alice.groups.add(w.staff), False),
        ("alice", "publish", "news", lambda w: w.staff.user_set.add(w.alice), False),
        ("bob", "subscribe", "team.a", lambda w: w.bob.groups.remove(w.writers), True),
        ("bob", "subscribe", "team.a", lambda w: w.writers.user_set.remove(w.bob), True),
        ("bob", "subscribe", "team.a", lambda w: w.bob.groups.clear(), True),
        ("bob", "subscribe", "team.a", lambda w: w.writers.delete(), True),
        # User status
        ("alice", "publish", "secret", lambda w: _set(w.alice, is_superuser=True), False),
        ("root", "publish", "secret", lambda w: _set(w.root, is_superuser=False), True),
        ("alice", "subscribe", "chat.x", lambda w: _set(w.alice, is_active=False), True),
        ("dave", "subscribe", "chat.x", lambda w: _set(w.dave, is_active=True), False),
        ("alice", "subscribe", "chat.x", lambda w: _save_only(w.alice, is_active=False), True),
        ("alice", "publish", "secret", lambda w: _save_only(w.alice, is_superuser=True), False),
    ],
)
def test_a_change_clears_the_cache(
    world: World, who: str, action: Action, name: str, change: Change, before: bool
) -> None:
    user = world.user(who)
    assert allowed(user, action, name) is before
    assert allowed(user, action, name) is before  # now cached
    change(world)
    assert allowed(user, action, name) is not before


def test_a_login_keeps_the_cache(world: World) -> None:
    from django.contrib.auth.models import update_last_login

    assert allowed(world.alice, "publish", "chat.x") is True
    update_last_login(None, world.alice)
    with CaptureQueriesContext(connection) as queries:
        assert allowed(world.alice, "publish", "chat.x") is True
    assert queries.captured_queries == []


# Loads that race with a change --------------------------------------------------


@pytest.fixture
def during(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[str, Callable[[], None]], None]]:
    """``during("rules" | "principal", change)``: run ``change`` right after the next load read the database.

    This is what happens when another thread changes a row while this one loads.
    """

    def arrange(what: str, change: Callable[[], None]) -> None:
        if what == "rules":
            original_rules = queries.load_rules

            def load_rules() -> Rules:
                rules = original_rules()
                monkeypatch.setattr(queries, "load_rules", original_rules)
                change()
                return rules

            monkeypatch.setattr(queries, "load_rules", load_rules)
        else:
            original_principal = queries.load_principal

            def load_principal(pk: Any) -> Principal:
                principal = original_principal(pk)
                monkeypatch.setattr(queries, "load_principal", original_principal)
                change()
                return principal

            monkeypatch.setattr(queries, "load_principal", load_principal)

    yield arrange


def test_rules_changed_while_loading_do_not_stick(world: World, during: Any) -> None:
    during("rules", lambda: _set(Topic.objects.get(name="open"), anonymous_publish=False))
    assert allowed(None, "publish", "open") is True  # decided on what was read, before the change
    assert allowed(None, "publish", "open") is False
    assert allowed(None, "publish", "open") is False


def test_groups_changed_while_loading_the_user_do_not_stick(world: World, during: Any) -> None:
    during("principal", lambda: world.bob.groups.remove(world.writers))
    assert allowed(world.bob, "subscribe", "team.a") is True  # decided on what was read, before the change
    assert allowed(world.bob, "subscribe", "team.a") is False
    assert allowed(world.bob, "subscribe", "team.a") is False


def test_status_changed_while_loading_the_user_does_not_stick(world: World, during: Any) -> None:
    during("principal", lambda: _set(world.alice, is_active=False))
    assert allowed(world.alice, "subscribe", "chat.x") is True
    assert allowed(world.alice, "subscribe", "chat.x") is False


@pytest.mark.django_db(transaction=True)
def test_rows_read_before_a_commit_do_not_stick_after_it(monkeypatch: pytest.MonkeyPatch) -> None:
    """A change is invisible to other connections until it commits; what they load meanwhile is forgotten then."""
    open_topic = make_topic("open", anonymous_publish=True)
    stale = queries.load_rules()  # what another connection reads while the transaction below is open
    with transaction.atomic():
        _set(open_topic, anonymous_publish=False)
        with monkeypatch.context() as patched:
            patched.setattr(queries, "load_rules", lambda: stale)
            assert allowed(None, "publish", "open") is True
    # Committed: every process forgets, this one included, even with no hub running here.
    assert allowed(None, "publish", "open") is False

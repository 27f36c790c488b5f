"""Model changes reach real subscribers: this process saves, a daphne process on Redis delivers.

The test process changes articles in real transactions (``transaction=True``)
and publishes through the Redis layer; the subscribers are WebSocket
clients of a daphne process on the same layer and key prefix. Whether
something was *not* published is proven by a later change arriving first.
"""

from __future__ import annotations

import contextlib
import datetime
import decimal
import json
import threading
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from channels.layers import get_channel_layer
from django.db import connection, transaction
from django.test import Client, override_settings
from websockets.sync.client import ClientConnection, connect
from websockets.typing import Origin

from tests.observed.models import Article, Tag
from tests.observed.serializers import ArticleSerializer
from tests.support.servers import ServerProcess
from wsrpc_app.observers import forget, observe, publish_changes, wait_for_background
from wsrpc_app.pubsub import publishing

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True), pytest.mark.urls("tests.observed.urls")]

WAIT = 5.0
PUBSUB = "channels_redis.pubsub.RedisPubSubChannelLayer"


@pytest.fixture(scope="module")
def prefix() -> str:
    return f"wsrpc-observers-{uuid.uuid4().hex[:12]}"


@pytest.fixture(scope="module")
def server(redis_url: str, prefix: str) -> Iterator[ServerProcess]:
    """Daphne on the Redis pub/sub layer, anyone allowed to watch the articles' topics."""
    env = {"WSRPC_TEST_LAYER": "redis_pubsub", "WSRPC_TEST_LAYER_PREFIX": prefix, "REDIS_URL": redis_url}
    with ServerProcess("daphne", env=env) as process:
        output = process.manage("wsrpc_observer_topics", "--anonymous-subscribe")
        assert "created articles\n" in output and "created articles.*\n" in output, output
        grants = (
            "from wsrpc_app.models import Topic\n"
            "for name in ('tags.*', 'editors.*.articles'):\n"
            "    Topic.objects.create(name=name, anonymous_subscribe=True)"
        )
        process.manage("shell", "-c", grants)
        yield process


@pytest.fixture(autouse=True)
def same_layer(redis_url: str, prefix: str) -> Iterator[None]:
    """This process publishes on the server's layer."""
    config = {"hosts": [redis_url], "prefix": prefix}
    with override_settings(CHANNEL_LAYERS={"default": {"BACKEND": PUBSUB, "CONFIG": config}}):
        layer = get_channel_layer()
        try:
            yield
        finally:
            publishing._background.run(layer.flush())


class Subscriber:
    """A WebSocket client of ``server`` subscribed to ``topics``."""

    def __init__(self, ws: ClientConnection, *topics: str) -> None:
        self.ws = ws
        for n, topic in enumerate(topics):
            self.ws.send(json.dumps({"jsonrpc": "2.0", "method": "rpc.subscribe", "params": [topic], "id": n}))
            reply = json.loads(self.ws.recv(WAIT))
            assert reply.get("result", {}).get("topic") == topic, reply

    def event(self) -> tuple[str, dict[str, Any]]:
        """The next frame, an ``rpc.event``: its topic and data."""
        frame = json.loads(self.ws.recv(WAIT))
        assert frame["method"] == "rpc.event", frame
        return frame["params"]["topic"], frame["params"]["data"]

    def events(self, count: int) -> list[tuple[str, dict[str, Any]]]:
        return [self.event() for _ in range(count)]


@pytest.fixture
def watch(server: ServerProcess) -> Iterator[Any]:
    """A function subscribing a new WebSocket client of ``server`` to topics (all closed after the test)."""
    with contextlib.ExitStack() as stack:

        def watch_(*topics: str) -> Subscriber:
            ws = connect(server.ws_url, origin=Origin(server.origin), proxy=None, open_timeout=WAIT)
            return Subscriber(stack.enter_context(ws), *topics)

        yield watch_


def sentinel() -> Article:
    """A change committed after the ones under test: whatever they published arrives before it."""
    return Article.objects.create(title="sentinel")


def assert_next_is_sentinel(subscriber: Subscriber, article: Article) -> None:
    topic, data = subscriber.event()
    assert (topic, data["action"], data["pk"], data["data"]["title"]) == ("articles", "created", article.pk, "sentinel")


def rest(client: Client, pk: int) -> Any:
    response = client.get(f"/observed/api/articles/{pk}/")
    assert response.status_code == 200
    return response.json()


# Views under ATOMIC_REQUESTS --------------------------------------------------


@pytest.fixture
def atomic_requests(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(connection.settings_dict, "ATOMIC_REQUESTS", True)


@pytest.mark.usefixtures("atomic_requests")
def test_create_update_delete_through_the_rest_api_publish_what_it_answers(watch: Any) -> None:
    listing, client = watch("articles"), Client()
    response = client.post("/observed/api/articles/", {"title": "Hello", "status": "draft", "price": "9.50"})
    assert response.status_code == 201, response.content
    pk = response.json()["id"]
    assert listing.event() == ("articles", {"action": "created", "pk": pk, "data": response.json()})
    one = watch(f"articles.{pk}")

    response = client.patch(
        f"/observed/api/articles/{pk}/",
        {"status": "live", "published": "2026-01-02T03:04:05Z"},
        content_type="application/json",
    )
    assert response.status_code == 200
    updated = {"action": "updated", "pk": pk, "data": rest(client, pk)}
    assert updated["data"]["status"] == "live" and updated["data"]["price"] == "9.50"
    assert listing.event() == ("articles", updated)
    assert one.event() == (f"articles.{pk}", updated)

    last = rest(client, pk)
    assert client.delete(f"/observed/api/articles/{pk}/").status_code == 204
    assert listing.event() == ("articles", {"action": "deleted", "pk": pk, "data": last})
    assert one.event() == (f"articles.{pk}", {"action": "deleted", "pk": pk, "data": last})


@pytest.mark.usefixtures("atomic_requests")
def test_a_view_saving_twice_publishes_once_the_last_state(watch: Any) -> None:
    listing = watch("articles")
    response = Client().get("/observed/create-and-retitle/", {"title": "first", "then": "second"})
    pk = response.json()["id"]
    topic, data = listing.event()
    assert (data["action"], data["pk"], data["data"]["title"]) == ("created", pk, "second")
    assert_next_is_sentinel(listing, sentinel())


@pytest.mark.usefixtures("atomic_requests")
def test_a_view_failing_after_its_save_publishes_nothing(watch: Any) -> None:
    listing = watch("articles")
    client = Client(raise_request_exception=False)
    assert client.get("/observed/create-then-fail/", {"title": "rolled back"}).status_code == 500
    assert not Article.objects.filter(title="rolled back").exists()
    assert_next_is_sentinel(listing, sentinel())


# Transactions -----------------------------------------------------------------


def test_a_rolled_back_transaction_publishes_nothing(watch: Any) -> None:
    article = Article.objects.create(title="kept")
    listing = watch("articles")
    with pytest.raises(RuntimeError), transaction.atomic():
        Article.objects.create(title="never")
        article.title = "changed, then not"
        article.save()
        article.tags.add(Tag.objects.create(name="never"))
        raise RuntimeError
    assert_next_is_sentinel(listing, sentinel())


def test_nothing_is_published_before_the_commit(watch: Any) -> None:
    listing = watch("articles")
    with transaction.atomic():
        article = Article.objects.create(title="pending")
        publishing.publish("articles", "published at once")  # not a model change: not held
        assert listing.event() == ("articles", "published at once")
    topic, data = listing.event()
    assert (data["action"], data["pk"]) == ("created", article.pk)


def test_changes_to_one_row_in_one_transaction_publish_once(watch: Any) -> None:
    article = Article.objects.create(title="v1")
    listing = watch("articles")
    with transaction.atomic():
        for title in ("v2", "v3", "v4"):
            article.title = title
            article.save()
        other = Article.objects.get(pk=article.pk)  # another object, same row
        other.status = "live"
        other.save()
    topic, data = listing.event()
    assert (data["action"], data["pk"], data["data"]["title"], data["data"]["status"]) == (
        "updated",
        article.pk,
        "v4",
        "live",
    )
    assert_next_is_sentinel(listing, sentinel())


def test_created_then_deleted_in_one_transaction_publishes_nothing(watch: Any) -> None:
    listing = watch("articles")
    with transaction.atomic():
        Article.objects.create(title="ephemeral").delete()
    assert_next_is_sentinel(listing, sentinel())


def test_a_change_in_a_rolled_back_savepoint_is_not_published(watch: Any) -> None:
    article = Article.objects.create(title="before")
    untouched, survivor = Article.objects.create(title="untouched"), Article.objects.create(title="survivor")
    listing = watch("articles")
    with transaction.atomic():
        article.title = "kept"
        article.save()
        with pytest.raises(RuntimeError), transaction.atomic():
            article.title = "rolled back"
            article.save()
            Article.objects.create(title="in the savepoint")
            untouched.status = "changed, then not"
            untouched.save()
            survivor.delete()
            raise RuntimeError
        assert article.title == "rolled back"  # in memory: the row is read again after the commit
    topic, data = listing.event()
    assert (data["action"], data["pk"], data["data"]["title"]) == ("updated", article.pk, "kept")
    assert_next_is_sentinel(listing, sentinel())


def test_changes_in_a_released_savepoint_are_published(watch: Any) -> None:
    doomed = Article.objects.create(title="doomed")
    doomed_pk = doomed.pk
    listing = watch("articles")
    with transaction.atomic():
        outer = Article.objects.create(title="outer")
        with transaction.atomic():
            inner = Article.objects.create(title="inner")
            doomed.delete()
    received = [(data["action"], data["pk"]) for _topic, data in listing.events(3)]
    assert received == [("created", outer.pk), ("created", inner.pk), ("deleted", doomed_pk)]


def test_outside_a_transaction_a_save_publishes_at_once(watch: Any) -> None:
    listing = watch("articles")
    assert connection.get_autocommit() and not connection.in_atomic_block
    article = Article.objects.create(title="autocommit")
    topic, data = listing.event()
    assert (data["action"], data["pk"]) == ("created", article.pk)


def test_update_fields_outside_the_observed_fields_publish_nothing(watch: Any) -> None:
    article = Article.objects.create(title="counted")
    listing = watch("articles")
    article.views += 1
    article.save(update_fields=["views"])
    article.title = "renamed"
    article.save(update_fields=["title"])
    topic, data = listing.event()
    assert (data["action"], data["data"]["title"]) == ("updated", "renamed")


# Deletes, many-to-many, bulk ----------------------------------------------------


def test_a_delete_publishes_the_last_known_data_tags_included(watch: Any) -> None:
    article = Article.objects.create(title="tagged")
    article.tags.add(Tag.objects.create(name="red"), Tag.objects.create(name="blue"))
    pk = article.pk
    listing = watch("articles")
    with transaction.atomic():
        Article.objects.filter(pk=pk).delete()  # a queryset delete sends the signals too
    topic, data = listing.event()
    assert (data["action"], data["pk"]) == ("deleted", pk)
    assert sorted(data["data"]["tags"]) == ["blue", "red"] and data["data"]["title"] == "tagged"


def test_many_to_many_changes_from_either_side_publish_updates(watch: Any) -> None:
    article = Article.objects.create(title="m2m")
    green = Tag.objects.create(name="green")
    listing = watch(f"articles.{article.pk}")
    article.tags.add(green)
    assert listing.event()[1]["data"]["tags"] == ["green"]
    green.articles.remove(article)
    assert listing.event()[1]["data"]["tags"] == []
    green.articles.add(article)
    assert listing.event()[1]["data"]["tags"] == ["green"]
    green.articles.clear()
    assert listing.event()[1]["data"]["tags"] == []


def test_publish_changes_covers_what_sends_no_signal(watch: Any) -> None:
    rows = Article.objects.bulk_create([Article(title=f"bulk {n}") for n in range(3)])
    listing = watch("articles")
    Article.objects.filter(title__startswith="bulk").update(status="live")  # no signal, nothing published
    with transaction.atomic():
        queryset = Article.objects.filter(pk__in=[row.pk for row in rows])
        queryset.update(status="archived")
        assert publish_changes(queryset) == 3
        Article.objects.bulk_update([Article(pk=rows[0].pk, title="bulk renamed")], ["title"])
        assert publish_changes(Article.objects.filter(pk=rows[0].pk)) == 1
    received = {data["pk"]: data for _topic, data in listing.events(3)}
    assert set(received) == {row.pk for row in rows}
    assert {data["action"] for data in received.values()} == {"updated"}
    assert {data["data"]["status"] for data in received.values()} == {"archived"}
    assert received[rows[0].pk]["data"]["title"] == "bulk renamed"
    assert_next_is_sentinel(listing, sentinel())


def test_values_are_encoded_as_the_rest_api_encodes_them(watch: Any) -> None:
    listing = watch("articles")
    article = Article.objects.create(
        title="ünïcode ✓",
        price=decimal.Decimal("1234.50"),
        published=datetime.datetime(2026, 5, 6, 7, 8, 9, 123456, tzinfo=datetime.UTC),
    )
    topic, data = listing.event()
    assert data["data"] == rest(Client(), article.pk)
    assert data["data"]["price"] == "1234.50" and data["data"]["published"] == "2026-05-06T07:08:09.123456Z"


# Cost ---------------------------------------------------------------------------


def test_a_change_is_serialized_once_whatever_the_topics_and_subscribers(watch: Any) -> None:
    subscribers = [watch("articles") for _ in range(3)]
    before = ArticleSerializer.renders
    article = Article.objects.create(title="once")
    by_id = [watch(f"articles.{article.pk}") for _ in range(2)]
    article.title = "once more"
    article.save()
    assert ArticleSerializer.renders - before == 2  # one per change: created, then updated
    for subscriber in subscribers:
        assert [data["action"] for _topic, data in subscriber.events(2)] == ["created", "updated"]
    for subscriber in by_id:
        assert subscriber.event()[1]["data"]["title"] == "once more"


def test_a_background_observer_publishes_after_the_commit_has_returned(watch: Any) -> None:
    gate, serialized_on = threading.Event(), []

    def slow(tag: Tag) -> dict[str, str]:
        serialized_on.append(threading.current_thread().name)
        assert gate.wait(WAIT)
        return {"name": tag.name}

    observer = observe(Tag, topic="tags.{name}", serializer=slow, background=True)
    try:
        subscriber = watch("tags.slow")
        with transaction.atomic():
            tag = Tag.objects.create(name="slow")
            tag.save()
        # The commit returned while the serializer waits on the gate, in another thread.
        assert not gate.is_set()
        gate.set()
        assert subscriber.event() == ("tags.slow", {"action": "created", "pk": tag.pk, "data": {"name": "slow"}})
        assert serialized_on == ["wsrpc-observers"]
        Tag.objects.filter(pk=tag.pk).delete()  # serialized now, in this thread: the row is going
        assert wait_for_background()
        assert subscriber.event() == ("tags.slow", {"action": "deleted", "pk": tag.pk, "data": {"name": "slow"}})
        assert serialized_on == ["wsrpc-observers", threading.current_thread().name]
    finally:
        gate.set()
        forget(observer)


def test_an_article_changing_editor_leaves_one_list_and_joins_the_other(watch: Any) -> None:
    from django.contrib.auth.models import User

    ann, bob = User.objects.create(username="ann"), User.objects.create(username="bob")
    observer = observe(Article, topic="editors.{editor_id}.articles", serializer=lambda row: {"title": row.title})
    try:
        article = Article.objects.create(title="moving", editor=ann)
        anns, bobs = watch(f"editors.{ann.pk}.articles"), watch(f"editors.{bob.pk}.articles")
        loaded = Article.objects.get(pk=article.pk)  # as a view would load it
        with transaction.atomic():
            loaded.editor = bob
            loaded.save()
            loaded.title = "moved"
            loaded.save()
        data = {"title": "moved"}
        assert anns.event() == (f"editors.{ann.pk}.articles", {"action": "deleted", "pk": article.pk, "data": data})
        assert bobs.event() == (f"editors.{bob.pk}.articles", {"action": "created", "pk": article.pk, "data": data})
        loaded.title = "settled"
        loaded.save()
        settled = {"action": "updated", "pk": article.pk, "data": {"title": "settled"}}
        assert bobs.event() == (f"editors.{bob.pk}.articles", settled)
        Article.objects.create(title="sentinel", editor=ann)
        assert anns.event()[1]["data"] == {"title": "sentinel"}  # nothing came before it
    finally:
        forget(observer)

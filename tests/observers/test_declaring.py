"""Declaring observers: observe() and its decorator form, WSRPC["OBSERVERS"], the E014 check, the topics command.

These run in process on the in-memory layer: a change saved in a worker
thread reaches an ``RpcTestClient`` subscribed through the real consumer.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from typing import Any

import pytest
from asgiref.sync import sync_to_async
from django.core.checks import run_checks
from django.core.management import CommandError, call_command
from django.test import override_settings
from rest_framework import serializers

from demo_project.models import TodoItem
from tests.observed.models import Article, Tag
from tests.observed.observers import articles
from wsrpc_app.errors import RpcError
from wsrpc_app.models import Topic
from wsrpc_app.observers import ModelObserver, forget, observe, observers
from wsrpc_app.testing import RpcTestClient

ENTRY = {"model": "observed.Tag", "topic": "tags.{name}", "serializer": "tests.observers.test_declaring.tag_data"}


def tag_data(tag: Tag) -> dict[str, Any]:
    return {"name": tag.name, "shout": tag.name.upper()}


@pytest.fixture
def declared() -> Iterator[list[ModelObserver]]:
    """Observers a test declares with observe(), forgotten after it."""
    made: list[ModelObserver] = []
    yield made
    for observer in made:
        forget(observer)


# observe() ------------------------------------------------------------------------


def test_observe_returns_the_observer_in_force(declared: list[ModelObserver]) -> None:
    observer = observe(Tag, topic="tags", also=["tags.{pk}", "tags"], actions=["created"])
    declared.append(observer)
    assert observer in observers()
    assert [t.template for t in observer.templates] == ["tags", "tags.{pk}", "tags"]
    assert observer.topics_for(Tag(pk=3, name="x")) == ["tags", "tags.3"]
    assert observer.actions == {"created"}


def test_observe_takes_a_model_label(declared: list[ModelObserver]) -> None:
    declared.append(observe("observed.Tag", topic="tags"))
    assert declared[0].model is Tag


def test_as_a_decorator_it_takes_the_serializer(declared: list[ModelObserver]) -> None:
    observer = observe(Tag, topic="tags")
    declared.append(observer)

    @observer
    class TagSerializer(serializers.ModelSerializer):
        class Meta:
            model = Tag
            fields = ["name"]

    assert observer.serializer is TagSerializer
    assert observer.encode_data(Tag(pk=1, name="red")) == b'{"name":"red"}'

    @observe(Tag, topic="tags")
    def shout(tag: Tag) -> str:
        return tag.name.upper()

    declared.append(next(o for o in observers() if o.serializer is shout))
    assert shout(Tag(name="a")) == "A"  # returned unchanged


@pytest.mark.django_db
def test_without_a_serializer_every_field_is_published(declared: list[ModelObserver]) -> None:
    declared.append(observe(Article, topic="all"))
    article = Article.objects.create(pk=5, title="t")
    article.tags.add(Tag.objects.create(pk=9, name="x"))
    assert declared[0].encode_data(article) == (
        b'{"id":5,"title":"t","status":"draft","price":"0.00","published":null,"views":0,"editor":null,"tags":[9]}'
    )


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"topic": "a..b"}, "cannot make a valid topic"),
        ({"topic": "a.{}"}, "name each field"),
        ({"topic": []}, "at least one topic"),
        ({"topic": "a", "actions": ["saved"]}, "actions are some of"),
        ({"topic": "a", "fields": ["nope"]}, "has no field nope"),
        ({"topic": "a", "m2m": ["title"]}, "has no many-to-many field title"),
        ({"topic": "a", "serializer": 42}, "a serializer is"),
        ({"topic": "a", "serializer": dict}, "a serializer is"),
        ({"topic": lambda row: ["a"], "also": "b"}, "not with also="),
    ],
)
def test_bad_arguments_are_refused_at_once(arguments: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        observe(Article, **arguments)


def test_only_models_are_observed() -> None:
    with pytest.raises(ValueError, match="no model 'observed.Nope'"):
        observe("observed.Nope", topic="a")
    with pytest.raises(ValueError, match="observe a Django model class"):
        observe(dict, topic="a")  # type: ignore[arg-type]


def test_update_fields_outside_fields_are_not_published() -> None:
    assert articles.publishes_update(None)
    assert articles.publishes_update(["title", "views"])
    assert not articles.publishes_update(["views"])
    assert not articles.publishes_update([])


def test_a_foreign_key_in_fields_is_known_by_either_name(declared: list[ModelObserver]) -> None:
    declared.append(observe(Article, topic="a", fields=["editor"]))
    assert declared[0].publishes_update(["editor_id"]) and declared[0].publishes_update(["editor"])
    declared.append(observe(Article, topic="a", fields=["editor_id"]))
    assert declared[1].publishes_update(["editor"]) and not declared[1].publishes_update(["title"])


# Live, in process -------------------------------------------------------------------


async def subscribed(*topics: str) -> RpcTestClient:
    client = RpcTestClient()
    await client.connect()
    for topic in topics:
        await client.subscribe(topic)
    return client


@pytest.mark.django_db(transaction=True)
@pytest.mark.urls("tests.observed.urls")  # the articles' hyperlinks
async def test_observed_topics_are_denied_until_their_topic_rows_grant_them() -> None:
    await sync_to_async(Topic.objects.filter(name__startswith="articles").delete)()
    client = RpcTestClient()
    await client.connect()
    try:
        with pytest.raises(RpcError, match="Permission denied"):
            await client.subscribe("articles")
        out = io.StringIO()
        await sync_to_async(call_command)("wsrpc_observer_topics", "--authenticated-subscribe", stdout=out)
        assert "created articles\n" in out.getvalue() and "created articles.*\n" in out.getvalue()
        row = await Topic.objects.aget(name="articles.*")
        assert (row.authenticated_subscribe, row.anonymous_subscribe) == (True, False)
        assert "observed.Article" in row.description
        with pytest.raises(RpcError, match="Permission denied"):  # anonymous: still not
            await client.subscribe("articles")
        row.anonymous_subscribe = True
        await row.asave()  # as the admin would
        await client.subscribe("articles.7")
        tag = await Tag.objects.acreate(name="live")
        article = await sync_to_async(Article.objects.create)(pk=7, title="live")
        await sync_to_async(article.tags.add)(tag)
        event = await client.next_event()
        assert event["topic"] == "articles.7" and event["data"]["action"] == "created"
        event = await client.next_event()
        assert event["data"]["action"] == "updated" and event["data"]["data"]["tags"] == ["live"]
    finally:
        await client.close()


@pytest.mark.django_db(transaction=True)
async def test_the_demo_to_do_list_is_observed() -> None:
    await Topic.objects.acreate(name="todos", anonymous_subscribe=True)  # as the demo's data has it
    client = await subscribed("todos")
    try:
        item = await sync_to_async(TodoItem.objects.create)(title="Buy milk")
        event = await client.next_event()
        assert event["data"]["action"] == "created" and event["data"]["pk"] == item.pk
        assert event["data"]["data"]["title"] == "Buy milk" and event["data"]["data"]["done"] is False
    finally:
        await client.close()


# WSRPC["OBSERVERS"] -------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
async def test_observers_from_settings_publish_and_stop_with_the_setting() -> None:
    await Topic.objects.acreate(name="tags.*", anonymous_subscribe=True)
    client = await subscribed("tags.red", "tags.blue")
    try:
        with override_settings(WSRPC={"OBSERVERS": [ENTRY]}):
            assert [o.label for o in observers() if o.label == "observed.Tag"] == ["observed.Tag"]
            await Tag.objects.acreate(name="red")
            event = await client.next_event()
        assert event["topic"] == "tags.red"
        assert event["data"]["data"] == {"name": "red", "shout": "RED"}
        await Tag.objects.acreate(name="blue")
        assert await client.no_event()
    finally:
        await client.close()


@pytest.mark.parametrize(
    ("entries", "message"),
    [
        ({"model": "observed.Tag"}, "WSRPC['OBSERVERS'] must be a list."),
        (["observed.Tag"], "WSRPC['OBSERVERS'][0]: an entry is a dict of observe()'s arguments, not 'observed.Tag'."),
        ([{"model": "observed.Tag"}], "WSRPC['OBSERVERS'][0]: an entry needs a model and a topic."),
        ([{**ENTRY, "topics": "x"}], "WSRPC['OBSERVERS'][0]: unknown keys topics (known: actions, also, background"),
        ([{**ENTRY, "model": "observed.Nope"}], "WSRPC['OBSERVERS'][0]: no model 'observed.Nope'"),
        ([{**ENTRY, "serializer": "tests.nope.f"}], "WSRPC['OBSERVERS'][0]: serializer 'tests.nope.f' does not import"),
        ([ENTRY, {**ENTRY, "topic": "a b"}], "WSRPC['OBSERVERS'][1]: topic template 'a b' cannot make a valid topic"),
    ],
)
def test_e014_bad_observers_setting(entries: Any, message: str) -> None:
    with override_settings(WSRPC={"OBSERVERS": entries}):
        messages = [m for m in run_checks() if m.id and m.id.startswith("wsrpc_app.")]
        assert [m.id for m in messages] == ["wsrpc_app.E014"]
        assert messages[0].msg.startswith(message) and "README" in (messages[0].hint or "")
        valid = [entry for entry in entries if entry is ENTRY] if isinstance(entries, list) else []
        assert len([o for o in observers() if o.label == "observed.Tag"]) == len(valid)  # left out, not raised


def test_good_observers_setting_passes() -> None:
    with override_settings(WSRPC={"OBSERVERS": [ENTRY, {"model": "observed.Article", "topic": ["a", "b.{pk}"]}]}):
        assert [m.id for m in run_checks() if m.id and m.id.startswith("wsrpc_app.")] == []


# The topics command -------------------------------------------------------------------


@pytest.mark.django_db
def test_the_topics_command_leaves_existing_rows_and_can_dry_run() -> None:
    Topic.objects.filter(name__startswith="articles").delete()
    Topic.objects.create(name="articles", description="mine")
    out = io.StringIO()
    call_command("wsrpc_observer_topics", "--dry-run", stdout=out)
    assert "exists  articles\n" in out.getvalue() and "would create articles.*\n" in out.getvalue()
    assert not Topic.objects.filter(name="articles.*").exists()
    call_command("wsrpc_observer_topics", "--history-size", "10", stdout=out)
    assert Topic.objects.get(name="articles").description == "mine"
    assert Topic.objects.get(name="articles.*").history_size == 10
    Topic.objects.filter(name="articles.*").delete()
    with pytest.raises(CommandError, match=r"articles\.\*: history_size Ensure this value is less than or equal"):
        call_command("wsrpc_observer_topics", "--history-size", "100000000", stdout=out)


@pytest.mark.django_db
def test_the_topics_command_skips_observers_whose_function_names_topics(declared: list[ModelObserver]) -> None:
    declared.append(observe(Tag, topic=lambda tag: [f"tags.{tag.name}"]))
    out = io.StringIO()
    call_command("wsrpc_observer_topics", stdout=out)
    assert "skipped observed.Tag: a function names its topics" in out.getvalue()


# Per-row permissions: a topic rule in code --------------------------------------------


def live_articles_only(user: Any, action: str, topic: str) -> bool | None:
    """Anyone may watch ``articles.<pk>`` of a live article, no one a draft's; other topics: the rows decide."""
    parts = topic.split(".")
    if action != "subscribe" or parts[0] != "articles" or len(parts) != 2 or not parts[1].isdigit():
        return None
    return Article.objects.filter(pk=int(parts[1]), status="live").exists()


@pytest.mark.django_db(transaction=True)
@pytest.mark.urls("tests.observed.urls")
async def test_a_topic_rule_decides_who_watches_which_row() -> None:
    live = await Article.objects.acreate(title="live", status="live")
    draft = await Article.objects.acreate(title="draft")
    with override_settings(WSRPC={"TOPIC_RULES": ["tests.observers.test_declaring.live_articles_only"]}):
        client = await subscribed(f"articles.{live.pk}")
        try:
            with pytest.raises(RpcError, match="Permission denied"):
                await client.subscribe(f"articles.{draft.pk}")
            live.title = "still live"
            await sync_to_async(live.save)()
            event = await client.next_event()
            assert (event["topic"], event["data"]["data"]["title"]) == (f"articles.{live.pk}", "still live")
        finally:
            await client.close()


# W005: observed topics no row touches --------------------------------------------------


def w005_for_articles() -> list[str]:
    return [m.msg for m in run_checks(databases=["default"]) if m.id == "wsrpc_app.W005" and m.obj is Article]


@pytest.mark.django_db
def test_w005_observed_topics_no_row_touches() -> None:
    Topic.objects.filter(name__startswith="articles").delete()
    assert w005_for_articles() == [
        "No Topic row touches 'articles', where the changes of observed.Article are published: "
        "only superusers may subscribe to them.",
        "No Topic row touches 'articles.*', where the changes of observed.Article are published: "
        "only superusers may subscribe to them.",
    ]
    Topic.objects.create(name="articles.7")  # touches articles.*: someone may watch some of them
    Topic.objects.create(name="#")  # touches everything
    assert w005_for_articles() == []


@pytest.mark.django_db
def test_w005_not_when_rules_or_the_policy_may_grant() -> None:
    Topic.objects.filter(name__startswith="articles").delete()
    with override_settings(WSRPC={"TOPIC_DEFAULT_POLICY": "allow"}):
        assert w005_for_articles() == []
    with override_settings(WSRPC={"TOPIC_RULES": ["tests.observers.test_declaring.live_articles_only"]}):
        assert w005_for_articles() == []
    assert [m.id for m in run_checks() if m.id == "wsrpc_app.W005"] == []  # only with --database

"""Rows moving between topics: which templates can keep a row's topics, and where each action goes."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from django.contrib.auth.models import User

from tests.observed.models import Article
from wsrpc_app.observers import ModelObserver, forget, observe
from wsrpc_app.observers.moves import placements, remembered


@pytest.fixture
def by_editor() -> Iterator[ModelObserver]:
    observer = observe(Article, topic="editors.{editor_id}.articles", also="articles.{pk}")
    yield observer
    forget(observer)


@pytest.mark.parametrize(
    ("topic", "fields"),
    [
        ("articles", frozenset()),
        ("articles.{pk}", frozenset({"id"})),
        ("articles.{id}.{status}", frozenset({"id", "status"})),
        ("editors.{editor_id}.articles", frozenset({"editor_id"})),
        ("editors.{editor}.articles", None),  # the related object: a query per loaded row
        ("editors.{editor.username}.articles", None),
    ],
)
def test_only_the_rows_own_fields_are_kept(topic: str, fields: frozenset[str] | None) -> None:
    observer = ModelObserver(Article, topics=[topic])
    assert observer.topic_fields == fields
    assert ModelObserver(Article, topics=lambda row: ["x"]).topic_fields is None


def test_an_update_that_moves_a_row_is_deleted_where_it_left_and_created_where_it_came() -> None:
    assert placements("updated", ["e.2", "a.1"], ["e.1", "a.1"]) == [
        ("e.2", "created"),
        ("a.1", "updated"),
        ("e.1", "deleted"),
    ]
    assert placements("updated", ["e.1"], None) == [("e.1", "updated")]
    assert placements("created", ["e.1"], ["e.0"]) == [("e.1", "created")]


@pytest.mark.django_db
def test_a_row_keeps_its_topics_as_loaded_and_as_last_saved(by_editor: ModelObserver) -> None:
    ann, bob = User.objects.create(username="ann"), User.objects.create(username="bob")
    article = Article.objects.create(title="t", editor=ann)
    assert remembered(by_editor, article) == [f"editors.{ann.pk}.articles", f"articles.{article.pk}"]
    loaded = Article.objects.get(pk=article.pk)
    loaded.editor = bob
    assert remembered(by_editor, loaded) == [f"editors.{ann.pk}.articles", f"articles.{article.pk}"]
    loaded.save()
    assert remembered(by_editor, loaded) == [f"editors.{bob.pk}.articles", f"articles.{article.pk}"]
    assert remembered(by_editor, Article.objects.only("title").get(pk=article.pk)) is None  # deferred

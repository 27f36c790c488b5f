"""Topic templates, with no database: formatting with an instance, and the pattern that covers them."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from wsrpc_app.errors import NoSuchTopic
from wsrpc_app.observers import TopicTemplate


@pytest.mark.parametrize(
    ("template", "pattern"),
    [
        ("orders", "orders"),
        ("orders.{pk}", "orders.*"),
        ("users.{owner_id}.orders", "users.*.orders"),
        ("users.{owner.username}.orders.{pk}", "users.*.orders.*"),
        ("order-{pk}.items", "*.items"),
        ("shop.{region}-{pk}", "shop.*"),
    ],
)
def test_the_pattern_puts_a_star_for_each_segment_with_a_field(template: str, pattern: str) -> None:
    assert TopicTemplate(template).pattern == pattern


def test_fields_are_the_instance_attributes() -> None:
    owner = SimpleNamespace(username="ann")
    row = SimpleNamespace(pk=42, owner=owner, owner_id=7, region="eu")
    assert TopicTemplate("users.{owner.username}.orders.{pk}").format(row) == "users.ann.orders.42"
    assert TopicTemplate("users.{owner_id}").format(row) == "users.7"
    assert TopicTemplate("shop.{region}-{pk}").format(row) == "shop.eu-42"


def test_a_value_that_makes_no_topic_is_refused_when_formatted() -> None:
    with pytest.raises(NoSuchTopic):
        TopicTemplate("users.{name}").format(SimpleNamespace(name="Ann Smith"))
    with pytest.raises(NoSuchTopic):
        TopicTemplate("users.{name}").format(SimpleNamespace(name="a.b"))  # nor add segments


def test_a_missing_attribute_names_itself() -> None:
    with pytest.raises(KeyError, match="colour"):
        TopicTemplate("things.{colour}").format(SimpleNamespace())


@pytest.mark.parametrize(
    ("template", "message"),
    [
        ("a..b", "empty segment"),
        ("a.b.", "empty segment"),
        ("a b.{pk}", "may hold only letters"),
        ("a.*", "wildcard"),
        ("a.{}", "name each field"),
        ("a.{0}", "name each field"),
        ("a.{pk", "expected '}'"),
    ],
)
def test_a_template_that_cannot_make_a_topic_is_refused(template: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        TopicTemplate(template)

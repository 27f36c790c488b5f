"""The HTTP side of topics: POST wsrpc/publish/, GET wsrpc/topics/, and the Topic admin."""

from __future__ import annotations

import html
from typing import Any

import pytest
from asgiref.sync import sync_to_async
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.test import Client
from django.urls import reverse
from rest_framework.authtoken.models import Token

from tests.support.pubsub import connected, event, fresh_permissions, grant, make_topic  # noqa: F401
from wsrpc_app.models import Topic, TopicPermission

User = get_user_model()


def setup_rows() -> dict[str, Any]:
    """The demo's rules (``chat.lobby`` open, ``news`` read by all and written by staff), and more."""
    Topic.objects.all().delete()
    staff = Group.objects.get_or_create(name="staff")[0]
    stan = User.objects.create_user("stan", password="pw")
    stan.groups.add(staff)
    make_topic("chat.lobby", description="The open chat room", anonymous_subscribe=True, anonymous_publish=True)
    news = make_topic("news", description="Announcements", anonymous_subscribe=True, history_size=20, history_ttl=3600)
    grant(news, group=staff, subscribe=True, publish=True)
    make_topic("members.#", authenticated_subscribe=True)
    make_topic("secret")
    alice = User.objects.create_user("alice", password="pw")
    grant(make_topic("alerts.*"), user=alice, subscribe=True)
    return {
        "stan": stan,
        "alice": alice,
        "root": User.objects.create_superuser("root", password="pw"),
        "staff": staff,
    }


@pytest.fixture
def rows(db: None) -> dict[str, Any]:
    return setup_rows()


def publish_url() -> str:
    return reverse("wsrpc:publish")


def post(client: Client, body: Any, **extra: Any) -> Any:
    return client.post(publish_url(), data=body, content_type="application/json", **extra)


# POST wsrpc/publish/ ----------------------------------------------------------------


def test_urls() -> None:
    assert publish_url() == "/wsrpc/publish/"
    assert reverse("wsrpc:topics") == "/wsrpc/topics/"


def test_anyone_may_publish_where_anyone_may(rows: dict[str, Any], client: Client) -> None:
    response = post(client, {"topic": "chat.lobby", "data": {"text": "hi"}})
    assert response.status_code == 200
    assert response.json() == {"topic": "chat.lobby"}


def test_forbidden_is_403(rows: dict[str, Any], client: Client) -> None:
    response = post(client, {"topic": "news", "data": 1})
    assert response.status_code == 403
    assert response.json() == {"detail": "You may not publish to 'news'."}
    client.force_login(rows["alice"])
    assert post(client, {"topic": "news", "data": 1}).status_code == 403
    assert post(client, {"topic": "unlisted", "data": 1}).status_code == 403


def test_session_auth(rows: dict[str, Any], client: Client) -> None:
    client.force_login(rows["stan"])
    response = post(client, {"topic": "news", "data": "from staff"})
    assert response.status_code == 200
    answer = response.json()
    assert set(answer) == {"topic", "offset", "epoch"}, "news keeps history"
    assert answer["topic"] == "news" and answer["offset"] >= 1


def test_session_auth_needs_the_csrf_token(rows: dict[str, Any]) -> None:
    client = Client(enforce_csrf_checks=True)
    client.force_login(rows["stan"])
    response = post(client, {"topic": "news", "data": 1})
    assert response.status_code == 403
    assert "CSRF" in response.json()["detail"]


def test_token_auth(rows: dict[str, Any], client: Client) -> None:
    token = Token.objects.create(user=rows["stan"])
    response = post(client, {"topic": "news", "data": 1}, HTTP_AUTHORIZATION=f"Token {token.key}")
    assert response.status_code == 200
    other = Token.objects.create(user=rows["alice"])
    assert post(client, {"topic": "news"}, HTTP_AUTHORIZATION=f"Token {other.key}").status_code == 403


def test_an_invalid_token_is_refused_not_anonymous(rows: dict[str, Any], client: Client) -> None:
    response = post(client, {"topic": "chat.lobby", "data": 1}, HTTP_AUTHORIZATION="Token not-a-token")
    # 403 rather than 401 because session authentication comes first (DRF sends 401 only with a WWW-Authenticate).
    assert response.status_code in (401, 403)
    assert response.json() == {"detail": "Invalid token."}


def test_superusers_may_publish_anywhere(rows: dict[str, Any], client: Client) -> None:
    client.force_login(rows["root"])
    assert post(client, {"topic": "secret"}).status_code == 200
    assert post(client, {"topic": "anything.at.all"}).status_code == 200


@pytest.mark.parametrize(
    ("topic", "reason"),
    [
        ("chat.*", "wildcard '*' is not allowed here: publish to a concrete topic"),
        ("chat.#", "wildcard '#' is not allowed here: publish to a concrete topic"),
        ("chat..lobby", "empty segment (two dots in a row, or a dot at an end)"),
        ("chat lobby", "segment 'chat lobby' may hold only letters, digits, '-' and '_'"),
        (" news", "segment ' news' may hold only letters, digits, '-' and '_'"),
    ],
)
def test_an_invalid_topic_is_400_with_the_reason(rows: dict[str, Any], client: Client, topic: str, reason: str) -> None:
    client.force_login(rows["root"])  # validity comes first, whoever asks
    response = post(client, {"topic": topic, "data": 1})
    assert response.status_code == 400
    assert response.json() == {"topic": [reason]}


@pytest.mark.parametrize(
    "body", [{}, {"data": 1}, {"topic": ""}, {"topic": None}, {"topic": "x" * 201}, {"topic": ["news"]}]
)
def test_a_missing_or_malformed_topic_is_400(rows: dict[str, Any], client: Client, body: Any) -> None:
    response = post(client, body)
    assert response.status_code == 400
    assert "topic" in response.json()


def test_malformed_json_is_400(rows: dict[str, Any], client: Client) -> None:
    assert post(client, "{not json").status_code == 400


@pytest.mark.django_db(transaction=True)
async def test_the_published_event_reaches_a_subscriber() -> None:
    people = await sync_to_async(setup_rows)()
    token = await Token.objects.acreate(user=people["stan"])

    def post_as_staff(body: Any) -> Any:
        return post(Client(), body, HTTP_AUTHORIZATION=f"Token {token.key}")

    async with connected() as peer:
        subscribed = await peer.result("rpc.subscribe", ["news"])
        assert subscribed["topic"] == "news"
        # news keeps history: its events carry their offsets.
        at = {"epoch": subscribed["epoch"], "offset": subscribed["offset"] + 1}
        response = await sync_to_async(post_as_staff)({"topic": "news", "data": {"headline": "hello"}})
        assert response.status_code == 200
        assert (await peer.notification())["params"] == {**event("news", {"headline": "hello"})["params"], **at}
        response = await sync_to_async(post_as_staff)({"topic": "news"})
        at["offset"] += 1
        assert (await peer.notification())["params"] == {**event("news", None)["params"], **at}
        # A refused publish sends nothing.
        response = await sync_to_async(post)(Client(), {"topic": "news", "data": "anonymous"})
        assert response.status_code == 403
        assert await peer.nothing_more()


# GET wsrpc/topics/ ----------------------------------------------------------------


def topics_of(client: Client) -> dict[str, dict[str, Any]]:
    response = client.get(reverse("wsrpc:topics"))
    assert response.status_code == 200
    return {entry["name"]: entry for entry in response.json()}


def test_topics_for_anonymous(rows: dict[str, Any], client: Client) -> None:
    response = client.get(reverse("wsrpc:topics"))
    assert response.json() == [
        {
            "name": "chat.lobby",
            "description": "The open chat room",
            "pattern": False,
            "subscribe": True,
            "publish": True,
            "history": None,
            "presence": None,
        },
        {
            "name": "news",
            "description": "Announcements",
            "pattern": False,
            "subscribe": True,
            "publish": False,
            "history": {"size": 20, "ttl": 3600},
            "presence": None,
        },
    ]


def test_topics_for_a_logged_in_user(rows: dict[str, Any], client: Client) -> None:
    client.force_login(rows["alice"])
    topics = topics_of(client)
    assert set(topics) == {"alerts.*", "chat.lobby", "members.#", "news"}
    assert topics["members.#"] == {
        "name": "members.#",
        "description": "",
        "pattern": True,
        "subscribe": True,
        "publish": False,  # a pattern is never published to
        "history": None,
        "presence": None,
    }
    assert (topics["alerts.*"]["subscribe"], topics["alerts.*"]["publish"]) == (True, False)
    assert topics["news"]["publish"] is False


def test_topics_for_a_group_member_by_token(rows: dict[str, Any], client: Client) -> None:
    token = Token.objects.create(user=rows["stan"])
    response = client.get(reverse("wsrpc:topics"), HTTP_AUTHORIZATION=f"Token {token.key}")
    topics = {entry["name"]: entry for entry in response.json()}
    assert set(topics) == {"chat.lobby", "members.#", "news"}
    assert topics["news"]["publish"] is True


def test_topics_for_a_superuser(rows: dict[str, Any], client: Client) -> None:
    client.force_login(rows["root"])
    topics = topics_of(client)
    assert set(topics) == {"alerts.*", "chat.lobby", "members.#", "news", "secret"}
    assert topics["secret"]["subscribe"] and topics["secret"]["publish"]


def test_topics_follow_a_change(rows: dict[str, Any], client: Client) -> None:
    assert "secret" not in topics_of(client)
    topic = Topic.objects.get(name="secret")
    topic.anonymous_subscribe = True
    topic.save()
    assert topics_of(client)["secret"]["subscribe"] is True


# Admin ----------------------------------------------------------------------------


@pytest.fixture
def admin(rows: dict[str, Any], client: Client) -> Client:
    client.force_login(rows["root"])
    return client


def changelist(client: Client, query: str = "") -> str:
    response = client.get(reverse("admin:wsrpc_app_topic_changelist") + query)
    assert response.status_code == 200
    return response.content.decode()


def test_the_topic_changelist_renders(admin: Client) -> None:
    page = changelist(admin)
    for name in ("chat.lobby", "news", "members.#", "secret", "alerts.*"):
        assert name in page
    assert "5 topics" in page


def test_the_changelist_searches_names_descriptions_users_and_groups(admin: Client) -> None:
    page = changelist(admin, "?q=lobby")
    assert "chat.lobby" in page and "secret" not in page
    page = changelist(admin, "?q=Announcements")
    assert ">news<" in page and "chat.lobby" not in page
    page = changelist(admin, "?q=alice")
    assert "alerts.*" in page and "chat.lobby" not in page
    page = changelist(admin, "?q=staff")
    assert ">news<" in page and "chat.lobby" not in page


def test_a_search_matching_several_grants_lists_the_topic_once(admin: Client, rows: dict[str, Any]) -> None:
    topic = Topic.objects.get(name="secret")
    grant(topic, user=User.objects.create_user("alicia"), publish=True)
    grant(topic, user=User.objects.create_user("alison"), publish=True)
    page = changelist(admin, "?q=ali")
    assert page.count(">secret<") == 1
    assert "2 results" in page  # alerts.* (alice) and secret (alicia, alison)


def test_the_changelist_filters(admin: Client) -> None:
    page = changelist(admin, "?anonymous_publish__exact=1")
    assert "chat.lobby" in page and ">news<" not in page
    page = changelist(admin, "?authenticated_subscribe__exact=1")
    assert "members.#" in page and "chat.lobby" not in page


def test_the_permission_changelist_renders(admin: Client) -> None:
    response = admin.get(reverse("admin:wsrpc_app_topicpermission_changelist") + "?q=news")
    assert response.status_code == 200
    # The rows the changelist shows (Django 5 also writes each row's name into its checkbox's label; 4.2 does not).
    assert [str(row) for row in response.context["cl"].result_list] == ["staff on news"]


def inline(prefix: str = "permissions", initial: int = 0, **rows: dict[str, Any]) -> dict[str, Any]:
    data: dict[str, Any] = {
        f"{prefix}-TOTAL_FORMS": str(len(rows)),
        f"{prefix}-INITIAL_FORMS": str(initial),
        f"{prefix}-MIN_NUM_FORMS": "0",
        f"{prefix}-MAX_NUM_FORMS": "1000",
    }
    for index, fields in rows.items():
        for key, value in fields.items():
            data[f"{prefix}-{index.lstrip('_')}-{key}"] = value
    return data


def add_topic(client: Client, name: str, **rows: dict[str, Any]) -> Any:
    data = {
        "name": name,
        "description": "added in the admin",
        "authenticated_subscribe": "on",
        "history_size": "0",
        "history_ttl": "300",
        **inline(**rows),
    }
    return client.post(reverse("admin:wsrpc_app_topic_add"), data)


def test_adding_a_topic_with_a_grant_in_the_admin(admin: Client, rows: dict[str, Any]) -> None:
    response = add_topic(admin, "sensors.*.temp", _0={"user": str(rows["alice"].pk), "can_publish": "on"})
    assert response.status_code == 302, response.content.decode()[:2000]
    topic = Topic.objects.get(name="sensors.*.temp")
    assert topic.description == "added in the admin"
    assert topic.authenticated_subscribe and not topic.anonymous_subscribe
    [permission] = topic.permissions.all()
    assert (permission.user, permission.group, permission.can_subscribe, permission.can_publish) == (
        rows["alice"],
        None,
        False,
        True,
    )


def test_a_grant_added_in_the_admin_takes_effect(admin: Client, rows: dict[str, Any]) -> None:
    from wsrpc_app.acl.access import allowed

    assert allowed(rows["alice"], "publish", "sensors.kitchen.temp") is False
    response = add_topic(admin, "sensors.*.temp", _0={"group": str(rows["staff"].pk), "can_publish": "on"})
    assert response.status_code == 302
    rows["staff"].user_set.add(rows["alice"])
    assert allowed(rows["alice"], "publish", "sensors.kitchen.temp") is True


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("chat..lobby", "empty segment (two dots in a row, or a dot at an end)"),
        ("chat.lo*", "segment 'lo*' may hold only letters, digits, '-' and '_', or be exactly '*' or '#'"),
        ("news room", "segment 'news room' may hold only letters, digits, '-' and '_', or be exactly '*' or '#'"),
    ],
)
def test_an_invalid_name_is_refused_with_a_clear_message(admin: Client, name: str, reason: str) -> None:
    response = add_topic(admin, name)
    assert response.status_code == 200
    assert f"Not a valid topic or pattern: {reason}." in html.unescape(response.content.decode())
    assert not Topic.objects.filter(name=name).exists()


def test_a_name_over_200_characters_is_refused(admin: Client) -> None:
    response = add_topic(admin, "x" * 201)
    assert response.status_code == 200
    assert not Topic.objects.filter(name__startswith="xxx").exists()


def test_a_duplicate_name_is_refused(admin: Client) -> None:
    response = add_topic(admin, "news")
    assert response.status_code == 200
    assert "Topic with this Name already exists." in html.unescape(response.content.decode())


@pytest.mark.parametrize("who", ["both", "neither"])
def test_an_inline_grant_needs_exactly_one_of_user_or_group(admin: Client, rows: dict[str, Any], who: str) -> None:
    fields = {"can_subscribe": "on"}
    if who == "both":
        fields |= {"user": str(rows["alice"].pk), "group": str(rows["staff"].pk)}
    response = add_topic(admin, "refused.topic", _0=fields)
    assert response.status_code == 200
    assert "Choose exactly one of a user or a group." in html.unescape(response.content.decode())
    assert not Topic.objects.filter(name="refused.topic").exists()


@pytest.mark.parametrize("who", ["both", "neither"])
def test_a_grant_needs_exactly_one_of_user_or_group(admin: Client, rows: dict[str, Any], who: str) -> None:
    data = {"topic": str(Topic.objects.get(name="news").pk), "can_publish": "on"}
    if who == "both":
        data |= {"user": str(rows["alice"].pk), "group": str(rows["staff"].pk)}
    response = admin.post(reverse("admin:wsrpc_app_topicpermission_add"), data)
    assert response.status_code == 200
    assert "Choose exactly one of a user or a group." in html.unescape(response.content.decode())
    assert TopicPermission.objects.filter(topic__name="news").count() == 1


def test_the_model_refuses_both_or_neither(rows: dict[str, Any]) -> None:
    news = Topic.objects.get(name="news")
    both = TopicPermission(topic=news, user=rows["alice"], group=rows["staff"], can_subscribe=True)
    neither = TopicPermission(topic=news, can_subscribe=True)
    for permission in (both, neither):
        with pytest.raises(ValidationError, match="Choose exactly one of a user or a group."):
            permission.full_clean()
        with transaction.atomic(), pytest.raises(IntegrityError):
            permission.save()  # the database refuses it too
    TopicPermission(topic=news, user=rows["alice"], can_subscribe=True).full_clean()


def test_the_model_refuses_an_invalid_name(db: None) -> None:
    with pytest.raises(ValidationError) as caught:
        Topic(name="chat.*x").full_clean()
    assert caught.value.message_dict["name"] == [
        "Not a valid topic or pattern: "
        "segment '*x' may hold only letters, digits, '-' and '_', or be exactly '*' or '#'."
    ]

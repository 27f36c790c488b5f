"""GET wsrpc/openrpc.json, wsrpc/asyncapi.json and wsrpc/docs/: what each caller may use, and no outside asset."""

from __future__ import annotations

import html.parser
import json
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.contrib.staticfiles import finders
from django.test import Client, override_settings
from django.urls import reverse
from rest_framework.authtoken.models import Token

from tests.support.pubsub import grant, make_topic, wsrpc
from tests.support.schemas import asyncapi_validator, errors_of, openrpc_validator
from wsrpc_app.docs.asyncapi import topic_channel_id

pytestmark = pytest.mark.django_db

User = get_user_model()


def get(client: Client, name: str, **extra: Any) -> Any:
    return client.get(reverse(f"wsrpc:{name}"), **extra)


def method_names(client: Client, **extra: Any) -> set[str]:
    response = get(client, "openrpc", **extra)
    assert response.status_code == 200
    return {method["name"] for method in response.json()["methods"]}


@pytest.fixture
def staff() -> Any:
    return User.objects.create_user("stella", password="pw", is_staff=True)


@pytest.fixture
def private_topic() -> Any:
    """``vault.*``, which only alice may subscribe to."""
    alice = User.objects.create_user("alice", password="pw")
    grant(make_topic("vault.*", description="Alice's alone."), user=alice, subscribe=True)
    return alice


# openrpc.json ---------------------------------------------------------------------------


def test_openrpc_json(client: Client) -> None:
    response = get(client, "openrpc")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    doc = json.loads(response.content)
    assert errors_of(openrpc_validator(), doc) == []
    names = {method["name"] for method in doc["methods"]}
    assert {"add", "typed", "rich", "calc.divide", "rpc.discover", "rpc.subscribe"} <= names
    assert doc["servers"] == [
        {"name": "WebSocket", "url": "ws://testserver/ws/rpc/"},
        {"name": "HTTP", "url": "http://testserver/wsrpc/rpc/"},
    ]


def test_openrpc_json_over_https(client: Client) -> None:
    doc = get(client, "openrpc", secure=True).json()
    assert [server["url"] for server in doc["servers"]] == ["wss://testserver/ws/rpc/", "https://testserver/wsrpc/rpc/"]


def test_openrpc_json_lists_what_the_caller_may_call(client: Client, staff: Any) -> None:
    anonymous = method_names(client)
    assert not {"secured.staff", "secured.login", "staff.status"} & anonymous
    assert "secured.anonymous" in anonymous
    token = Token.objects.create(user=staff)
    with_token = method_names(Client(), HTTP_AUTHORIZATION=f"Token {token.key}")
    assert {"secured.staff", "secured.login", "staff.status"} <= with_token
    assert "secured.anonymous" not in with_token
    assert "staff.purge" not in with_token  # needs auth.delete_user too
    client.force_login(staff)
    assert method_names(client) == with_token


def test_openrpc_json_is_what_rpc_discover_answers_over_http(client: Client) -> None:
    body = {"jsonrpc": "2.0", "method": "rpc.discover", "id": 1}
    discovered = client.post(reverse("wsrpc:rpc"), body, content_type="application/json").json()["result"]
    served = get(client, "openrpc").json()
    assert discovered["methods"] == served["methods"]
    assert discovered.get("components") == served.get("components")


def test_an_invalid_token_is_refused(client: Client) -> None:
    for name in ("openrpc", "asyncapi", "docs"):
        response = get(client, name, HTTP_AUTHORIZATION="Token nope")
        assert response.status_code in (401, 403), name


def test_only_get(client: Client) -> None:
    for name in ("openrpc", "asyncapi", "docs"):
        assert client.post(reverse(f"wsrpc:{name}")).status_code == 405


# asyncapi.json --------------------------------------------------------------------------


def test_asyncapi_json(client: Client) -> None:
    response = get(client, "asyncapi")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    doc = json.loads(response.content)
    assert errors_of(asyncapi_validator(), doc) == []
    assert doc["servers"]["wsrpc"]["host"] == "testserver"
    assert doc["servers"]["wsrpc"]["protocol"] == "ws"
    assert doc["channels"]["rpc"]["address"] == "/ws/rpc/"
    # The demo's topics, from its data migration: chat.lobby is open to all, news read-only.
    lobby = doc["channels"][topic_channel_id("chat.lobby")]
    assert lobby["address"] == "chat.lobby" and lobby["description"].startswith("The open chat room")
    assert (lobby["x-wsrpc-subscribe"], lobby["x-wsrpc-publish"]) == (True, True)
    news = doc["channels"][topic_channel_id("news")]
    assert (news["x-wsrpc-subscribe"], news["x-wsrpc-publish"]) == (True, False)
    assert get(client, "asyncapi", secure=True).json()["servers"]["wsrpc"]["protocol"] == "wss"


def test_asyncapi_json_lists_the_topics_the_caller_may_use(client: Client, private_topic: Any) -> None:
    key = topic_channel_id("vault.*")
    assert key not in get(client, "asyncapi").json()["channels"]
    client.force_login(private_topic)
    doc = get(client, "asyncapi").json()
    assert errors_of(asyncapi_validator(), doc) == []
    vault = doc["channels"][key]
    assert vault["address"] == "vault.*"
    assert (vault["x-wsrpc-pattern"], vault["x-wsrpc-subscribe"], vault["x-wsrpc-publish"]) == (True, True, False)
    assert "Alice's alone." in vault["description"]


def test_topics_view_answers_as_before(client: Client, private_topic: Any) -> None:
    client.force_login(private_topic)
    rows = get(client, "topics").json()
    assert {
        "name": "vault.*",
        "description": "Alice's alone.",
        "pattern": True,
        "subscribe": True,
        "publish": False,
        "history": None,
        "presence": None,
    } in (rows)


# docs/ -----------------------------------------------------------------------------------


class Assets(html.parser.HTMLParser):
    """The URLs a page loads or links to, with the tag they are in."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[tuple[str, str, str]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            if name in ("src", "href", "action", "poster", "srcset", "data") and value is not None:
                self.urls.append((tag, name, value))


def urls_of(page: str) -> list[tuple[str, str, str]]:
    parser = Assets()
    parser.feed(page)
    return parser.urls


def test_docs_page(client: Client) -> None:
    response = get(client, "docs")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/html")
    assert "wsrpc_app/docs.html" in [template.name for template in response.templates]
    page = response.content.decode()
    for name in ("add", "typed", "rich", "calc.divide", "rpc.subscribe", "rpc.publish", "chat.lobby", "news"):
        assert f"<code>{name}</code>" in page, name
    assert 'id="method-calc.divide"' in page
    assert 'id="schema-Point"' in page and 'href="#schema-Point"' in page
    # The wire protocol and the error codes.
    assert "-32602" in page and "rpc.event" in page and "4010" in page
    # A try-it form per method, with params to start from.
    assert page.count('<form class="try-it"') == len(get(client, "openrpc").json()["methods"])
    assert "{&quot;when&quot;: &quot;2024-01-02&quot;, &quot;point&quot;: {&quot;x&quot;: 0, &quot;y&quot;: 0}" in page


def test_docs_page_has_no_external_asset(client: Client) -> None:
    page = get(client, "docs").content.decode()
    urls = urls_of(page)
    loaded = [(tag, url) for tag, attribute, url in urls if tag in ("script", "link", "img", "iframe", "source")]
    assert {url for _, url in loaded} >= {"/static/wsrpc_app/docs.css", "/static/wsrpc_app/docs.js"}
    for tag, attribute, url in urls:
        assert not url.startswith(("http:", "https:", "//")), (tag, attribute, url)
    for url in ("wsrpc_app/docs.css", "wsrpc_app/docs.js", "wsrpc_app/wsrpc.js"):
        assert finders.find(url), url
    # The client module is imported from this site's static files too.
    assert '"/static/wsrpc_app/wsrpc.js"' in page


def test_docs_page_shows_what_the_caller_may_use(client: Client, staff: Any, private_topic: Any) -> None:
    anonymous = get(client, "docs").content.decode()
    assert "secured.staff" not in anonymous and "vault.*" not in anonymous
    assert "(anonymous)" in anonymous
    client.force_login(staff)
    for_staff = get(client, "docs").content.decode()
    assert "<code>secured.staff</code>" in for_staff and "(stella)" in for_staff
    assert 'title="Needs a permission: you have it">permission</span>' in for_staff
    client.force_login(private_topic)
    assert "<code>vault.*</code>" in get(client, "docs").content.decode()


def test_docstrings_are_escaped(client: Client) -> None:
    with override_settings(WSRPC=wsrpc(METHODS=["tests.support.docs_methods"])):
        page = get(client, "docs").content.decode()
    assert "<script>alert" not in page
    assert "Shows &lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; as text &amp; <code>code</code> as code." in page
    assert "The total goes in as a number or a string<br>and comes back as a string." in page
    assert 'id="schema-Order-Input"' in page and 'id="schema-Order-Output"' in page

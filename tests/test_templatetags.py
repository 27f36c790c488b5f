"""``{% load wsrpc %}``: the ``wsrpc_client`` tag that puts the JS client on a page."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from django.contrib.staticfiles import finders
from django.template import Context, Template
from django.test import Client, RequestFactory, override_settings


def render(source: str, context: dict[str, Any] | None = None) -> str:
    return Template("{% load wsrpc %}" + source).render(Context(context or {}))


def script_body(html: str) -> str:
    match = re.fullmatch(r'<script type="module"(?: nonce="[^"]*")?>\n(.*)\n</script>', html, re.DOTALL)
    assert match, html
    return match.group(1)


def client_arguments(html: str) -> list[Any]:
    """The JSON arguments of ``new WsRpcClient(...)`` in the rendered script."""
    match = re.search(r"new WsRpcClient\((.*)\);", script_body(html))
    assert match, html
    return list(json.loads(f"[{match.group(1)}]"))


# What it renders ---------------------------------------------------------------------


def test_it_renders_one_module_script_that_sets_up_the_page() -> None:
    html = render("{% wsrpc_client %}")
    body = script_body(html)
    assert 'import { WsRpcClient, RpcError } from "/static/wsrpc_app/wsrpc.js";' in body
    assert "window.WsRpcClient = WsRpcClient;" in body
    assert "window.RpcError = RpcError;" in body
    assert "window.wsrpc = new WsRpcClient(" in body
    assert body.rstrip().endswith(
        'window.dispatchEvent(new CustomEvent("wsrpc:ready", { detail: { client: window.wsrpc } }));'
    )
    assert 'nonce="' not in html


def test_the_url_defaults_to_the_apps_route() -> None:
    assert client_arguments(render("{% wsrpc_client %}")) == ["/ws/rpc/", {}]


@pytest.mark.parametrize(
    "source", ['{% wsrpc_client "/live/" %}', '{% wsrpc_client url="/live/" %}', "{% wsrpc_client where %}"]
)
def test_the_url_may_be_given(source: str) -> None:
    assert client_arguments(render(source, {"where": "/live/"})) == ["/live/", {}]


def test_other_keywords_become_client_options_in_camel_case() -> None:
    html = render("{% wsrpc_client heartbeat_interval=10000 reconnect=False max_delay=delay %}", {"delay": 5000})
    assert client_arguments(html) == ["/ws/rpc/", {"heartbeatInterval": 10000, "reconnect": False, "maxDelay": 5000}]


def test_values_cannot_break_out_of_the_script() -> None:
    html = render("{% wsrpc_client url %}", {"url": '/ws/</script><script>alert("x")</script>'})
    assert html.count("</script>") == 1
    assert "<script>" not in html
    assert client_arguments(html)[0] == '/ws/</script><script>alert("x")</script>'


@override_settings(STATIC_URL="https://cdn.example.com/assets/")
def test_the_module_comes_from_the_static_files_storage() -> None:
    assert 'from "https://cdn.example.com/assets/wsrpc_app/wsrpc.js";' in render("{% wsrpc_client %}")


def test_the_static_files_are_found() -> None:
    assert finders.find("wsrpc_app/wsrpc.js")
    assert finders.find("wsrpc_app/wsrpc.d.ts")


# Content Security Policy nonces ------------------------------------------------------------


def test_a_nonce_given_to_the_tag() -> None:
    html = render("{% wsrpc_client nonce=n %}", {"n": "abc123"})
    assert html.startswith('<script type="module" nonce="abc123">')


def test_the_nonce_of_the_request() -> None:
    request = RequestFactory().get("/")
    request.csp_nonce = "from-request"  # as django-csp sets it
    html = render("{% wsrpc_client %}", {"request": request})
    assert html.startswith('<script type="module" nonce="from-request">')


def test_the_nonce_of_the_context() -> None:
    html = render("{% wsrpc_client %}", {"csp_nonce": "from-context"})  # Django's own csp context processor
    assert html.startswith('<script type="module" nonce="from-context">')


def test_an_explicit_nonce_wins() -> None:
    request = RequestFactory().get("/")
    request.csp_nonce = "from-request"
    html = render("{% wsrpc_client nonce='explicit' %}", {"request": request})
    assert html.startswith('<script type="module" nonce="explicit">')


def test_the_nonce_is_escaped() -> None:
    html = render("{% wsrpc_client nonce=n %}", {"n": '"><script>'})
    assert html.startswith('<script type="module" nonce="&quot;&gt;&lt;script&gt;">')


def test_a_request_without_a_nonce_gives_no_attribute() -> None:
    assert 'nonce="' not in render("{% wsrpc_client %}", {"request": RequestFactory().get("/")})


# The demo page uses it ----------------------------------------------------------------------


def test_the_demo_page_loads_the_client_with_the_tag() -> None:
    response = Client().get("/")
    assert response.status_code == 200
    html = response.content.decode()
    assert 'from "/static/wsrpc_app/wsrpc.js";' in html
    assert "window.wsrpc = new WsRpcClient(" in html
    assert re.search(r'<script type="module" src="/static/demo/demo.js">', html)
    # No external assets: every src and href stays on the site (or is inline data).
    for url in re.findall(r'(?:src|href)="([^"]+)"', html):
        assert url.startswith(("/", "data:")), url

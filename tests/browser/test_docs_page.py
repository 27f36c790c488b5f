"""The API documentation page (wsrpc/docs/) in Chromium: its try-it forms call through the JS client."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.support.servers import ServerProcess

pytestmark = [pytest.mark.e2e, pytest.mark.browser]


@pytest.fixture
def docs(open_page: Any, app_server: ServerProcess) -> Any:
    """The docs page of the test application, its client connected."""
    # Without smooth scrolling (the page's CSS honours reduced motion), clicks need not wait for it.
    page = open_page(app_server.http_url + "wsrpc/docs/", reduced_motion="reduce")
    page.wait_for_selector("body[data-ready=true]")
    page.wait_for_selector("#connection-state[data-state=open]")
    return page


def try_it(page: Any, method: str, params: str | None = None) -> Any:
    """Submit the method's form (with ``params`` typed in, or its example); the outcome element."""
    form = page.locator(f"form.try-it[data-method='{method}']")
    if params is not None:
        form.locator("textarea").fill(params)
    form.locator("output").evaluate("output => { output.hidden = true; output.className = 'outcome'; }")
    form.locator("button[type=submit]").click()
    outcome = form.locator("output.outcome:not([hidden]):not(.pending)")
    outcome.wait_for()
    return outcome


def shown(outcome: Any) -> Any:
    return json.loads(outcome.locator("pre").inner_text())


def test_the_try_it_form_calls_the_method(docs: Any) -> None:
    assert docs.inner_text("#connection-state") == "connected"
    outcome = try_it(docs, "add", "[2, 3]")
    assert "ok" in outcome.get_attribute("class")
    assert outcome.locator(".outcome-head").inner_text().startswith("Result")
    assert shown(outcome) == 5
    # The example params filled in from the schemas are valid: a date, a dataclass and a pydantic model.
    assert shown(try_it(docs, "typed")) == {"weekday": 2, "sum": 0, "box": {"label": "", "size": "0"}, "tags": None}
    assert shown(try_it(docs, "rpc.ping")) == "pong"
    assert docs.errors == []


def test_errors_are_shown_with_their_code(docs: Any) -> None:
    outcome = try_it(docs, "calc.divide", '{"a": 1, "b": 0}')
    assert "error" in outcome.get_attribute("class")
    assert outcome.locator(".outcome-head").inner_text().startswith("Error -32010")
    assert shown(outcome) == {"code": -32010, "message": "Division by zero", "data": {"b": 0}}
    assert shown(try_it(docs, "subtract", '{"minuend": "x"}'))["code"] == -32602
    assert shown(try_it(docs, "slow_echo", '["late", 0.3]')) == "late"
    docs.locator("form.try-it[data-method='slow_echo'] input[name=timeout]").fill("100")  # the form's own, in ms
    assert shown(try_it(docs, "slow_echo", '["late", 1]'))["code"] == -32008
    invalid = try_it(docs, "add", "[1,")
    assert invalid.locator(".outcome-head").inner_text() == "Params are not valid JSON"
    assert docs.errors == []


def test_the_page_loads_nothing_from_elsewhere(docs: Any, app_server: ServerProcess) -> None:
    loaded = docs.evaluate("performance.getEntriesByType('resource').map((entry) => entry.name)")
    assert {app_server.http_url + "static/wsrpc_app/" + name for name in ("docs.css", "docs.js", "wsrpc.js")} <= set(
        loaded
    )
    assert all(url.startswith(app_server.http_url) for url in loaded), loaded
    # The styles applied: the state badge is a pill, not plain text.
    assert docs.eval_on_selector("#connection-state", "e => getComputedStyle(e).borderRadius") != "0px"


def test_the_filter_narrows_the_methods(docs: Any) -> None:
    docs.fill("#method-filter", "calc.")
    visible = docs.eval_on_selector_all("article.method:not([hidden])", "items => items.map(i => i.dataset.method)")
    assert visible == ["calc.divide", "calc.multiply"]
    assert docs.is_hidden("#no-match")
    docs.fill("#method-filter", "no such method")
    assert docs.is_visible("#no-match")
    docs.fill("#method-filter", "")
    assert docs.locator("article.method:not([hidden])").count() > 30

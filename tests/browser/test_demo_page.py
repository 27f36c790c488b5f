"""The demo page, as a person uses it, on the demo project served by daphne."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.servers import ServerProcess

pytestmark = [pytest.mark.e2e, pytest.mark.browser]


@pytest.fixture(scope="module")
def demo_server(migrated_db: Path) -> Iterator[ServerProcess]:
    """The demo project, as `make demo` serves it (daphne, SQLite, in-memory layer)."""
    with ServerProcess.demo("daphne", db_path=migrated_db, migrate=False, env={"REDIS_URL": None}) as process:
        yield process


@pytest.fixture
def demo(open_page: Any, demo_server: ServerProcess) -> Any:
    """The demo page, connected, its methods listed and its topics subscribed."""
    page = open_page(demo_server.http_url)
    page.wait_for_selector("#state[data-state=open]")
    page.wait_for_selector("#rpc-method option[value=add]", state="attached")
    page.wait_for_function("() => document.querySelector('#activity').textContent.includes('subscribed to news')")
    return page


def test_the_page_loads_without_console_errors(demo: Any) -> None:
    assert demo.inner_text("#state-text") == "connected"
    assert "anonymous" in demo.inner_text("#who")
    options = demo.eval_on_selector_all("#rpc-method option", "options => options.map(o => o.value)")
    assert {"add", "ask_browser", "calc.divide", "slow_echo", "rpc.publish"} <= set(options)
    assert "Add two numbers" in demo.inner_text("#rpc-doc")
    assert sorted(demo.evaluate("wsrpc.subscriptions")) == ["chat.lobby", "news", "todos"]
    assert demo.errors == []


def test_two_people_chat_in_the_lobby(demo: Any, open_page: Any, demo_server: ServerProcess) -> None:
    other = open_page(demo_server.http_url)
    other.wait_for_function("() => wsrpc.subscriptions.includes('chat.lobby') && wsrpc.state === 'open'")
    other.wait_for_function("() => document.querySelector('#activity').textContent.includes('subscribed to chat')")
    demo.fill("#chat-name", "ada")
    demo.fill("#chat-text", "Hello from Ada")
    demo.click("#chat-form button[type=submit]")
    mine = demo.locator("#messages .message.mine", has_text="Hello from Ada")
    mine.wait_for()
    theirs = other.locator("#messages .message:not(.mine)", has_text="Hello from Ada")
    theirs.wait_for()
    assert "ada" in theirs.inner_text()
    assert demo.input_value("#chat-text") == ""
    assert demo.errors == [] and other.errors == []


def test_news_is_read_only_for_anonymous_people(demo: Any) -> None:
    demo.click(".tab[data-topic=news]")
    assert "staff" in demo.inner_text("#topic-note")
    demo.fill("#chat-text", "Breaking news")
    demo.click("#chat-form button[type=submit]")
    alert = demo.locator("#chat-error")
    alert.wait_for()
    text = alert.inner_text()
    assert "-32003" in text and "staff" in text
    assert demo.locator("#messages .message", has_text="Breaking news").count() == 0
    demo.click(".tab[data-topic='chat.lobby']")
    assert demo.locator("#chat-error").is_hidden()


@pytest.mark.parametrize(
    ("example", "expected"),
    [
        ("add(2, 3)", "result"),
        ("divide by zero", "error -32010"),
        ("unknown method", "error -32601"),
        ("bad params", "error -32602"),
        ("timeout", "error -32008"),
    ],
)
def test_the_playground_examples(demo: Any, example: str, expected: str) -> None:
    demo.click(f".chip >> text='{example}'")
    demo.wait_for_function(
        "expected => document.querySelector('#rpc-result .result-head strong')?.textContent.includes(expected)",
        arg=expected,
    )
    assert demo.errors == []


def test_the_playground_calls_what_you_type(demo: Any) -> None:
    demo.select_option("#rpc-method", "calc.multiply")
    assert demo.input_value("#rpc-params") == '{"a":6,"b":7}'
    demo.fill("#rpc-params", "[6, 7]")
    demo.click("#rpc-call")
    demo.wait_for_function("() => document.querySelector('#rpc-result pre')?.textContent === '42'")
    demo.fill("#rpc-params", "[6, ")
    demo.click("#rpc-call")
    demo.locator("#rpc-result", has_text="not valid JSON").wait_for()
    demo.click("#rpc-batch")
    demo.locator("#rpc-result", has_text="calc.divide → error -32010").wait_for()
    assert "add → 3" in demo.inner_text("#rpc-result")


def test_the_server_asks_the_browser(demo: Any) -> None:
    log = demo.locator("#call-log")
    demo.fill("#ask-question", "Tea or coffee?")
    demo.click("#ask-form button")
    prompt = demo.locator(".prompt", has_text="Tea or coffee?")
    prompt.wait_for()
    prompt.locator("input").fill("Tea")
    prompt.locator("button", has_text="Reply").click()
    log.locator("li", has_text='ask_browser returned {"question":"Tea or coffee?","answer":"Tea"}').wait_for()
    assert prompt.count() == 0

    demo.click("#ask-form button")
    demo.locator(".prompt button", has_text="Decline").click()
    log.locator("li", has_text="ask_browser failed: -32000").wait_for()

    demo.click("label.switch")
    assert demo.is_checked("#auto-answer")
    demo.click("#ask-form button")
    log.locator("li", has_text="automatically").wait_for()
    assert log.locator("li", has_text="ask_browser returned").count() == 2
    assert demo.errors == []


def test_it_fits_a_phone(open_page: Any, demo_server: ServerProcess) -> None:
    phone = open_page(demo_server.http_url, viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True)
    phone.wait_for_selector("#state[data-state=open]")
    assert phone.evaluate("document.documentElement.scrollWidth") <= 390
    boxes = [phone.locator(selector).bounding_box() for selector in ("#chat", "#playground", "#callback")]
    assert all(box is not None and box["x"] >= 0 and box["x"] + box["width"] <= 390 for box in boxes)
    assert phone.errors == []

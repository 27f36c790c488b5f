"""The demo's shared to-do list in Chromium: two pages, each change made on one appears on the other.

Changes go through the REST API; the model observer publishes them after
commit; the other page (and a ``manage.py todo`` in another process) shows
them live.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.servers import ServerProcess

pytestmark = [pytest.mark.e2e, pytest.mark.browser]


@pytest.fixture(scope="module")
def demo_server(migrated_db: Path) -> Iterator[ServerProcess]:
    """The demo project as `make demo` serves it (daphne, SQLite, in-memory layer)."""
    with ServerProcess.demo("daphne", db_path=migrated_db, migrate=False, env={"REDIS_URL": None}) as process:
        yield process


def todo_page(open_page: Any, server: ServerProcess) -> Any:
    page = open_page(server.http_url)
    page.wait_for_function("() => document.querySelector('#activity').textContent.includes('subscribed to todos')")
    page.locator("#todo-list li").first.wait_for()  # loaded: an item, or the empty line
    return page


def item(page: Any, title: str) -> Any:
    return page.locator("#todo-list li.todo", has_text=title)


def test_two_pages_share_the_list_live(open_page: Any, demo_server: ServerProcess) -> None:
    ada, bob = todo_page(open_page, demo_server), todo_page(open_page, demo_server)
    title = f"Water the plants {uuid.uuid4().hex[:6]}"

    ada.fill("#todo-title", title)
    ada.click("#todo-form button[type=submit]")
    item(bob, title).wait_for()
    item(ada, title).wait_for()
    assert ada.input_value("#todo-title") == ""

    item(bob, title).locator("input[type=checkbox]").check()
    ada.wait_for_selector(f"#todo-list li.todo.done:has-text('{title}')")
    assert item(ada, title).locator("input[type=checkbox]").is_checked()

    item(ada, title).locator("button").click()
    item(bob, title).wait_for(state="detached")
    item(ada, title).wait_for(state="detached")
    assert "todos: deleted" in bob.evaluate("document.querySelector('#activity').textContent")
    assert ada.errors == [] and bob.errors == []


@pytest.fixture(scope="module")
def redis_demo_server(migrated_db: Path, redis_url: str) -> Iterator[ServerProcess]:
    """The demo project on Redis (``REDIS_URL`` set), so that other processes reach its pages."""
    with ServerProcess.demo("daphne", db_path=migrated_db, migrate=False, env={"REDIS_URL": redis_url}) as process:
        yield process


def test_a_change_from_manage_py_appears_and_a_reload_shows_the_same(
    open_page: Any, redis_demo_server: ServerProcess
) -> None:
    page = todo_page(open_page, redis_demo_server)
    title = f"From the shell {uuid.uuid4().hex[:6]}"
    output = redis_demo_server.manage("todo", "add", title)
    item(page, title).wait_for()
    pk = output.split()[1].rstrip(":")
    redis_demo_server.manage("todo", "done", pk)
    page.wait_for_selector(f"#todo-list li.todo.done:has-text('{title}')")
    live = page.inner_text("#todo-list")
    page.reload()
    page.wait_for_function("() => document.querySelector('#activity').textContent.includes('subscribed to todos')")
    item(page, title).wait_for()
    assert page.inner_text("#todo-list") == live
    assert page.errors == []

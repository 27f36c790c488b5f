"""Real Chromium, driven by Playwright, against real servers.

Chromium comes from the system (Debian's ``chromium`` package): Playwright's
own browser download is not used. Without it, or without the ``playwright``
package, these tests skip with the reason, unless ``WSRPC_REQUIRE_BROWSER=1``
(CI sets it), where they fail.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.servers import ServerProcess

from .helpers import install

CHROMIUM = os.environ.get("WSRPC_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def _missing_browser() -> str | None:
    try:
        import playwright  # noqa: F401
    except ImportError:
        return "the playwright package is not installed (pip install -e '.[dev]')"
    if not (os.path.isfile(CHROMIUM) or shutil.which(CHROMIUM)):
        return f"no Chromium at {CHROMIUM} (apt-get install chromium, or set WSRPC_CHROMIUM)"
    return None


@pytest.fixture(scope="package")  # sync Playwright runs a loop in this thread: stop it before the async tests
def browser() -> Iterator[Any]:
    """One headless Chromium for the session."""
    problem = _missing_browser()
    if problem is not None:
        if os.environ.get("WSRPC_REQUIRE_BROWSER") == "1":
            pytest.fail(f"{problem} (WSRPC_REQUIRE_BROWSER=1)")
        pytest.skip(problem)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture(scope="session")
def migrated_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One migrated SQLite file that every server of these tests starts from (migrating costs seconds)."""
    path = tmp_path_factory.mktemp("browser") / "db.sqlite3"
    migrator = ServerProcess(db_path=path)
    try:
        migrator.migrate()
    finally:
        migrator.cleanup()
    return path


@pytest.fixture(scope="session")
def app_server(migrated_db: Path) -> Iterator[ServerProcess]:
    """``tests.asgi`` (the demo's methods and page, plus the test methods) on daphne, shared by the session."""
    with ServerProcess("daphne", db_path=migrated_db, migrate=False, env={"REDIS_URL": None}) as process:
        yield process


def _new_page(browser: Any, url: str, **context_options: Any) -> Any:
    """A page at ``url`` in a fresh browser context; ``page.errors`` collects its console errors."""
    context = browser.new_context(**context_options)
    page = context.new_page()
    page.set_default_timeout(5_000)
    page.errors = []
    page.on("console", lambda message: message.type == "error" and page.errors.append(message.text))
    page.on("pageerror", lambda error: page.errors.append(f"uncaught: {error}"))
    page.goto(url)
    page.wait_for_function("() => window.wsrpc !== undefined")
    return page


@pytest.fixture
def open_page(browser: Any) -> Iterator[Any]:
    """A function opening a URL in a fresh browser context (closed after the test)."""
    pages: list[Any] = []

    def open_(url: str, **context_options: Any) -> Any:
        pages.append(_new_page(browser, url, **context_options))
        return pages[-1]

    yield open_
    for page in pages:
        page.context.close()


@pytest.fixture(scope="module")
def shared_page(browser: Any, app_server: ServerProcess) -> Iterator[Any]:
    """One page of ``app_server`` for a module's tests (a browser context costs most of a second)."""
    page = install(_new_page(browser, app_server.http_url))
    yield page
    page.context.close()


@pytest.fixture
def page(shared_page: Any) -> Iterator[Any]:
    """The module's page with the test helpers ``T`` and a connected client of this test's own, ``c``."""
    shared_page.evaluate("async () => { window.c = await T.client(); }")
    yield shared_page
    shared_page.evaluate("() => c.close()")

"""``OriginValidator`` as a plain function: what ``__call__`` returns for each origin.

Which origins are allowed under which settings is in tests/test_auth.py,
through the whole stack; the live servers' 403 in tests/e2e/test_security.py.
"""

from __future__ import annotations

from collections.abc import Awaitable, Coroutine
from typing import Any

import pytest
from asgiref.compatibility import guarantee_single_callable
from asgiref.sync import iscoroutinefunction
from channels.testing import ApplicationCommunicator
from django.conf import settings
from django.test import override_settings

from wsrpc_app.origins import OriginValidator

ALLOWED = b"http://127.0.0.1:8000"  # tests/settings.py: ALLOWED_HOSTS has 127.0.0.1
FOREIGN = b"http://evil.example"


async def _run() -> None:
    pass


class Inner:
    """An application that records its calls and the coroutines it returned."""

    def __init__(self) -> None:
        self.scopes: list[dict[str, Any]] = []
        self.coroutines: list[Coroutine[Any, Any, None]] = []

    def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> Awaitable[None]:
        self.scopes.append(scope)
        self.coroutines.append(_run())
        return self.coroutines[-1]


def scope(*origins: bytes) -> dict[str, Any]:
    return {"type": "websocket", "path": "/", "headers": [(b"origin", origin) for origin in origins]}


def check(*origins: bytes) -> bool:
    """Whether the validator handed the handshake to the application, which it did synchronously."""
    inner = Inner()
    returned = OriginValidator(inner)(scope(*origins), None, None)
    returned.close()  # type: ignore[attr-defined]  # the application's coroutine or the denier's
    if inner.coroutines == [returned]:
        return True
    assert inner.coroutines == []
    return False


def test_allowed_origin_returns_the_application_coroutine() -> None:
    assert check(ALLOWED)


def test_foreign_origin_returns_the_denier() -> None:
    assert not check(FOREIGN)


def test_no_origin_is_allowed_by_default() -> None:
    assert check()


def test_no_origin_is_refused_with_allow_no_origin_false() -> None:
    with override_settings(WSRPC={**settings.WSRPC, "ALLOW_NO_ORIGIN": False}):
        assert not check()


def test_the_last_origin_header_counts_as_in_channels() -> None:
    assert check(FOREIGN, ALLOWED)
    assert not check(ALLOWED, FOREIGN)


def test_the_scope_is_passed_on_unchanged() -> None:
    inner = Inner()
    handshake = scope(ALLOWED)
    OriginValidator(inner)(handshake, None, None).close()  # type: ignore[attr-defined]
    assert inner.scopes == [handshake]


async def test_the_denier_closes_before_accepting() -> None:
    communicator = ApplicationCommunicator(OriginValidator(Inner()), scope(FOREIGN))
    await communicator.send_input({"type": "websocket.connect"})
    assert (await communicator.receive_output())["type"] == "websocket.close"  # HTTP 403 from a server
    await communicator.wait()


async def test_a_non_websocket_scope_is_an_error_as_in_channels() -> None:
    with pytest.raises(ValueError, match="non-WebSocket"):
        await OriginValidator(Inner())({"type": "http", "headers": []}, None, None)


def test_is_an_asgi3_application() -> None:
    validator = OriginValidator(Inner())
    assert iscoroutinefunction(validator.__call__)
    assert guarantee_single_callable(validator) is validator

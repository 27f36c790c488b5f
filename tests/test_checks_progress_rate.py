"""E015: ``PROGRESS_RATE`` must let at least ten ``rpc.progress`` reports a second through (SPEC), or be None."""

from __future__ import annotations

from typing import Any

import pytest
from django.conf import settings
from django.core.checks import run_checks
from django.test import override_settings


def wsrpc_messages() -> list[Any]:
    return [m for m in run_checks() if m.id and m.id.startswith("wsrpc_app.")]


@pytest.mark.parametrize("value", [10, 10.0, 20.0, 1000, None])
def test_a_rate_of_ten_or_more_or_none_passes(value: Any) -> None:
    with override_settings(WSRPC={**settings.WSRPC, "PROGRESS_RATE": value}):
        assert wsrpc_messages() == []


@pytest.mark.parametrize("value", [9.99, 1, 0, -20, True, "20", [20]], ids=repr)
def test_anything_else_is_e015(value: Any) -> None:
    with override_settings(WSRPC={**settings.WSRPC, "PROGRESS_RATE": value}):
        [message] = wsrpc_messages()
    assert message.id == "wsrpc_app.E015"
    assert "PROGRESS_RATE" in message.msg and "at least 10" in message.msg
    assert message.hint

"""The metrics settings' checks, the view's access rules and the context of log records, in process."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.core.checks import run_checks
from django.test import Client, override_settings
from prometheus_client.parser import text_string_to_metric_families

from wsrpc_app.core.dispatch import current_method
from wsrpc_app.metrics.recorder import SILENT, Recorder, recorder
from wsrpc_app.server.log_context import LogContext, bind_connection


def wsrpc_ids(**wsrpc: Any) -> list[str]:
    from django.conf import settings

    with override_settings(WSRPC={**settings.WSRPC, **wsrpc}):
        return [m.id for m in run_checks() if m.id and m.id.startswith("wsrpc_app.")]


@pytest.mark.parametrize("value", [1, "yes", None])
def test_e018_metrics_not_a_bool(value: object) -> None:
    assert wsrpc_ids(METRICS=value) == ["wsrpc_app.E018"]


@pytest.mark.parametrize("value", ["", 123, ["a"]])
def test_e019_metrics_token_not_a_string(value: object) -> None:
    assert wsrpc_ids(METRICS_TOKEN=value) == ["wsrpc_app.E019"]


def test_a_good_token_and_switch_pass() -> None:
    assert wsrpc_ids(METRICS=False, METRICS_TOKEN="s3cret") == []


def test_e007_health_timeout() -> None:
    assert wsrpc_ids(HEALTH_TIMEOUT=0) == ["wsrpc_app.E007"]


def test_the_switch() -> None:
    from django.conf import settings

    assert isinstance(recorder(), Recorder)
    with override_settings(WSRPC={**settings.WSRPC, "METRICS": False}):
        assert recorder() is SILENT
        assert Client().get("/wsrpc/metrics/").status_code == 404
    assert isinstance(recorder(), Recorder)


@pytest.mark.django_db
def test_staff_read_the_metrics_others_do_not() -> None:
    staff = User.objects.create_user("ops", password="pw", is_staff=True)
    someone = User.objects.create_user("someone", password="pw")
    client = Client()
    assert client.get("/wsrpc/metrics/").status_code == 403
    client.force_login(someone)
    assert client.get("/wsrpc/metrics/").status_code == 403
    client.force_login(staff)
    response = client.get("/wsrpc/metrics/")
    assert response.status_code == 200
    names = {family.name for family in text_string_to_metric_families(response.content.decode())}
    assert {"wsrpc_calls", "wsrpc_connections_open", "wsrpc_events_published"} <= names


def test_log_records_carry_the_connection_user_and_method(caplog: pytest.LogCaptureFixture) -> None:
    user = User(pk=42, username="ada")
    logger = logging.getLogger("wsrpc")
    assert any(isinstance(f, LogContext) for f in logger.filters)

    def in_a_request() -> None:
        bind_connection("abc.7", user)
        current_method.set("add")
        logger.warning("something about the call")

    import contextvars

    with caplog.at_level(logging.WARNING, logger="wsrpc"):
        contextvars.copy_context().run(in_a_request)
        logger.warning("outside any connection")
    inside, outside = caplog.records[-2:]
    assert (inside.connection_id, inside.user_id, inside.method) == ("abc.7", "42", "add")  # type: ignore[attr-defined]
    assert (outside.connection_id, outside.user_id, outside.method) == (None, None, None)  # type: ignore[attr-defined]

"""The target URL from a route's kwargs: placeholders in the path or query only, values encoded."""

from __future__ import annotations

import pytest

from wsrpc_app.proxy.target import BadTarget, TargetTemplate


def test_placeholders_fill_from_the_route_kwargs() -> None:
    template = TargetTemplate("ws://chat:8000/ws/chat/{room}/")
    assert template.url({"room": "lobby"}) == "ws://chat:8000/ws/chat/lobby/"


def test_a_template_without_placeholders_is_a_fixed_target() -> None:
    assert TargetTemplate("wss://rpc.internal/ws/rpc/").url({"ignored": "x"}) == "wss://rpc.internal/ws/rpc/"


def test_the_query_string_is_appended() -> None:
    assert TargetTemplate("ws://h/ws/{room}/").url({"room": "a"}, "token=1") == "ws://h/ws/a/?token=1"
    assert TargetTemplate("ws://h/ws/?v=2").url({}, "token=1") == "ws://h/ws/?v=2&token=1"


def test_values_cannot_add_a_query_or_fragment() -> None:
    assert TargetTemplate("ws://h/ws/{room}/").url({"room": "a?admin=1#x"}) == "ws://h/ws/a%3Fadmin%3D1%23x/"


def test_a_path_converter_keeps_its_slashes() -> None:
    assert TargetTemplate("ws://h/{rest}").url({"rest": "a/b c"}) == "ws://h/a/b%20c"


@pytest.mark.parametrize("value", ["..", "a/../b", "./a"])
def test_dot_segments_are_refused(value: str) -> None:
    with pytest.raises(BadTarget):
        TargetTemplate("ws://h/{rest}").url({"rest": value})


def test_a_missing_kwarg_is_refused() -> None:
    with pytest.raises(BadTarget, match="room"):
        TargetTemplate("ws://h/{room}/").url({})


@pytest.mark.parametrize(
    "template",
    [
        "http://h/ws/",  # not a WebSocket URL
        "ws:///ws/",  # no host
        "ws://{host}/ws/",  # the client would choose where the gateway connects
        "ws://h:{port}/ws/",
        "ws://h/ws/{room.__class__}/",  # attribute access
        "ws://h/ws/{room!r}/",
        "ws://h/ws/{0}/",
        "ws://h/ws/#frag",
    ],
)
def test_bad_templates_fail_when_the_route_is_built(template: str) -> None:
    with pytest.raises(ValueError):
        TargetTemplate(template)

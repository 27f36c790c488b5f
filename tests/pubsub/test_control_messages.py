"""The layer messages of server-side control and presence: built, then parsed back as every process reads them."""

from __future__ import annotations

import pytest

from wsrpc_app.pubsub.messages import command_message, parse, presence_message, reply_message


@pytest.mark.parametrize(
    "message",
    [
        command_message("wsrpc.u.7", "close", {"code": 4003, "reason": "banned"}, user="7"),
        command_message(
            "wsrpc.hub.0123456789ab",
            "call",
            {"method": "m"},
            connection="0123456789ab.1",
            reply_to="wsrpc.hub.ba9876543210",
            call="c1",
        ),
        reply_message("wsrpc.hub.ba9876543210", "c1", connections=[], process="0123456789ab"),
        reply_message("wsrpc.hub.ba9876543210", "c1", connections=["0123456789ab.1"], process="0123456789ab"),
        reply_message("wsrpc.hub.ba9876543210", "c1", connection="0123456789ab.1", result="3"),
        reply_message("wsrpc.hub.ba9876543210", "c1", connection="0123456789ab.1", outcome="gone"),
        presence_message("room.1", "0123456789ab.1", '{"jsonrpc":"2.0","method":"rpc.join","params":{}}'),
    ],
)
def test_a_message_reads_back_as_it_was_sent(message: dict[str, object]) -> None:
    assert parse(message) == message


def test_a_process_without_connections_of_the_user_says_so() -> None:
    """An empty list of connections is an answer, not a malformed message: the caller must not wait for it."""
    parsed = parse({"type": "wsrpc.reply", "group": "g", "call": "c", "connections": [], "process": "p"})
    assert parsed is not None and parsed.get("connections") == []


@pytest.mark.parametrize(
    "message",
    [
        {"type": "wsrpc.reply", "group": "g", "call": "c", "connections": [1]},
        {"type": "wsrpc.reply", "group": "g", "call": 5},
        {"type": "wsrpc.reply", "group": "g", "call": "c", "result": 3},
        {"type": "wsrpc.command", "group": "g", "action": "close"},
        {"type": "wsrpc.command", "group": "g", "action": "close", "args": {}, "user": 7},
        {"type": "wsrpc.presence", "group": "g", "topic": "t", "connection": "c"},
    ],
)
def test_a_malformed_message_is_refused(message: dict[str, object]) -> None:
    with pytest.raises(ValueError, match="malformed"):
        parse(message)

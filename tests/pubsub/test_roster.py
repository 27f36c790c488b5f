"""The pure parts of presence and server-side control: entries, numbers, frames, ids, narrowing, gathering."""

from __future__ import annotations

import json
from types import SimpleNamespace

import pytest

from wsrpc_app.pubsub.roster import client_entry, decode_entries, join_frame, leave_frame, live, stats
from wsrpc_app.pubsub.targets import (
    Credentials,
    Gathering,
    Narrowing,
    connection_id,
    is_connection_id,
    marker_of,
    token_digest,
)

ADA = SimpleNamespace(is_authenticated=True, pk=7, get_username=lambda: "ada")
ANONYMOUS = SimpleNamespace(is_authenticated=False, pk=None)


# Entries --------------------------------------------------------------------------------


def test_an_entry_names_the_user_or_null() -> None:
    assert client_entry("a.1", ADA, None) == {"connection": "a.1", "user": "ada", "user_id": 7}
    assert client_entry("a.2", ANONYMOUS, {"device": "phone"}) == {
        "connection": "a.2",
        "user": None,
        "user_id": None,
        "info": {"device": "phone"},
    }
    assert client_entry("a.3", None, None)["user"] is None


def test_stats_count_connections_and_distinct_logged_in_users() -> None:
    entries = [
        {"connection": "a.1", "user_id": 7},
        {"connection": "b.1", "user_id": 7},
        {"connection": "a.2", "user_id": None},
        {"connection": "a.3", "user_id": "8"},
    ]
    assert stats(entries) == (4, 2)
    assert stats([]) == (0, 0)


def test_entries_decode_in_connection_order_and_leave_out_what_is_unreadable() -> None:
    texts = ['{"connection": "b.1"}', b'{"connection": "a.9"}', "not json", "[1]", '{"user": "x"}']
    assert [entry["connection"] for entry in decode_entries(texts)] == ["a.9", "b.1"]


def test_join_and_leave_frames_are_json_rpc_notifications() -> None:
    entry = json.dumps({"connection": "a.1", "user": "ada", "user_id": 7})
    assert json.loads(join_frame("room.x", entry)) == {
        "jsonrpc": "2.0",
        "method": "rpc.join",
        "params": {"topic": "room.x", "client": {"connection": "a.1", "user": "ada", "user_id": 7}},
    }
    assert json.loads(leave_frame("room.x", entry))["method"] == "rpc.leave"


def test_live_keeps_the_entries_of_living_processes() -> None:
    kept, dead = live({"aaa.1": "A1", "bbb.1": "B1", "aaa.2": "A2"}, ["aaa"])
    assert sorted(kept) == ["A1", "A2"] and dead == ["bbb.1"]


# Connection ids -------------------------------------------------------------------------


def test_a_connection_id_names_its_process() -> None:
    id_ = connection_id("0123456789ab", 42)
    assert id_ == "0123456789ab.42" and is_connection_id(id_) and marker_of(id_) == "0123456789ab"


@pytest.mark.parametrize(
    "bad", ["", "x", "0123456789ab", "0123456789AB.1", "0123456789ab.-1", "0123456789ab.1 ", 7, None]
)
def test_what_is_no_connection_id(bad: object) -> None:
    assert not is_connection_id(bad)
    with pytest.raises(ValueError):
        marker_of(bad)  # type: ignore[arg-type]


# Narrowing --------------------------------------------------------------------------------

SESSION = Credentials(session_key="s1", session_hash="h1")
OTHER_SESSION = Credentials(session_key="s2", session_hash="h1")
TOKEN = Credentials(token=token_digest("key"))
NOTHING = Credentials()


def test_no_narrowing_affects_every_connection() -> None:
    assert all(Narrowing().affects(c) for c in (SESSION, OTHER_SESSION, TOKEN, NOTHING))


def test_a_logout_affects_the_connections_of_its_session() -> None:
    narrowing = Narrowing(session="s1")
    assert [narrowing.affects(c) for c in (SESSION, OTHER_SESSION, TOKEN, NOTHING)] == [True, False, False, False]


def test_a_deleted_token_affects_the_connections_it_authenticated() -> None:
    narrowing = Narrowing(token=token_digest("key"))
    assert [narrowing.affects(c) for c in (SESSION, TOKEN, Credentials(token=token_digest("other")))] == [
        False,
        True,
        False,
    ]
    assert token_digest("key") != "key"


def test_a_password_change_affects_sessions_whose_hash_no_longer_matches() -> None:
    assert [Narrowing(session_hash="h2").affects(c) for c in (SESSION, TOKEN, NOTHING)] == [True, False, False]
    assert not Narrowing(session_hash="h1").affects(SESSION)


def test_narrowing_travels_as_arguments() -> None:
    narrowing = Narrowing(session="s1", session_hash="h")
    assert Narrowing.from_args(narrowing.as_args()) == narrowing
    assert Narrowing.from_args({"session": 5, "token": None}) == Narrowing()


# Gathering the answers to a call to a user --------------------------------------------------


def test_a_gathering_is_done_once_every_process_announced_and_every_connection_answered() -> None:
    gathering: Gathering[object] = Gathering({"a", "b"})
    gathering.announce("a", ["a.1", "a.2"])
    gathering.answer("a.1", 1)
    assert not gathering.done
    gathering.announce("b", [])
    gathering.answer("a.2", 2)
    assert gathering.done
    assert gathering.outcomes(lambda: "late") == {"a.1": 1, "a.2": 2}


def test_a_gathering_gives_each_silent_connection_a_timeout_of_its_own() -> None:
    gathering: Gathering[object] = Gathering({"a"})
    gathering.announce("a", ["a.1", "a.2"])
    gathering.answer("a.2", "ok")
    gathering.answer("a.2", "again")  # a second answer is ignored
    outcomes = gathering.outcomes(object)
    assert outcomes["a.2"] == "ok" and type(outcomes["a.1"]) is object and not gathering.done


def test_an_answer_may_come_before_its_process_announced() -> None:
    gathering: Gathering[object] = Gathering({"a"})
    gathering.answer("a.1", 1)
    gathering.announce("a", ["a.1"])
    assert gathering.done
    gathering.announce("z", ["z.1"])  # not expected: ignored
    assert gathering.done

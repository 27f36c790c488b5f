"""Presence of a topic: the entries of its subscribers, their numbers, and the join and leave frames. No I/O.

An entry describes one connection subscribed to the exact topic, as
``rpc.presence`` lists it: ``connection`` (its id), ``user`` (the username,
or null when anonymous), ``user_id`` (the user's primary key, or null) and
``info`` (what the client declared on connecting, when it did). Stores keep
each entry as JSON text, under the connection's id.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import orjson

from ..core.types import JSON, JSONObject
from .events import topic_json

__all__ = ["client_entry", "decode_entries", "stats", "join_frame", "leave_frame", "live"]


def client_entry(connection: str, user: object, info: JSONObject | None) -> JSONObject:
    """The presence entry of a connection of ``user`` (a Django user, anonymous, or None)."""
    authenticated = user is not None and bool(getattr(user, "is_authenticated", False))
    username: JSON = None
    user_id: JSON = None
    if authenticated:
        get_username = getattr(user, "get_username", None)
        username = str(get_username()) if callable(get_username) else str(user)
        pk = getattr(user, "pk", None)
        user_id = pk if isinstance(pk, int | str) else str(pk)
    entry: JSONObject = {"connection": connection, "user": username, "user_id": user_id}
    if info is not None:
        entry["info"] = info
    return entry


def decode_entries(texts: Iterable[str | bytes]) -> list[JSONObject]:
    """Entries as a store gives them back, in connection id order; anything unreadable is left out."""
    entries: list[JSONObject] = []
    for text in texts:
        try:
            entry = orjson.loads(text)
        except orjson.JSONDecodeError:
            continue
        if isinstance(entry, dict) and isinstance(entry.get("connection"), str):
            entries.append(entry)
    entries.sort(key=lambda entry: str(entry["connection"]))
    return entries


def stats(entries: Iterable[Mapping[str, object]]) -> tuple[int, int]:
    """The numbers of connections and of distinct logged-in users; anonymous ones count only as connections."""
    connections = 0
    users: set[str] = set()
    for entry in entries:
        connections += 1
        user_id = entry.get("user_id")
        if user_id is not None:
            users.add(str(user_id))
    return connections, len(users)


def _frame(method: str, topic: str, entry_json: str) -> str:
    return f'{{"jsonrpc":"2.0","method":"{method}","params":{{"topic":{topic_json(topic)},"client":{entry_json}}}}}'


def join_frame(topic: str, entry_json: str) -> str:
    """``rpc.join``: the connection of this entry subscribed to ``topic``."""
    return _frame("rpc.join", topic, entry_json)


def leave_frame(topic: str, entry_json: str) -> str:
    """``rpc.leave``: the connection of this entry is no longer subscribed to ``topic``."""
    return _frame("rpc.leave", topic, entry_json)


def live(entries: Mapping[str, str], processes: Iterable[str]) -> tuple[list[str], list[str]]:
    """The entries (by connection id) of the living ``processes``, and the ids of the others'."""
    alive = set(processes)
    kept: list[str] = []
    dead: list[str] = []
    for connection, entry in entries.items():
        if connection.split(".", 1)[0] in alive:
            kept.append(entry)
        else:
            dead.append(connection)
    return kept, dead

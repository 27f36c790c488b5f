"""Which connections server code reaches, and what comes back from them. No I/O.

A connection's id is ``<marker>.<number>``: the marker of the process's hub
(48 random bits, so ids are unique across processes), then a number the hub
counts up. The marker alone says which process's group an order for one
connection goes to (:mod:`wsrpc_app.pubsub.messages`).

An order for a user's connections may narrow itself to those a credential
opened (:class:`Narrowing`): a logout ends the connections of that session,
a deleted token those it authenticated, a password change those whose
session hash no longer matches. A call to every connection of a user
gathers one answer per connection from every process (:class:`Gathering`).
"""

from __future__ import annotations

import dataclasses
import hashlib
import re
from collections.abc import Callable
from typing import Generic, TypeVar

__all__ = [
    "connection_id",
    "marker_of",
    "is_connection_id",
    "token_digest",
    "Credentials",
    "Narrowing",
    "Gathering",
    "TIMEOUT",
    "GONE",
]

T = TypeVar("T")

_ID = re.compile(r"[0-9a-f]{12}\.[0-9]{1,12}")

#: The outcomes of a call that has no result or error object.
TIMEOUT = "timeout"
GONE = "gone"


def connection_id(marker: str, number: int) -> str:
    return f"{marker}.{number}"


def is_connection_id(value: object) -> bool:
    return isinstance(value, str) and _ID.fullmatch(value) is not None


def marker_of(connection: str) -> str:
    """The marker of the process that holds ``connection``; ValueError for something that is no connection id."""
    if not is_connection_id(connection):
        raise ValueError(f"not a connection id: {connection!r}")
    return connection.split(".", 1)[0]


def token_digest(key: str) -> str:
    """What orders carry of a DRF token's key: never the key itself."""
    return hashlib.sha256(key.encode()).hexdigest()


@dataclasses.dataclass(frozen=True, slots=True)
class Credentials:
    """How a connection was authenticated: its session's key and auth hash, or its token's digest."""

    session_key: str | None = None
    session_hash: str | None = None
    token: str | None = None


@dataclasses.dataclass(frozen=True, slots=True)
class Narrowing:
    """Which of a user's connections an order affects; all of them when empty.

    ``session``: those of that session key; ``token``: those of that token
    digest; ``session_hash``: those authenticated by a session whose auth
    hash differs from this one (the password changed).
    """

    session: str | None = None
    token: str | None = None
    session_hash: str | None = None

    @classmethod
    def from_args(cls, args: dict[str, object]) -> Narrowing:
        def text(key: str) -> str | None:
            value = args.get(key)
            return value if isinstance(value, str) else None

        return cls(text("session"), text("token"), text("session_hash"))

    def as_args(self) -> dict[str, object]:
        return {key: value for key, value in dataclasses.asdict(self).items() if value is not None}

    def affects(self, credentials: Credentials) -> bool:
        if self.session is not None and credentials.session_key != self.session:
            return False
        if self.token is not None and credentials.token != self.token:
            return False
        if self.session_hash is not None:
            return credentials.session_key is not None and credentials.session_hash != self.session_hash
        return True


@dataclasses.dataclass(slots=True)
class Gathering(Generic[T]):
    """The answers to one call to a user's connections, as they come from the processes.

    ``processes`` are the markers of the processes expected to say which of
    their connections will answer; each does so once (``announce``), then
    each connection answers once (``answer``). ``done`` once every process
    announced and every connection announced answered.
    """

    processes: set[str]
    answers: dict[str, T] = dataclasses.field(default_factory=dict)
    waiting: set[str] = dataclasses.field(default_factory=set)

    def announce(self, process: str, connections: list[str]) -> None:
        if process not in self.processes:
            return  # a process that was not expected (it started since): its connections count all the same
        self.processes.discard(process)
        self.waiting.update(c for c in connections if c not in self.answers)

    def answer(self, connection: str, outcome: T) -> None:
        if connection in self.answers:
            return
        self.answers[connection] = outcome
        self.waiting.discard(connection)

    @property
    def done(self) -> bool:
        return not self.processes and not self.waiting

    def outcomes(self, timed_out: Callable[[], T]) -> dict[str, T]:
        """Every connection's answer; ``timed_out()`` for each of those announced that did not answer."""
        return {**self.answers, **{connection: timed_out() for connection in sorted(self.waiting)}}

"""Who a WebSocket connection is, read from its handshake: what the client declared, and how it authenticated.

A client may declare something about itself (a device name, a display
name, a colour) in the handshake's query string: ``?info=<JSON object>``,
URL-encoded, at most :data:`MAX_INFO_BYTES` bytes once decoded. It is
listed with the connection in ``rpc.presence``, ``rpc.info`` and the
admin. The server vouches for none of it; ``user`` is what the server knows.
"""

from __future__ import annotations

from urllib.parse import parse_qs

import orjson

from ..core.types import JSONObject, Scope
from ..pubsub.targets import Credentials, token_digest
from .auth import KEYWORD, header

__all__ = ["MAX_INFO_BYTES", "BadInfo", "declared_info", "credentials_of"]

#: The most a client may declare about itself, in bytes of JSON.
MAX_INFO_BYTES = 1024


class BadInfo(ValueError):
    """The handshake's ``info`` is no JSON object, or too large: the handshake is refused."""


def declared_info(scope: Scope) -> JSONObject | None:
    """The JSON object of the handshake's ``info`` query parameter; None without one. Raises :class:`BadInfo`."""
    query = scope.get("query_string", b"")
    text = query.decode("latin1") if isinstance(query, bytes) else str(query)
    values = parse_qs(text, keep_blank_values=True).get("info")
    if not values:
        return None
    raw = values[0].encode()
    if len(raw) > MAX_INFO_BYTES:
        raise BadInfo(f"info is over {MAX_INFO_BYTES} bytes")
    try:
        info = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise BadInfo("info is not JSON") from exc
    if not isinstance(info, dict):
        raise BadInfo("info is not a JSON object")
    return info


def credentials_of(scope: Scope, user: object) -> Credentials:
    """How a logged-in connection authenticated: its token's digest, or its session's key and auth hash."""
    if user is None or not getattr(user, "is_authenticated", False):
        return Credentials()
    authorization = header(scope, b"authorization")
    if authorization is not None:
        keyword, _, key = authorization.strip().partition(" ")
        if keyword.lower() == KEYWORD and key.strip():
            return Credentials(token=token_digest(key.strip()))
        return Credentials()
    session = scope.get("session")
    session_key = getattr(session, "session_key", None)
    if session is None or not isinstance(session_key, str):
        return Credentials()
    from django.contrib.auth import HASH_SESSION_KEY

    # The user was read from this session at the handshake: it is loaded, reading it costs no query.
    session_hash = session.get(HASH_SESSION_KEY)
    return Credentials(session_key=session_key, session_hash=session_hash if isinstance(session_hash, str) else None)

"""One frame across the gateway: an ASGI message to a WebSocket message and back, and the size limit. No I/O.

Text stays text and binary stays binary; every message is forwarded as one
message (the ``websockets`` library reassembles fragments before handing a
message on, as ASGI servers do).
"""

from __future__ import annotations

from ..core.types import ASGIMessage

__all__ = ["payload", "send_message", "too_big"]


def payload(message: ASGIMessage) -> str | bytes:
    """The data of an ASGI ``websocket.receive``: its ``text``, else its ``bytes``."""
    text = message.get("text")
    if text is not None:
        return str(text)
    return bytes(message.get("bytes") or b"")


def send_message(data: str | bytes) -> ASGIMessage:
    """The ASGI ``websocket.send`` carrying ``data`` as a text or a binary frame."""
    if isinstance(data, str):
        return {"type": "websocket.send", "text": data}
    return {"type": "websocket.send", "bytes": data}


def too_big(data: str | bytes, limit: int | None) -> bool:
    """Whether ``data`` is over ``limit`` bytes (text counted as UTF-8); ``None`` is no limit."""
    if limit is None or len(data) * 4 <= limit:  # UTF-8 takes at most 4 bytes a character
        return False
    return len(data) > limit or (isinstance(data, str) and len(data.encode()) > limit)

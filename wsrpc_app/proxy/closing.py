"""How one side's end reaches the other: close codes both ways, and the status of a refused handshake. No I/O.

A close code one side sent reaches the other unchanged when a close frame
may carry it (a target's 4008 reaches the client as 4008). What no frame may
carry is translated:

- the client vanished without a close frame (1006; uvicorn says 1005), or
  closed without a code (1005): the target sees 1001 *going away*;
- the target vanished without a close frame, or the gateway ended the
  target's side itself (a message over the limit, no answer to pings, a
  protocol error): the client sees 1014 *bad gateway*.

ASGI servers that accept only 1000 and 3000-4999 from an application
(daphne, through autobahn) get :func:`private_code`: 4000 + the code's last
three digits, as wsrpc's own 4009 stands for 1009.
"""

from __future__ import annotations

from typing import NamedTuple

from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.frames import EXTERNAL_CLOSE_CODES, CloseCode

__all__ = ["Ending", "for_target", "for_client", "private_code", "refusal_status", "PASSED_THROUGH_STATUSES"]

#: A target's handshake refusals the client sees as they are (so a client knows it may not,
#: and stops retrying); any other failure to reach the target is a 502, a timeout a 504.
PASSED_THROUGH_STATUSES = frozenset({401, 403})

#: RFC 6455 section 5.5: a control frame's payload is at most 125 bytes, 2 of them the code.
MAX_REASON_BYTES = 123


class Ending(NamedTuple):
    """The close code and reason to send one side."""

    code: int
    reason: str


def _sendable(code: int | None) -> bool:
    return code is not None and (code in EXTERNAL_CLOSE_CODES or 3000 <= code <= 4999)


def _reason(reason: str | None) -> str:
    return (reason or "").encode()[:MAX_REASON_BYTES].decode(errors="ignore")


def for_target(code: int | None, reason: str | None) -> Ending:
    """What the target hears when the client's side ended with ``code`` (an ASGI ``websocket.disconnect``)."""
    if not _sendable(code):
        return Ending(CloseCode.GOING_AWAY, "client went away")
    assert code is not None
    return Ending(code, _reason(reason))


def for_client(closed: ConnectionClosed) -> Ending:
    """What the client hears when the target's side ended as ``closed`` says."""
    received = closed.rcvd
    if received is None or not closed.rcvd_then_sent:
        # The target vanished, or the gateway closed its side (the reason says why).
        cause = closed.sent.reason if closed.sent is not None and closed.sent.reason else "target connection lost"
        return Ending(CloseCode.BAD_GATEWAY, _reason(cause))
    if received.code == CloseCode.NO_STATUS_RCVD:
        return Ending(CloseCode.NORMAL_CLOSURE, "")
    if not _sendable(received.code):
        return Ending(CloseCode.BAD_GATEWAY, _reason(received.reason))
    return Ending(received.code, _reason(received.reason))


def private_code(code: int) -> int:
    """``code`` for an ASGI server that sends only 1000 and 3000-4999: 1001-1015 become 4001-4015."""
    if 1000 < code < 1016:
        return 4000 + code - 1000
    return code


def refusal_status(error: BaseException) -> int:
    """The HTTP status refusing the client's handshake, when connecting to the target failed with ``error``."""
    if isinstance(error, InvalidStatus) and error.response.status_code in PASSED_THROUGH_STATUSES:
        return error.response.status_code
    if isinstance(error, TimeoutError):
        return 504
    return 502

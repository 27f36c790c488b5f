"""Close codes across the gateway, and the status of a refused handshake."""

from __future__ import annotations

import pytest
from websockets.datastructures import Headers
from websockets.exceptions import ConnectionClosedError, ConnectionClosedOK, InvalidStatus
from websockets.frames import Close
from websockets.http11 import Response

from wsrpc_app.proxy.closing import Ending, for_client, for_target, private_code, refusal_status


@pytest.mark.parametrize(
    ("code", "reason", "expected"),
    [
        (1000, "bye", Ending(1000, "bye")),
        (4321, "custom", Ending(4321, "custom")),
        (1001, None, Ending(1001, "")),
        (1005, None, Ending(1001, "client went away")),  # a close frame without a code, or uvicorn's lost client
        (1006, None, Ending(1001, "client went away")),
        (None, None, Ending(1001, "client went away")),
    ],
)
def test_what_the_target_hears(code: int | None, reason: str | None, expected: Ending) -> None:
    assert for_target(code, reason) == expected


def test_a_target_close_reaches_the_client_as_it_was() -> None:
    closed = ConnectionClosedOK(Close(4008, "slow"), Close(4008, "slow"), rcvd_then_sent=True)
    assert for_client(closed) == Ending(4008, "slow")


def test_a_target_close_without_a_code_is_a_normal_close() -> None:
    closed = ConnectionClosedOK(Close(1005, ""), Close(1000, ""), rcvd_then_sent=True)
    assert for_client(closed) == Ending(1000, "")


def test_a_vanished_target_is_a_bad_gateway() -> None:
    assert for_client(ConnectionClosedError(None, None)) == Ending(1014, "target connection lost")


def test_the_gateway_closing_the_target_is_a_bad_gateway_with_its_reason() -> None:
    closed = ConnectionClosedError(Close(1009, "over size limit"), Close(1009, "over size limit"), rcvd_then_sent=False)
    assert for_client(closed) == Ending(1014, "over size limit")


def test_long_reasons_are_cut_to_what_a_close_frame_holds() -> None:
    assert len(for_target(4000, "é" * 100).reason.encode()) <= 123


def test_private_codes_for_daphne() -> None:
    assert [private_code(code) for code in (1000, 1001, 1009, 1011, 1014, 4008)] == [1000, 4001, 4009, 4011, 4014, 4008]


def refused(status: int) -> InvalidStatus:
    return InvalidStatus(Response(status, "", Headers()))


@pytest.mark.parametrize(
    ("error", "status"),
    [
        (refused(403), 403),
        (refused(401), 401),
        (refused(404), 502),
        (refused(500), 502),
        (ConnectionRefusedError(), 502),
        (TimeoutError(), 504),
    ],
)
def test_refusal_status(error: BaseException, status: int) -> None:
    assert refusal_status(error) == status

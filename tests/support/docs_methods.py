"""Methods whose documentation the OpenRPC, AsyncAPI and docs page tests check.

Not in the test settings: the tests build a registry of them, or add them
with ``override_settings``.
"""

from __future__ import annotations

import dataclasses
import datetime
import decimal
import enum
import uuid
from typing import Annotated, Any

import pydantic

from wsrpc_app import Connection, rpc_method


class Colour(enum.Enum):
    RED = "red"
    GREEN = "green"


@dataclasses.dataclass
class Reading:
    sensor: str
    value: decimal.Decimal
    taken: datetime.datetime


class Order(pydantic.BaseModel):
    """An order and its lines."""

    id: uuid.UUID
    total: decimal.Decimal
    colour: Colour = Colour.RED
    lines: list[Reading] = []


class Opaque:
    """A class pydantic has no schema for (checked with isinstance)."""


@rpc_method(name="docs.echo_order")
def echo_order(order: Order) -> Order:
    """Return the order it was given.

    The total goes in as a number or a string
    and comes back as a string.
    """
    return order


@rpc_method(name="docs.readings")
def readings(sensor: str, *, limit: int) -> list[Reading]:
    """Readings of one sensor; ``limit`` is required, by name only."""
    return []


@rpc_method(name="docs.pair")
def pair(first: int, second: int = 2, /) -> tuple[int, int]:
    return (first, second)


@rpc_method(name="docs.described")
def described(count: Annotated[int, pydantic.Field(ge=1, description="How many, at least one.")]) -> int:
    return count


@rpc_method(name="docs.opaque")
def opaque(thing: Opaque) -> Opaque:
    return thing


@rpc_method(name="docs.anything")
def anything(value, *rest, **named):  # type: ignore[no-untyped-def]  # unannotated on purpose
    return value


@rpc_method(name="docs.escaped")
def escaped() -> None:
    """Shows <script>alert("x")</script> as text & ``code`` as code."""


@rpc_method(name="docs.staff", staff_required=True)
def staff(connection: Connection) -> str:
    """Only staff may call it."""
    return str(connection.user)


@rpc_method(name="docs.members", login_required=True)
async def members(connection: Connection, prefix: str = "") -> list[dict[str, Any]]:
    """Logged-in users only."""
    return []

"""Methods the tests call: the JSON-RPC specification's examples and edge cases."""

from __future__ import annotations

import asyncio
import contextvars
import dataclasses
import datetime
import decimal
import time
import uuid
from typing import Any

import pydantic

from wsrpc_app import Connection, RpcError, RpcMethods, rpc_method

# The methods of section 7 of the JSON-RPC 2.0 specification.


@rpc_method
def subtract(minuend: int, subtrahend: int) -> int:
    return minuend - subtrahend


@rpc_method(name="sum")
def sum_(*numbers: int) -> int:
    return sum(numbers)


@rpc_method
def update(*args: Any) -> None:
    return None


@rpc_method
def get_data() -> list[Any]:
    return ["hello", 5]


@rpc_method
def notify_hello(*args: Any) -> None:
    return None


@rpc_method
def notify_sum(*args: Any) -> None:
    return None


# Edge cases.


@rpc_method
async def sleep(seconds: float) -> float:
    await asyncio.sleep(seconds)
    return seconds


# What a method may do with its task and its context: a request that waits
# finishes on the task it started on (eager.run_here), in a context of its own.

_tag: contextvars.ContextVar[str | None] = contextvars.ContextVar("tag", default=None)


@rpc_method
async def tag(value: str, seconds: float = 0.0) -> str | None:
    """Set a context variable, wait, and return what it held before: another request's value must never show."""
    before = _tag.get()
    _tag.set(value)
    await asyncio.sleep(seconds)
    if _tag.get() != value:
        raise RpcError("lost its own context", code=-32050, data=_tag.get())
    return before


@rpc_method
async def own_timeout(seconds: float, limit: float) -> str:
    """``asyncio.timeout`` inside a method: it must cancel this method, nothing else."""
    try:
        async with asyncio.timeout(limit):
            await asyncio.sleep(seconds)
    except TimeoutError:
        return "timed out"
    return "finished"


@rpc_method
async def squares(count: int) -> list[int]:
    """A TaskGroup inside a method."""

    async def square(n: int) -> int:
        await asyncio.sleep(0.01)
        return n * n

    async with asyncio.TaskGroup() as group:
        tasks = [group.create_task(square(n)) for n in range(count)]
    return [task.result() for task in tasks]


@rpc_method
def sleep_sync(seconds: float) -> float:
    time.sleep(seconds)
    return seconds


@rpc_method
def fail() -> None:
    raise ValueError("secret internals")


@rpc_method
def fail_rpc() -> None:
    raise RpcError("Out of stock", code=-32050, data={"sku": "X1"})


@rpc_method
def fail_nan() -> float:
    return float("nan")


@rpc_method
def unserializable() -> object:
    return object()


@dataclasses.dataclass
class Point:
    x: int
    y: int


class Box(pydantic.BaseModel):
    label: str
    size: decimal.Decimal


@rpc_method
def rich() -> dict[str, Any]:
    return {
        "point": Point(1, 2),
        "box": Box(label="b", size=decimal.Decimal("1.50")),
        "when": datetime.datetime(2024, 1, 2, 3, 4, 5, tzinfo=datetime.UTC),
        "day": datetime.date(2024, 1, 2),
        "price": decimal.Decimal("9.99"),
        "id": uuid.UUID("12345678-1234-5678-1234-567812345678"),
    }


@rpc_method
def typed(when: datetime.date, point: Point, box: Box, tags: list[str] | None = None) -> dict[str, Any]:
    return {"weekday": when.isoweekday(), "sum": point.x + point.y, "box": box, "tags": tags}


@rpc_method
def keywords(a: int, *, b: int = 2, **rest: int) -> dict[str, Any]:
    return {"a": a, "b": b, "rest": rest}


@rpc_method
def positional(a: int, b: int, /) -> int:
    return a * 10 + b


@rpc_method
async def who(connection: Connection) -> str | None:
    user = connection.user
    return user.get_username() if user is not None and user.is_authenticated else None


@rpc_method
async def call_back(connection: Connection, method: str, params: list[Any] | dict[str, Any] | None = None) -> Any:
    """Call the caller back with ``method`` and return what it answered."""
    return await connection.request(method, params)


@rpc_method
async def notify_back(connection: Connection, method: str, params: list[Any] | None = None) -> bool:
    await connection.notify(method, *(params or []))
    return True


@rpc_method
def db_user_count() -> int:
    from django.contrib.auth import get_user_model

    return get_user_model().objects.count()


class Shapes(RpcMethods):
    namespace = "shapes"

    def area(self, width: float, height: float) -> float:
        return width * height

    @staticmethod
    def unit() -> int:
        return 1

    def _hidden(self) -> None:
        raise AssertionError("never exposed")

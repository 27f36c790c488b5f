"""A method taking a ``typing.TypedDict``, which pydantic refuses before Python 3.12.

(``typing_extensions.TypedDict`` works on every version.)
"""

from __future__ import annotations

from typing import TypedDict

from wsrpc_app import rpc_method


class Point(TypedDict):
    x: int
    y: int


@rpc_method(name="typed.manhattan")
def manhattan(point: Point) -> int:
    return abs(point["x"]) + abs(point["y"])

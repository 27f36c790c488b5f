"""Type aliases shared across the package."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, TypeAlias

__all__ = ["JSON", "Id", "Params", "SendText", "RunSync"]

#: Any value that JSON can carry once decoded.
JSON: TypeAlias = Any
#: A JSON-RPC request id: a string, a number or null.
Id: TypeAlias = str | int | float | None
#: JSON-RPC params: positional (array) or named (object).
Params: TypeAlias = list[Any] | dict[str, Any]
#: Writes one text frame to the peer.
SendText: TypeAlias = Callable[[str], Awaitable[None]]
#: Runs a blocking callable off the event loop and returns its result.
RunSync: TypeAlias = Callable[..., Awaitable[Any]]

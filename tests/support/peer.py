"""The far side of an :class:`Endpoint` under test: it feeds frames in and reads what comes out."""

from __future__ import annotations

import asyncio
import inspect
import json
from typing import Any

from wsrpc_app.core.dispatch import Dispatcher
from wsrpc_app.core.endpoint import Endpoint
from wsrpc_app.core.registry import Registry

__all__ = ["Peer", "strict_loads", "settle", "spec_form"]

#: How long a test waits for something that should happen at once.
PROMPTLY = 2.0


def strict_loads(text: str | bytes) -> Any:
    """Parse JSON as RFC 8259 defines it: NaN and Infinity are not JSON."""

    def refuse(constant: str) -> Any:
        raise ValueError(f"{constant} is not JSON")

    return json.loads(text, parse_constant=refuse)


async def settle(endpoint: Endpoint) -> None:
    """Wait until every request the endpoint started has been answered."""
    async with asyncio.timeout(PROMPTLY):
        while endpoint.running:
            await asyncio.gather(*list(endpoint.running.values()))


def spec_form(reply: Any) -> Any:
    """A reply as the specification's examples write it: error objects without ``data``.

    ``data`` is optional ("may be omitted", section 5.1) and its value is the
    server's to define, so the examples leave it out; everything else must match.
    """
    if isinstance(reply, list):
        return [spec_form(item) for item in reply]
    if isinstance(reply, dict) and isinstance(reply.get("error"), dict):
        error = reply["error"]
        assert set(error) <= {"code", "message", "data"}, error
        return {**reply, "error": {key: value for key, value in error.items() if key != "data"}}
    return reply


class Peer:
    """Talks to an endpoint serving ``entries`` and records every frame it sends."""

    def __init__(
        self,
        *entries: Any,
        registry: Registry | None = None,
        context: Any = None,
        time_limit: float | None = None,
        debug: bool = False,
        **endpoint_options: Any,
    ) -> None:
        self.frames: list[str] = []
        self._arrived = asyncio.Condition()
        self.dispatcher = Dispatcher(
            registry if registry is not None else Registry.from_entries(entries),
            time_limit=time_limit,
            debug=debug,
        )
        self.endpoint = Endpoint(self.send, self.dispatcher, context, **endpoint_options)

    async def send(self, text: str) -> None:
        assert isinstance(text, str), "a JSON-RPC frame is text"
        async with self._arrived:
            self.frames.append(text)
            self._arrived.notify_all()

    async def wait_for_frames(self, count: int = 1) -> None:
        """Wait until at least ``count`` frames have arrived."""
        async with asyncio.timeout(PROMPTLY), self._arrived:
            await self._arrived.wait_for(lambda: len(self.frames) >= count)

    def take(self) -> list[Any]:
        """The frames received so far, parsed strictly, and forget them."""
        messages = [strict_loads(frame) for frame in self.frames]
        self.frames.clear()
        return messages

    async def exchange(self, frame: str | bytes | Any) -> Any:
        """Send one frame and return the one reply to it, parsed, or None when none came.

        ``frame`` is sent as is when it is text or bytes, else encoded as JSON.
        """
        if not isinstance(frame, str | bytes):
            frame = json.dumps(frame)
        await self.endpoint.receive(frame)
        await settle(self.endpoint)
        replies = self.take()
        assert len(replies) <= 1, f"one frame got several replies: {replies}"
        return replies[0] if replies else None


def canonical(func: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[tuple[Any, ...], dict[str, Any]]:
    """The arguments ``func`` receives from ``func(*args, **kwargs)``, as inspect binds them."""
    bound = inspect.signature(func).bind(*args, **kwargs)
    return bound.args, bound.kwargs

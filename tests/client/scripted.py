"""A scripted WebSocket server for the Python client's tests: it answers as each test says.

::

    async with ScriptedServer() as server:
        server.answer("rpc.subscribe", lambda params: ({"topic": params["topic"], "subscribed": True}, []))
        async with WsRpcClient(server.url) as client:
            ...
            await server.send({"jsonrpc": "2.0", "method": "rpc.event", "params": {...}})
            await server.drop()  # the client reconnects to the same server
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from types import TracebackType
from typing import Any

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed

__all__ = ["ScriptedServer", "Answer", "Drop", "Refuse", "event_frame"]

#: ``answer(params) -> (result, frames sent right after the reply)``; raising ``Refuse`` answers an error.
Answer = Callable[[Any], tuple[Any, list[Any]]]


class Drop(Exception):
    """Raised by an answer: the server closes the connection instead of answering (it restarts)."""


class Refuse(Exception):
    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code


def event_frame(topic: str, data: Any, offset: int | None = None, epoch: str = "e1", **extra: Any) -> dict[str, Any]:
    params: dict[str, Any] = {"topic": topic, "data": data, **extra}
    if offset is not None:
        params.update(offset=offset, epoch=epoch)
    return {"jsonrpc": "2.0", "method": "rpc.event", "params": params}


class ScriptedServer:
    """Accepts connections on a free port; every request is recorded as ``(connection number, method, params)``."""

    def __init__(self) -> None:
        self.requests: list[tuple[int, str, Any]] = []
        self.connections: list[ServerConnection] = []
        self._answers: dict[str, Answer] = {
            "rpc.ping": lambda params: ("pong", []),
            "rpc.subscribe": lambda params: ({"topic": params["topic"], "subscribed": True}, []),
            "rpc.unsubscribe": lambda params: ({"topic": params["topic"], "subscribed": False}, []),
        }
        self._server: Server | None = None
        self.changed = asyncio.Condition()

    def answer(self, method: str, answer: Answer) -> None:
        self._answers[method] = answer

    @property
    def url(self) -> str:
        assert self._server is not None
        host, port = next(iter(self._server.sockets)).getsockname()[:2]
        return f"ws://{host}:{port}/ws/rpc/"

    def sent(self, method: str) -> list[tuple[int, Any]]:
        """(connection number, params) of every request of ``method``."""
        return [(n, params) for n, name, params in self.requests if name == method]

    async def wait_for(self, predicate: Callable[[], bool], within: float = 5.0) -> None:
        async with asyncio.timeout(within), self.changed:
            await self.changed.wait_for(predicate)

    async def send(self, *frames: Any) -> None:
        """Frames to the latest connection, back to back."""
        for frame in frames:
            await self.connections[-1].send(json.dumps(frame))

    async def drop(self) -> None:
        """Close the latest connection as a restarting server does (1012)."""
        await self.connections[-1].close(1012, "restart")

    async def _serve(self, connection: ServerConnection) -> None:
        number = len(self.connections)
        async with self.changed:
            self.connections.append(connection)
            self.changed.notify_all()
        try:
            await self._answer_all(connection, number)
        except ConnectionClosed:
            pass

    async def _answer_all(self, connection: ServerConnection, number: int) -> None:
        async for text in connection:
            message = json.loads(text)
            method, params, id_ = message.get("method"), message.get("params"), message.get("id")
            async with self.changed:
                self.requests.append((number, method, params))
                self.changed.notify_all()
            answer = self._answers.get(method)
            if id_ is None:
                continue
            if answer is None:
                error = {"code": -32601, "message": "Method not found"}
                await connection.send(json.dumps({"jsonrpc": "2.0", "error": error, "id": id_}))
                continue
            try:
                result, after = answer(params)
            except Drop:
                await connection.close(1012, "restart")
                return
            except Refuse as refusal:
                error = {"code": refusal.code, "message": str(refusal)}
                await connection.send(json.dumps({"jsonrpc": "2.0", "error": error, "id": id_}))
                continue
            await connection.send(json.dumps({"jsonrpc": "2.0", "result": result, "id": id_}))
            for frame in after:
                await connection.send(json.dumps(frame))

    async def __aenter__(self) -> ScriptedServer:
        self._server = await serve(self._serve, "127.0.0.1", 0)
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        assert self._server is not None
        self._server.close()
        await self._server.wait_closed()

"""The practical ceiling: a bare ``websockets`` server, processes joined by Redis pub/sub.

Each process subscribes (one ``redis.asyncio`` connection) to a Redis channel
per topic that has local subscribers. A publish encodes the ``rpc.event``
frame once and ``PUBLISH``es it; every process hands the frame to its local
sockets with ``websockets.broadcast`` (no per-connection queue, no
backpressure). It speaks the same small JSON-RPC subset as every peer, and
answers ``add(a, b)`` for the calls workloads. With ``BENCH_LAYER=memory`` it
uses no Redis: a publish reaches this process's sockets only.

Run: ``python -m benchmarks.peers.websockets_bare --host 127.0.0.1 --port 8765``
with ``REDIS_URL`` and ``BENCH_LAYER_PREFIX`` in the environment.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
from typing import Any

from redis.asyncio import BlockingConnectionPool, Redis
from websockets.asyncio.server import ServerConnection, broadcast, serve

__all__ = ["Broker", "main"]

logger = logging.getLogger("benchmarks.websockets_bare")

#: Redis connections a process publishes on at most.
POOL_SIZE = 50


def _reply(request: dict[str, Any], result: Any) -> str:
    return json.dumps({"jsonrpc": "2.0", "id": request.get("id"), "result": result})


class Broker:
    """Local sockets by topic, fed from Redis pub/sub."""

    def __init__(self, redis: Redis | None, prefix: str) -> None:
        self.redis = redis
        self.prefix = prefix
        self.pubsub = redis.pubsub() if redis is not None else None
        self.topics: dict[str, set[ServerConnection]] = {}
        self._confirmed: dict[str, asyncio.Future[None]] = {}

    async def start(self) -> None:
        if self.pubsub is None:
            return
        # Subscribe to something first, so that the reader has a connection to read from.
        await self.pubsub.subscribe(f"{self.prefix}:ready")
        self._reader = asyncio.ensure_future(self._read())

    async def _subscribe(self, channel: str) -> None:
        if self.pubsub is None:
            return
        confirmed = self._confirmed[channel] = asyncio.get_running_loop().create_future()
        await self.pubsub.subscribe(channel)
        # SUBSCRIBE only counts once Redis confirms it; a publish before that would miss us.
        await confirmed

    async def _read(self) -> None:
        assert self.pubsub is not None
        offset = len(self.prefix) + 1
        async for message in self.pubsub.listen():
            kind = message["type"]
            channel = message["channel"].decode()
            if kind == "message":
                subscribers = self.topics.get(channel[offset:])
                if subscribers:
                    broadcast(subscribers, message["data"], text=True)
            elif kind == "subscribe":
                future = self._confirmed.pop(channel, None)
                if future is not None and not future.done():
                    future.set_result(None)

    async def handle(self, websocket: ServerConnection) -> None:
        mine: set[str] = set()
        try:
            async for text in websocket:
                request = json.loads(text)
                params = request.get("params") or {}
                method = request.get("method")
                if method == "add":
                    a, b = (params["a"], params["b"]) if isinstance(params, dict) else params
                    await websocket.send(_reply(request, a + b))
                elif method == "rpc.subscribe":
                    topic = params["topic"]
                    subscribers = self.topics.get(topic)
                    if subscribers is None:
                        subscribers = self.topics[topic] = set()
                        await self._subscribe(f"{self.prefix}:{topic}")
                    subscribers.add(websocket)
                    mine.add(topic)
                    await websocket.send(_reply(request, {"topic": topic, "subscribed": True}))
                elif method == "rpc.publish":
                    topic = params["topic"]
                    params_json = json.dumps({"topic": topic, "data": params.get("data")}, separators=(",", ":"))
                    frame = f'{{"jsonrpc":"2.0","method":"rpc.event","params":{params_json}}}'
                    if self.redis is None:
                        broadcast(self.topics.get(topic, ()), frame)
                    else:
                        await self.redis.publish(f"{self.prefix}:{topic}", frame)
                    await websocket.send(_reply(request, {"topic": topic}))
                else:
                    error = {"code": -32601, "message": "Method not found"}
                    await websocket.send(json.dumps({"jsonrpc": "2.0", "id": request.get("id"), "error": error}))
        finally:
            for topic in mine:
                self.topics[topic].discard(websocket)


async def main(host: str, port: int) -> None:
    local = os.environ.get("BENCH_LAYER") == "memory"
    url = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
    # Publishers wait for a pooled connection rather than fail when all are busy (redis-py's plain pool raises).
    redis = None if local else Redis(connection_pool=BlockingConnectionPool.from_url(url, max_connections=POOL_SIZE))
    broker = Broker(redis, os.environ.get("BENCH_LAYER_PREFIX", "bench"))
    await broker.start()
    async with serve(broker.handle, host, port) as server:
        await server.serve_forever()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8765)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    try:
        import uvloop
    except ImportError:
        asyncio.run(main(args.host, args.port))
    else:
        uvloop.run(main(args.host, args.port))

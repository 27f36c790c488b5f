"""Bare Channels pub/sub, written the way Channels documents it: a group per topic.

Each connection ``group_add``s its own channel to the topic's group; a
publish is one ``group_send`` to the group, and the channel layer hands the
event to every member, which encodes and sends it itself (per-connection
delivery). It speaks the same small JSON-RPC subset as every peer:
``rpc.subscribe`` and ``rpc.publish`` requests, ``rpc.event`` notifications,
and ``add(a, b)`` for the calls workloads (answered in the consumer, no thread hop).

Serve with ``uvicorn benchmarks.peers.channels_bare:application`` and
``DJANGO_SETTINGS_MODULE=benchmarks.peers.channels_settings``.
"""

from __future__ import annotations

import os
from typing import Any

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "benchmarks.peers.channels_settings")
django.setup()

from channels.generic.websocket import AsyncJsonWebsocketConsumer  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from django.urls import path  # noqa: E402

__all__ = ["TopicConsumer", "application"]


def _add(params: Any) -> Any:
    a, b = (params["a"], params["b"]) if isinstance(params, dict) else params
    return a + b


def _group(topic: str) -> str:
    return f"topic.{topic}"


class TopicConsumer(AsyncJsonWebsocketConsumer):  # type: ignore[misc]  # channels has no type hints
    """A subscriber or publisher connection."""

    async def connect(self) -> None:
        self.topics: set[str] = set()
        await self.accept()

    async def disconnect(self, code: int) -> None:
        for topic in self.topics:
            await self.channel_layer.group_discard(_group(topic), self.channel_name)

    async def receive_json(self, content: Any, **kwargs: Any) -> None:
        method = content.get("method")
        params = content.get("params") or {}
        if method == "rpc.subscribe":
            topic = params["topic"]
            await self.channel_layer.group_add(_group(topic), self.channel_name)
            self.topics.add(topic)
            await self._reply(content, {"topic": topic, "subscribed": True})
        elif method == "add":
            await self._reply(content, _add(params))
        elif method == "rpc.publish":
            topic = params["topic"]
            await self.channel_layer.group_send(
                _group(topic), {"type": "topic.event", "topic": topic, "data": params.get("data")}
            )
            await self._reply(content, {"topic": topic})
        else:
            await self.send_json(
                {"jsonrpc": "2.0", "id": content.get("id"), "error": {"code": -32601, "message": "Method not found"}}
            )

    async def topic_event(self, event: dict[str, Any]) -> None:
        await self.send_json(
            {"jsonrpc": "2.0", "method": "rpc.event", "params": {"topic": event["topic"], "data": event["data"]}}
        )

    async def _reply(self, request: dict[str, Any], result: Any) -> None:
        if "id" in request:
            await self.send_json({"jsonrpc": "2.0", "id": request["id"], "result": result})


application = ProtocolTypeRouter({"websocket": URLRouter([path("ws/rpc/", TopicConsumer.as_asgi())])})

"""The wsrpc_app modules one ``rpc.publish`` passes through on the server, from the frame in to the event out.

    .venv/bin/python -m benchmarks.hops

Traces every Python function entered (and every coroutine resumed) in
``wsrpc_app`` while one publish, to a topic the connection itself
subscribes to, is read, checked, sent over an in-memory channel layer,
delivered back and answered. Prints the number of module changes along that
path, the number of distinct modules, and the path itself.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import threading
from types import FrameType

__all__ = ["main"]


def _publish(id_: int, data: object) -> str:
    params = {"topic": "bench.room", "data": data}
    return json.dumps({"jsonrpc": "2.0", "method": "rpc.publish", "params": params, "id": id_})


async def _trace() -> list[str]:
    from channels.routing import URLRouter
    from channels.testing import WebsocketCommunicator
    from django.contrib.auth.models import AnonymousUser

    from wsrpc_app.routing import websocket_urlpatterns

    entered: list[str] = []

    def tracer(frame: FrameType, event: str, arg: object) -> None:
        module = frame.f_globals.get("__name__", "")
        if event == "call" and module.startswith("wsrpc_app"):
            entered.append(module.removeprefix("wsrpc_app."))

    socket = WebsocketCommunicator(URLRouter(websocket_urlpatterns), "/ws/rpc/")
    socket.scope["user"] = AnonymousUser()
    await socket.connect()
    subscribe = {"jsonrpc": "2.0", "method": "rpc.subscribe", "params": {"topic": "bench.room"}, "id": 1}
    await socket.send_to(text_data=json.dumps(subscribe))
    await socket.receive_from()
    await socket.send_to(text_data=_publish(2, 0))  # once untraced: caches and the hub are warm
    await socket.receive_from()
    await socket.receive_from()
    sys.settrace(tracer)
    threading.settrace(tracer)
    await socket.send_to(text_data=_publish(3, 1))
    await socket.receive_from()
    await socket.receive_from()
    sys.settrace(None)
    threading.settrace(None)  # type: ignore[arg-type]  # typeshed wants a function; None unsets it
    await socket.disconnect()
    return entered


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")
    import django

    django.setup()
    from django.test.utils import setup_databases, setup_test_environment

    setup_test_environment()
    setup_databases(verbosity=0, interactive=False)
    from wsrpc_app.models import Topic

    Topic.objects.update_or_create(name="bench.room", defaults={"anonymous_subscribe": True, "anonymous_publish": True})
    entered = asyncio.run(_trace())
    path = [module for i, module in enumerate(entered) if i == 0 or entered[i - 1] != module]
    print(f"{len(path) - 1} module changes through {len(set(entered))} modules")
    print(" -> ".join(path))


if __name__ == "__main__":
    main()

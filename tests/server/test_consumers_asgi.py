"""``RpcConsumer.as_asgi()``: a plain function returning the consumer's coroutine, with Channels' attributes."""

from __future__ import annotations

from typing import Any

from asgiref.compatibility import guarantee_single_callable
from asgiref.sync import iscoroutinefunction
from channels.routing import URLRouter
from channels.testing import WebsocketCommunicator
from django.urls import path

from wsrpc_app.consumers import RpcConsumer


class Named(RpcConsumer):
    """A consumer of its own."""

    def __init__(self, *args: Any, label: str = "", **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.label = label


def test_attributes_as_channels_sets_them() -> None:
    app = Named.as_asgi(label="x")
    assert app.consumer_class is Named
    assert app.consumer_initkwargs == {"label": "x"}
    assert (app.__name__, app.__qualname__, app.__module__) == ("Named", "Named", __name__)
    assert app.__doc__ == Named.__doc__
    assert app.__wrapped__ is Named


def test_is_an_asgi3_application() -> None:
    app = RpcConsumer.as_asgi()
    assert iscoroutinefunction(app)
    assert guarantee_single_callable(app) is app


def test_returns_a_new_consumers_coroutine() -> None:
    app = Named.as_asgi(label="x")
    first = app({"type": "websocket"}, None, None)
    second = app({"type": "websocket"}, None, None)
    try:
        assert first.cr_code is RpcConsumer._read.__code__  # type: ignore[attr-defined]
        assert first.cr_frame.f_locals["self"] is not second.cr_frame.f_locals["self"]  # type: ignore[attr-defined]
        assert first.cr_frame.f_locals["self"].label == "x"  # type: ignore[attr-defined]
    finally:
        first.close()  # type: ignore[attr-defined]
        second.close()  # type: ignore[attr-defined]


async def test_routed_by_url_router() -> None:
    communicator = WebsocketCommunicator(URLRouter([path("ws/<str:room>/", Named.as_asgi())]), "/ws/lobby/")
    assert (await communicator.connect())[0]
    await communicator.send_json_to({"jsonrpc": "2.0", "method": "rpc.ping", "id": 1})
    assert (await communicator.receive_json_from())["result"] == "pong"
    await communicator.disconnect()

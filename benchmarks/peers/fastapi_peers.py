"""fastapi-websocket-rpc and fastapi-websocket-pubsub servers, for comparison (optional: the ``bench`` extra).

- :data:`rpc_app`: a ``WebsocketRPCEndpoint`` exposing ``add(a, b)``;
- :data:`pubsub_app`: a ``PubSubEndpoint``; with ``BENCH_BROADCAST_URL``
  (``redis://...``) its processes share events through permit-broadcaster.

Both serve ``ws/rpc/`` with uvicorn (``uvicorn benchmarks.peers.fastapi_peers:rpc_app``).
They speak their own envelope, not JSON-RPC: ``{"request": {"method",
"arguments", "call_id"}}`` answered by ``{"response": {"result",
"result_type", "call_id"}}``; :mod:`benchmarks.dialects` speaks it.

No ``from __future__ import annotations`` here: fastapi-websocket-rpc reads a
method's return annotation at run time to build the response model, and a
string annotation would not do.
"""

import os

from fastapi import FastAPI, WebSocket
from fastapi_websocket_pubsub import PubSubEndpoint
from fastapi_websocket_rpc import RpcMethodsBase, WebsocketRPCEndpoint

__all__ = ["PATH", "pubsub_app", "pubsub_endpoint", "rpc_app"]

PATH = "/ws/rpc/"


class Calculator(RpcMethodsBase):  # type: ignore[misc]
    async def add(self, a: int, b: int) -> int:
        return a + b


rpc_app = FastAPI()
WebsocketRPCEndpoint(Calculator()).register_route(rpc_app, PATH)

pubsub_app = FastAPI()
pubsub_endpoint = PubSubEndpoint(broadcaster=os.environ.get("BENCH_BROADCAST_URL") or None)


# Not pubsub_endpoint.register_route(): that routes to the inner RPC endpoint and leaves the broadcaster out, so
# events would never cross processes. The project's examples route to main_loop, which enters its context.
@pubsub_app.websocket(PATH)
async def pubsub_socket(websocket: WebSocket):  # type: ignore[no-untyped-def]
    await pubsub_endpoint.main_loop(websocket)

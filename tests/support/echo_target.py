"""A plain WebSocket service (not wsrpc) for the gateway tests, run as its own process.

``python -m tests.support.echo_target HOST PORT [CERT KEY]`` serves (over TLS
with CERT and KEY), on any path,
a connection named by its path (``/echo/<room>``) that echoes every frame as
it came (text as text, binary as binary), except these text commands:

- ``headers``: a JSON text of the handshake's path, headers and chosen subprotocol;
- ``close CODE REASON``: closes with that code and reason;
- ``drop``: drops the TCP connection without a close frame;
- ``flood COUNT SIZE``: sends COUNT binary frames of SIZE random bytes, each starting with its index (4 bytes);
- ``big SIZE``: sends one binary frame of SIZE bytes;
- ``sent PATH``: how many frames the flood of the connection at PATH has sent so far;
- ``closed PATH``: JSON ``{"code", "reason"}`` the connection at PATH was closed with (``null`` while open);
- ``open``: how many connections are open now, this one included.

The path ``/refuse`` refuses the handshake with 403. Subprotocols: ``v2.echo``
is preferred to ``v1.echo``; others are not spoken. :class:`EchoTarget`
starts it for a test.
"""

from __future__ import annotations

import asyncio
import json
import os
import ssl
import sys
from http import HTTPStatus
from typing import Any

from websockets.asyncio.server import ServerConnection, serve
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

from .servers import ServerProcess
from .tls import Certificate

__all__ = ["EchoTarget", "SUBPROTOCOLS"]

#: The subprotocols the echo target speaks, preferred first.
SUBPROTOCOLS = ("v2.echo", "v1.echo")
#: Large enough for the huge-frame tests: the gateway's limit is what they test.
MAX_SIZE = 64 * 1024 * 1024

open_connections: set[ServerConnection] = set()
sent: dict[str, int] = {}
closed: dict[str, dict[str, Any]] = {}


def refuse(connection: ServerConnection, request: Request) -> Response | None:
    if request.path == "/refuse":
        return connection.respond(HTTPStatus.FORBIDDEN, "refused\n")
    return None


def select_subprotocol(connection: ServerConnection, offered: Any) -> str | None:
    for subprotocol in SUBPROTOCOLS:
        if subprotocol in offered:
            return subprotocol
    return None


async def command(ws: ServerConnection, text: str) -> bool:
    """Run ``text`` when it is a command; whether it was one."""
    word, _, rest = text.partition(" ")
    if word == "headers":
        request = ws.request
        assert request is not None
        headers = [[name, value] for name, value in request.headers.raw_items()]
        await ws.send(json.dumps({"path": request.path, "headers": headers, "subprotocol": ws.subprotocol}))
    elif word == "close":
        code, _, reason = rest.partition(" ")
        await ws.close(int(code), reason)
    elif word == "drop":
        ws.transport.abort()
    elif word == "flood":
        count, size = (int(part) for part in rest.split())
        path = ws.request.path if ws.request else ""
        filler = os.urandom(size - 4)  # incompressible: permessage-deflate must not shrink the flood
        for index in range(count):
            await ws.send(index.to_bytes(4, "big") + filler)
            sent[path] = index + 1
    elif word == "big":
        await ws.send(bytes(int(rest)))
    elif word == "sent":
        await ws.send(str(sent.get(rest, 0)))
    elif word == "closed":
        await ws.send(json.dumps(closed.get(rest)))
    elif word == "open":
        await ws.send(str(len(open_connections)))
    else:
        return False
    return True


async def handler(ws: ServerConnection) -> None:
    path = ws.request.path if ws.request else ""
    closed.pop(path, None)
    open_connections.add(ws)
    try:
        async for message in ws:
            if isinstance(message, str) and await command(ws, message):
                continue
            await ws.send(message)
    except ConnectionClosed:
        pass
    finally:
        open_connections.discard(ws)
        closed[path] = {"code": ws.close_code, "reason": ws.close_reason}


async def main(host: str, port: int, cert: str | None = None, key: str | None = None) -> None:
    context = None
    if cert is not None:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(cert, key)
    async with serve(
        handler,
        host,
        port,
        process_request=refuse,
        select_subprotocol=select_subprotocol,
        max_size=MAX_SIZE,
        ping_interval=None,
        ssl=context,
    ) as server:
        await server.serve_forever()


class EchoTarget(ServerProcess):
    """The echo target in a subprocess on a free port: ``target.url`` for a gateway's route."""

    def __init__(self, port: int | None = None, *, tls: Certificate | None = None) -> None:
        super().__init__("uvicorn", migrate=False, port=port)
        self.tls = tls

    def __repr__(self) -> str:
        return f"<EchoTarget on {self.host}:{self.port}>"

    @property
    def url(self) -> str:
        return f"{'wss' if self.tls else 'ws'}://{self.host}:{self.port}"

    def command(self) -> list[str]:
        tls = [str(self.tls.cert), str(self.tls.key)] if self.tls else []
        return [sys.executable, "-m", "tests.support.echo_target", self.host, str(self.port), *tls]


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], int(sys.argv[2]), *sys.argv[3:5]))

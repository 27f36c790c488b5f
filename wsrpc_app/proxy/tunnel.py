"""One proxied pair once both handshakes are done: frames both ways, then both sides closed.

Two pumps run side by side, one per direction, each taking the next message
only after the previous one was handed on, so order is kept and nothing
piles up in the gateway:

- target to client: ``websockets`` holds at most ``max_queue`` messages read
  from the target and stops reading the socket beyond that; the pump waits
  on the ASGI server's ``send``, which waits while the client's socket is
  full on uvicorn (daphne buffers writes without bound);
- client to target: the pump waits on ``websockets``' ``send``, which waits
  while more than ``write_limit`` bytes are unsent to the target; uvicorn
  then stops reading the client (daphne queues what it reads).

Whichever side ends first decides: its close code and reason go to the
other side (:mod:`~wsrpc_app.proxy.closing`), the other pump is cancelled,
and :meth:`Tunnel.run` returns only once both are done and the target's
socket is closed.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable

from websockets.asyncio.client import ClientConnection
from websockets.exceptions import ConnectionClosed
from websockets.frames import CloseCode
from websockets.protocol import State

from ..core.types import ASGIMessage, Receive, Send
from .closing import Ending, for_client, for_target, private_code
from .frames import payload, send_message, too_big

__all__ = ["Tunnel"]

logger = logging.getLogger("wsrpc.proxy")


class Tunnel:
    """Forwards frames between an accepted ASGI WebSocket and an open ``websockets`` connection to the target.

    ``first`` is the client's next ASGI message, already being awaited
    (the gateway listens for a disconnect while it connects to the target).
    """

    def __init__(
        self,
        target: ClientConnection,
        receive: Receive,
        send: Send,
        first: Awaitable[ASGIMessage],
        *,
        max_message_bytes: int | None,
    ) -> None:
        self.target = target
        self.receive = receive
        self.send = send
        self.first = first
        self.max_message_bytes = max_message_bytes
        self._client_closed = False

    async def run(self) -> None:
        """Forward until either side ends; then close the other and return."""
        to_target = asyncio.ensure_future(self._client_to_target())
        to_client = asyncio.ensure_future(self._target_to_client())
        try:
            done, _ = await asyncio.wait({to_target, to_client}, return_when=asyncio.FIRST_COMPLETED)
            if to_target in done and to_target.result():
                # The target went away while a frame was sent to it: the other pump says how.
                await to_client
        finally:
            for task in (to_target, to_client):
                task.cancel()
            await asyncio.gather(to_target, to_client, return_exceptions=True)
            if self.target.state is not State.CLOSED:
                # Cancelled from outside (the server shutting down): no closing handshake to wait for.
                self.target.transport.abort()

    async def _client_to_target(self) -> bool:
        """Forward the client's frames; true when the target went away first."""
        message = await self.first
        while message["type"] == "websocket.receive":
            data = payload(message)
            if too_big(data, self.max_message_bytes):
                logger.info("closing a proxied connection whose client sent over %s bytes", self.max_message_bytes)
                await self._close_client(Ending(CloseCode.MESSAGE_TOO_BIG, "message too big"))
                await self.target.close(CloseCode.GOING_AWAY, "client sent a message too big")
                return False
            try:
                await self.target.send(data)
            except ConnectionClosed:
                return True
            message = await self.receive()
        # websocket.disconnect: the client closed or vanished.
        ending = for_target(message.get("code"), message.get("reason"))
        await self.target.close(ending.code, ending.reason)
        return False

    async def _target_to_client(self) -> None:
        """Forward the target's frames; when it ends, close the client the same way."""
        try:
            while True:
                data = await self.target.recv()
                try:
                    await self.send(send_message(data))
                except OSError:  # uvicorn: the client is gone; its disconnect ends the other pump
                    await asyncio.Future()
        except ConnectionClosed as closed:
            await self._close_client(for_client(closed))

    async def _close_client(self, ending: Ending) -> None:
        if self._client_closed:
            return
        self._client_closed = True
        message: ASGIMessage = {"type": "websocket.close", "code": int(ending.code), "reason": ending.reason}
        try:
            await self.send(message)
        except OSError:
            return  # the client is gone already
        except Exception as exc:  # autobahn (daphne) refuses codes other than 1000 and 3000-4999
            code = private_code(ending.code)
            if code == ending.code:
                raise
            logger.debug("the ASGI server refused close code %d (%s); closing with %d", ending.code, exc, code)
            await self.send({**message, "code": code})

"""The client side every workload shares: WebSocket connections and the JSON-RPC subset every peer speaks.

One asyncio process holds every socket, so one monotonic clock
(``time.perf_counter_ns``) timestamps both a send and its deliveries.

Connections run websockets' Sans-I/O protocol (:class:`websockets.client.ClientProtocol`)
on an :class:`asyncio.Protocol` and hand each incoming text message to a
callback, as soon as it is parsed. The library's asyncio client queues every
message and wakes a task for it, which costs about 17 µs a message here: one
client process would then top out near 50k deliveries/s, below what the
fastest peer serves, and the benchmark would measure the client. Compression
is off on every connection: the benchmarks measure the servers' message
paths, not zlib.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Callable, Iterable, Sequence
from typing import Any
from urllib.parse import urlsplit

import orjson
from websockets.client import ClientProtocol
from websockets.frames import Frame, Opcode
from websockets.http11 import Response
from websockets.protocol import State
from websockets.typing import Origin
from websockets.uri import parse_uri

from .dialects import Dialect, Reply

__all__ = ["Caller", "Connection", "Publisher", "call_each", "close_all", "open_many", "request", "subscribe_all"]

#: How many connections are opened, called or closed at once. Also keeps
#: bare Channels on RedisChannelLayer within redis-py's default pool of 100
#: connections per process (its group_add takes one each, and redis-py 6+
#: raises MaxConnectionsError past it instead of waiting).
CONCURRENCY = 50
#: Seconds to wait for a handshake or a reply.
REPLY_TIMEOUT = 15.0
#: Seconds to wait for the server to close after our close frame.
CLOSE_TIMEOUT = 2.0


def request(request_id: int, method: str, params: Any) -> bytes:
    """A JSON-RPC 2.0 request frame."""
    return orjson.dumps({"jsonrpc": "2.0", "id": request_id, "method": method, "params": params})


class Connection(asyncio.Protocol):
    """One client WebSocket; every incoming text message goes to :attr:`on_text`, as bytes.

    Until something else takes :attr:`on_text` over, messages are read as
    replies to :meth:`call`.
    """

    def __init__(self, url: str) -> None:
        loop = asyncio.get_running_loop()
        self.url = url
        parts = urlsplit(url)
        self.protocol = ClientProtocol(parse_uri(url), origin=Origin(f"http://{parts.netloc}"))
        self.transport: asyncio.Transport | None = None
        self.on_text: Callable[[bytes], None] = self._reply
        self.opened: asyncio.Future[None] = loop.create_future()
        #: Done once the TCP connection is gone.
        self.closed: asyncio.Future[None] = loop.create_future()
        self._ids = itertools.count(1)
        self._pending: dict[int, asyncio.Future[Any]] = {}
        self._parts: list[bytes] | None = None

    @classmethod
    async def open(cls, url: str) -> Connection:
        """Connect and complete the WebSocket handshake."""
        uri = parse_uri(url)
        loop = asyncio.get_running_loop()
        async with asyncio.timeout(REPLY_TIMEOUT):
            _, connection = await loop.create_connection(lambda: cls(url), uri.host, uri.port)
            await connection.opened
        return connection

    # asyncio.Protocol -------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]  # uvloop's transports do not subclass asyncio's
        self.protocol.send_request(self.protocol.connect())
        self._flush()

    def data_received(self, data: bytes) -> None:
        protocol = self.protocol
        protocol.receive_data(data)
        for event in protocol.events_received():
            if type(event) is Frame:
                if event.opcode is Opcode.TEXT and event.fin:
                    self.on_text(event.data)
                else:
                    self._fragment(event)
            elif isinstance(event, Response):
                self._handshake()
        self._flush()

    def eof_received(self) -> None:
        self.protocol.receive_eof()
        self._flush()

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.opened.done():
            self.opened.set_exception(ConnectionError(f"{self.url}: closed during the handshake ({exc!r})"))
        for future in self._pending.values():
            if not future.done():
                future.set_exception(ConnectionError(f"{self.url}: closed before replying"))
        if not self.closed.done():
            self.closed.set_result(None)

    # Internals --------------------------------------------------------------

    def _handshake(self) -> None:
        if self.opened.done():
            return
        if self.protocol.handshake_exc is not None:
            self.opened.set_exception(self.protocol.handshake_exc)
        else:
            self.opened.set_result(None)

    def _fragment(self, frame: Frame) -> None:
        if frame.opcode is Opcode.TEXT:
            self._parts = [frame.data]
        elif frame.opcode is Opcode.CONT and self._parts is not None:
            self._parts.append(frame.data)
        else:
            return  # control frames are the protocol's business; binary frames are not ours
        if frame.fin:
            data, self._parts = b"".join(self._parts), None
            self.on_text(data)

    def _flush(self) -> None:
        transport = self.transport
        if transport is None or transport.is_closing():
            return
        for data in self.protocol.data_to_send():
            if data:
                transport.write(data)
            elif transport.can_write_eof():
                transport.write_eof()

    def _reply(self, frame: bytes) -> None:
        reply = orjson.loads(frame)
        future = self._pending.pop(reply.get("id"), None) if isinstance(reply, dict) else None
        if future is not None and not future.done():
            future.set_result(reply)

    # Use ------------------------------------------------------------------------

    def send(self, frame: bytes) -> None:
        """Send a text message (already UTF-8)."""
        if self.protocol.state is not State.OPEN:
            raise ConnectionError(f"{self.url}: the connection is not open")
        self.protocol.send_text(frame)
        self._flush()

    async def call(self, method: str, params: Any) -> Any:
        """Send a request and return the result of its reply."""
        request_id = next(self._ids)
        future = self._pending[request_id] = asyncio.get_running_loop().create_future()
        self.send(request(request_id, method, params))
        async with asyncio.timeout(REPLY_TIMEOUT):
            reply = await future
        if "result" not in reply:
            raise RuntimeError(f"{method} failed on {self.url}: {reply!r}")
        return reply["result"]

    async def close(self) -> None:
        """Close the WebSocket; drop the TCP connection if the server does not close it in time."""
        if self.protocol.state is State.OPEN:
            self.protocol.send_close(1000)
            self._flush()
        try:
            async with asyncio.timeout(CLOSE_TIMEOUT):
                await asyncio.shield(self.closed)
        except TimeoutError:
            if self.transport is not None:
                self.transport.abort()


async def _each(items: Iterable[Any], action: Callable[[Any], Any]) -> list[Any]:
    limit = asyncio.Semaphore(CONCURRENCY)

    async def one(item: Any) -> Any:
        async with limit:
            return await action(item)

    return await asyncio.gather(*(one(item) for item in items), return_exceptions=True)


async def open_many(urls: Sequence[str]) -> list[Connection]:
    """One connection to each of ``urls`` (repeat a URL for several), opened a few at a time."""
    results = await _each(urls, Connection.open)
    opened = [r for r in results if isinstance(r, Connection)]
    failures = [r for r in results if isinstance(r, BaseException)]
    if failures:
        await close_all(opened)
        raise RuntimeError(f"{len(failures)} of {len(urls)} connections failed to open: {failures[0]!r}")
    return opened


async def close_all(connections: Iterable[Connection]) -> None:
    """Close connections, a few at a time."""
    await _each(connections, Connection.close)


async def call_each(connections: Iterable[Connection], method: str, params: Any) -> list[Any]:
    """Call the same method on every connection, a few at a time; raise the first failure."""
    results = await _each(connections, lambda connection: connection.call(method, params))
    for result in results:
        if isinstance(result, BaseException):
            raise result
    return results


async def subscribe_all(connections: Sequence[Connection], dialect: Dialect, topic: str | Sequence[str]) -> int:
    """Subscribe every connection to ``topic`` (or each to its own of ``topic``), a few at a time; how many failed."""
    topics = [topic] * len(connections) if isinstance(topic, str) else topic

    async def one(pair: tuple[Connection, str]) -> bool:
        connection, name = pair
        reply = await Caller(connection, dialect).call(*dialect.subscribe(name))
        return reply.ok and reply.result is not False

    results = await _each(zip(connections, topics, strict=True), one)
    return sum(1 for r in results if r is not True)


class Caller:
    """Calls on one connection in any peer's wire format (``dialect``): matches replies to requests.

    Requests the server sends (fastapi-websocket-pubsub's event notifications)
    are answered at once, as its own client would.
    """

    def __init__(self, connection: Connection, dialect: Dialect) -> None:
        self.connection = connection
        self.dialect = dialect
        self._ids = itertools.count(1)
        self._pending: dict[int, asyncio.Future[Reply]] = {}
        connection.on_text = self._received
        connection.closed.add_done_callback(self._lost)

    async def call(self, method: str, params: dict[str, Any]) -> Reply:
        """Send a request and return its reply (``reply.ok`` false for an error reply)."""
        request_id = next(self._ids)
        future = self._pending[request_id] = asyncio.get_running_loop().create_future()
        self.connection.send(self.dialect.request(request_id, method, params))
        async with asyncio.timeout(REPLY_TIMEOUT):
            return await future

    def _received(self, frame: bytes) -> None:
        reply = self.dialect.parse(frame)
        if reply.answer is not None and not self.connection.closed.done():
            self.connection.send(reply.answer)
        future = self._pending.pop(reply.request_id, None) if reply.request_id is not None else None
        if future is not None and not future.done():
            future.set_result(reply)

    def _lost(self, _: object) -> None:
        for future in self._pending.values():
            if not future.done():
                future.set_exception(ConnectionError(f"{self.connection.url}: closed before replying"))
        self._pending.clear()


class Publisher:
    """Sends ``rpc.publish`` requests with at most ``window`` unanswered, and counts the answers.

    A window keeps the publisher within a server's in-flight limit (wsrpc
    answers -32029 past it) while still pipelining; every peer gets the same.
    """

    def __init__(self, connection: Connection, topic: str, *, window: int, dialect: Dialect | None = None) -> None:
        self.connection = connection
        self.topic = topic
        self.dialect = dialect
        self.window = window
        self._free = asyncio.Semaphore(window)
        self._ids = itertools.count(1)
        self.sent = 0
        self.answered = 0
        self.errors: list[Any] = []
        #: perf_counter_ns() of the first send and of the last answer; 0 before them.
        self.first_sent_ns = 0
        self.last_answered_ns = 0
        self._all_answered = asyncio.Event()
        self._all_answered.set()
        connection.on_text = self.received
        # Wake a publish() waiting for room, which then sees the close.
        connection.closed.add_done_callback(lambda _: self._free.release())

    async def publish(self, make_data: Callable[[], Any]) -> None:
        """Publish ``make_data()``, built once there is room in the window (so timestamps are send times)."""
        await self._free.acquire()
        if self.connection.closed.done():
            raise ConnectionError("the publisher's connection closed")
        if self.dialect is None:
            frame = request(next(self._ids), "rpc.publish", {"topic": self.topic, "data": make_data()})
        else:
            frame = self.dialect.request(next(self._ids), *self.dialect.publish(self.topic, make_data()))
        if not self.first_sent_ns:
            self.first_sent_ns = time.perf_counter_ns()
        self.sent += 1
        self._all_answered.clear()
        self.connection.send(frame)

    async def wait_answered(self) -> None:
        """Return once every request sent so far has its answer."""
        waiter = asyncio.ensure_future(self._all_answered.wait())
        try:
            await asyncio.wait([waiter, self.connection.closed], return_when=asyncio.FIRST_COMPLETED)
        finally:
            waiter.cancel()
        if not self._all_answered.is_set():
            raise ConnectionError("the publisher's connection closed with requests unanswered")

    def received(self, frame: bytes) -> bool:
        """Count ``frame`` if it answers a publish; whether it did (anything else is left alone)."""
        if self.dialect is None:
            reply = orjson.loads(frame)
            if not isinstance(reply, dict) or "id" not in reply:
                return False
            error = reply.get("error")
        else:
            parsed = self.dialect.parse(frame)
            if parsed.request_id is None:
                return False
            error = None if parsed.ok and parsed.result is not False else parsed.result
        self.answered += 1
        self.last_answered_ns = time.perf_counter_ns()
        if error is not None:
            self.errors.append(error)
        self._free.release()
        if self.answered >= self.sent:
            self._all_answered.set()
        return True

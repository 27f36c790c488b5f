"""The recovery workload's clients: subscribers that fail over to the surviving server, and the publisher.

Every subscriber counts what it receives by the sequence number in the
event's data: a number it already has is a duplicate. An event is out of
order when its offset (the server's order of the topic) is lower than that
of an event the subscriber already has; the sequence numbers only say in
which order the publishes were sent, and the publisher keeps several in
flight, which a server may run concurrently. Nothing is filtered on the
client side, so the counts measure the server.

Two drivers, one per wire:

- :class:`WsrpcDriver` speaks wsrpc's JSON-RPC on :class:`~benchmarks.client.Connection`,
  in this process: a subscriber of the killed server reconnects to the
  survivor and sends ``rpc.subscribe`` with ``since``, the ``(epoch, offset)``
  of the last event it saw (SPEC, "History, offsets and recovery"), takes the
  ``publications`` of the result, then live events;
- :class:`SocketIODriver` runs ``peers/socketio/client.mjs`` (socket.io-client,
  the reference implementation of connection-state recovery) in a Node.js
  process (:class:`~benchmarks.node.NodeClient`) and reads its counts. Its clock
  is ``process.hrtime``, the same CLOCK_MONOTONIC as ``time.perf_counter_ns`` here.

Both reconnect after a uniformly random delay in [0, 2 × ``reconnect_delay``],
doubling up to ``reconnect_delay_max`` while attempts fail: socket.io-client's
backoff with ``randomizationFactor: 1``.
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import random
import time
from collections.abc import Callable, Iterable, Sequence
from typing import Any, Protocol

import orjson

from .client import CONCURRENCY, REPLY_TIMEOUT, Connection, Publisher, close_all, open_many, request
from .events import payload
from .node import NodeClient
from .processes import cpu_seconds

__all__ = ["Driver", "Outcome", "Plan", "SocketIODriver", "WsrpcDriver"]


@dataclasses.dataclass(frozen=True)
class Plan:
    """Who connects where, and what is published."""

    #: One URL per subscriber.
    subscribers: tuple[str, ...]
    publisher: str
    #: The server that will be killed, and the one its subscribers go to.
    victim: str
    survivor: str
    topic: str
    events: int
    #: Events per second.
    rate: float
    #: Publish requests unanswered at most.
    window: int
    #: Seconds: the first reconnection attempt comes after a random delay in [0, 2 × reconnect_delay].
    reconnect_delay: float
    reconnect_delay_max: float


@dataclasses.dataclass
class Outcome:
    """What the subscribers saw in one run."""

    expected: int
    delivered: int = 0
    duplicates: int = 0
    reordered: int = 0
    #: The first few events out of order: (subscriber was moved, seq, its offset, the higher offset before it).
    reorders: list[tuple[bool, int, Any, Any]] = dataclasses.field(default_factory=list)
    #: Frames that were no event of the run (nor a reply).
    stray: int = 0
    #: ``rpc.gap`` notices (wsrpc).
    gaps: int = 0
    #: Subscribers of the killed server that came back with their missed events, or without them.
    recovered: int = 0
    not_recovered: int = 0
    #: Subscribers of the killed server that never got subscribed again.
    failed_resubscriptions: int = 0
    #: Subscribers of the surviving server that lost their connection.
    dropped: int = 0
    publish_errors: int = 0
    first_sent_ns: int = 0
    last_sent_ns: int = 0
    last_delivery_ns: int = 0
    #: perf_counter_ns() when each subscriber of the killed server was subscribed again.
    resubscribed_ns: list[int] = dataclasses.field(default_factory=list)
    #: CPU seconds the client used (this process, or the Node.js client).
    client_cpu_s: float | None = None
    #: Reconnection attempts that failed (connecting or resubscribing), and why (the first few).
    failed_attempts: int = 0
    attempt_errors: list[str] = dataclasses.field(default_factory=list)
    #: A few subscribers that missed events: whether they were moved, and the first sequence numbers they missed.
    missing: list[tuple[bool, list[int]]] = dataclasses.field(default_factory=list)

    @property
    def lost(self) -> int:
        return self.expected - self.delivered


class Driver(Protocol):
    """One run's clients, for one kind of peer."""

    async def open(self) -> None:
        """Connect and subscribe every subscriber; connect the publisher."""

    async def publish(self, published: Callable[[int], None]) -> None:
        """Publish every event at the plan's rate, calling ``published(n)`` after the n-th is sent; wait for answers."""

    async def complete(self) -> None:
        """Return once every subscriber has every event."""

    async def finish(self) -> Outcome:
        """Stop, close everything and count."""


# wsrpc -------------------------------------------------------------------------------


class _Subscriber:
    """One subscriber on wsrpc's wire: counts events, remembers its position, fails over to the survivor."""

    def __init__(self, driver: WsrpcDriver, url: str) -> None:
        self.driver = driver
        self.url = url
        self.connection: Connection | None = None
        self.seen = bytearray(driver.plan.events)
        #: (epoch, offset) of the last event delivered for the first time; seq for a topic without history.
        self.last: tuple[Any, int] | None = None
        #: (epoch, offset) of the last event, gap notice or subscribe result.
        self.epoch: str | None = None
        self.offset = 0
        self._ids = 0
        self._pending: dict[int, asyncio.Future[dict[str, Any]]] = {}

    async def connect(self, url: str) -> None:
        connection = await Connection.open(url)
        self.connection = connection
        connection.on_text = self._received
        connection.closed.add_done_callback(functools.partial(self._lost, connection))

    async def subscribe(self, since: bool = False) -> dict[str, Any]:
        """``rpc.subscribe`` the plan's topic (with ``since`` the position); the result, publications recorded."""
        params: dict[str, Any] = {"topic": self.driver.plan.topic}
        if since and self.epoch is not None:
            params["since"] = {"offset": self.offset, "epoch": self.epoch}
        reply = await self._call("rpc.subscribe", params)
        result = reply.get("result")
        if not isinstance(result, dict):
            raise RuntimeError(f"rpc.subscribe failed on {self.url}: {reply!r}")
        return result

    def _subscribed(self, result: dict[str, Any]) -> None:
        """Take a subscribe result: its position, then its publications, before any frame that follows it."""
        self._move(result.get("epoch"), result.get("offset"))
        for publication in result.get("publications") or ():
            self._event(publication)

    async def _call(self, method: str, params: dict[str, Any]) -> dict[str, Any]:
        assert self.connection is not None
        self._ids += 1
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._pending[self._ids] = future
        self.connection.send(request(self._ids, method, params))
        async with asyncio.timeout(REPLY_TIMEOUT):
            return await future

    def _received(self, frame: bytes) -> None:
        outcome = self.driver.outcome
        try:
            message = orjson.loads(frame)
            method = message.get("method")
        except (orjson.JSONDecodeError, AttributeError):
            outcome.stray += 1
            return
        if method == "rpc.event":
            self._event(message.get("params"))
        elif method == "rpc.gap":
            outcome.gaps += 1
            params = message.get("params") or {}
            self.epoch, self.offset = params.get("epoch"), params.get("offset", 0)
        elif method is None and message.get("id") in self._pending:
            future = self._pending.pop(message["id"])
            # Here, not in the task awaiting the reply: it resumes only after the frames read with this one, and
            # a live event among them would then count as out of order.
            if isinstance(message.get("result"), dict):
                self._subscribed(message["result"])
            if not future.done():
                future.set_result(message)
        else:
            outcome.stray += 1

    def _event(self, params: Any) -> None:
        outcome = self.driver.outcome
        now = time.perf_counter_ns()
        try:
            seq = params["data"]["seq"]
            repeated = self.seen[seq]
        except (KeyError, TypeError, IndexError):
            outcome.stray += 1
            return
        epoch, offset = params.get("epoch"), params.get("offset")
        self._move(epoch, offset)
        if repeated:
            outcome.duplicates += 1
            return
        self.seen[seq] = 1
        order = (epoch, offset) if isinstance(offset, int) else (None, seq)
        if self.last is not None and order[0] == self.last[0] and order[1] < self.last[1]:
            outcome.reordered += 1
            if len(outcome.reorders) < 5:
                outcome.reorders.append((self.url == self.driver.plan.victim, seq, order, self.last))
        else:
            self.last = order
        outcome.delivered += 1
        outcome.last_delivery_ns = now
        if outcome.delivered == outcome.expected:
            self.driver.all_delivered.set()

    def _move(self, epoch: Any, offset: Any) -> None:
        if not isinstance(epoch, str) or not isinstance(offset, int):
            return  # a topic without history: nothing to remember
        if epoch != self.epoch or offset > self.offset:
            self.epoch, self.offset = epoch, offset

    def _lost(self, connection: Connection, _: object) -> None:
        for future in self._pending.values():
            if not future.done():
                future.set_exception(ConnectionError(f"{connection.url}: closed before replying"))
        self._pending.clear()
        if self.driver.closing or connection is not self.connection:
            return
        if connection.url == self.driver.plan.victim:
            self.driver.fail_over(self)
        else:
            self.driver.outcome.dropped += 1

    async def fail_over(self) -> None:
        """Reconnect to the survivor with the usual backoff, and resubscribe with ``since``."""
        plan = self.driver.plan
        delay = plan.reconnect_delay
        while True:
            await asyncio.sleep(random.uniform(0, 2 * delay))
            try:
                await self.connect(plan.survivor)
                result = await self.subscribe(since=True)
            except (OSError, TimeoutError, RuntimeError) as exc:  # ConnectionError is an OSError
                outcome = self.driver.outcome
                outcome.failed_attempts += 1
                if len(outcome.attempt_errors) < 3:
                    outcome.attempt_errors.append(repr(exc))
                # Forget it first: closing it is no drop of the survivor's.
                connection, self.connection = self.connection, None
                if connection is not None:
                    await connection.close()
                delay = min(2 * delay, plan.reconnect_delay_max)
                continue
            outcome = self.driver.outcome
            outcome.resubscribed_ns.append(time.perf_counter_ns())
            if result.get("recovered") is True:
                outcome.recovered += 1
            else:
                outcome.not_recovered += 1
            return


class WsrpcDriver:
    """wsrpc's subscribers and publisher, in this process (see the module docstring)."""

    def __init__(self, plan: Plan) -> None:
        self.plan = plan
        self.outcome = Outcome(expected=plan.events * len(plan.subscribers))
        self.all_delivered = asyncio.Event()
        self.closing = False
        self._subscribers = [_Subscriber(self, url) for url in plan.subscribers]
        self._failovers: list[asyncio.Task[None]] = []
        self._publisher: Publisher | None = None
        self._cpu = time.process_time()

    async def open(self) -> None:
        limit = asyncio.Semaphore(CONCURRENCY)

        async def one(subscriber: _Subscriber) -> None:
            async with limit:
                await subscriber.connect(subscriber.url)
                await subscriber.subscribe()

        results = await asyncio.gather(*(one(s) for s in self._subscribers), return_exceptions=True)
        failures = [r for r in results if isinstance(r, BaseException)]
        if failures:
            raise RuntimeError(f"{len(failures)} of {len(results)} subscribers failed: {failures[0]!r}")
        (connection,) = await open_many([self.plan.publisher])
        self._publisher = Publisher(connection, self.plan.topic, window=self.plan.window)
        self._cpu = time.process_time()

    def fail_over(self, subscriber: _Subscriber) -> None:
        self._failovers.append(asyncio.ensure_future(subscriber.fail_over()))

    async def publish(self, published: Callable[[int], None]) -> None:
        publisher = self._publisher
        assert publisher is not None
        loop = asyncio.get_running_loop()
        start = loop.time()
        for seq in range(self.plan.events):
            delay = start + seq / self.plan.rate - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            await publisher.publish(functools.partial(payload, seq))
            self.outcome.last_sent_ns = time.perf_counter_ns()
            published(seq + 1)
        await publisher.wait_answered()

    async def complete(self) -> None:
        await self.all_delivered.wait()

    async def finish(self) -> Outcome:
        self.closing = True
        for task in self._failovers:
            task.cancel()
        await asyncio.gather(*self._failovers, return_exceptions=True)
        outcome = self.outcome
        outcome.failed_resubscriptions = _victims(self.plan) - len(outcome.resubscribed_ns)
        if self._publisher is not None:
            outcome.first_sent_ns = self._publisher.first_sent_ns
            outcome.publish_errors = len(self._publisher.errors)
        outcome.client_cpu_s = time.process_time() - self._cpu
        outcome.missing = _sample(
            (s.url == self.plan.victim, [seq for seq, seen in enumerate(s.seen) if not seen]) for s in self._subscribers
        )
        connections = [s.connection for s in self._subscribers if s.connection is not None]
        if self._publisher is not None:
            connections.append(self._publisher.connection)
        await close_all(connections)
        return outcome


# Socket.IO ---------------------------------------------------------------------------


class SocketIODriver:
    """Socket.IO's subscribers and publisher: ``peers/socketio/client.mjs`` in a Node.js process."""

    def __init__(self, plan: Plan, script: str, *, startup_timeout: float = 120.0) -> None:
        self.plan = plan
        self._published: Callable[[int], None] | None = None
        self._all_published = asyncio.Event()
        self._all_delivered = asyncio.Event()
        config = {
            "subscribers": list(plan.subscribers),
            "publisher": plan.publisher,
            "victim": plan.victim,
            "survivor": plan.survivor,
            "topic": plan.topic,
            "events": plan.events,
            "rate": plan.rate,
            "window": plan.window,
            "reconnectDelay": plan.reconnect_delay,
            "reconnectDelayMax": plan.reconnect_delay_max,
            "concurrency": CONCURRENCY,
        }
        handlers = {
            "published": self._count,
            "publishedAll": lambda _: self._all_published.set(),
            "complete": lambda _: self._all_delivered.set(),
        }
        self.node = NodeClient(script, config, handlers, startup_timeout=startup_timeout)
        self._cpu: float | None = None

    async def open(self) -> None:
        await self.node.start()
        self._cpu = cpu_seconds(self.node.pid)

    def _count(self, published: int) -> None:
        if self._published is not None:
            self._published(published)

    async def publish(self, published: Callable[[int], None]) -> None:
        self._published = published
        self.node.send("publish")
        await self.node.wait(self._all_published)

    async def complete(self) -> None:
        await self.node.wait(self._all_delivered)

    async def finish(self) -> Outcome:
        cpu = cpu_seconds(self.node.pid)
        counts = await self.node.report()
        return Outcome(
            expected=counts["expected"],
            delivered=counts["delivered"],
            duplicates=counts["duplicates"],
            reordered=counts["reordered"],
            reorders=[(bool(moved), int(seq), at, before) for moved, seq, at, before in counts["reorders"]],
            stray=counts["stray"],
            recovered=counts["recovered"],
            not_recovered=counts["notRecovered"],
            failed_resubscriptions=_victims(self.plan) - len(counts["resubscribedNs"]),
            dropped=counts["dropped"],
            publish_errors=counts["publishErrors"],
            first_sent_ns=counts["firstSentNs"],
            last_sent_ns=counts["lastSentNs"],
            last_delivery_ns=counts["lastDeliveryNs"],
            resubscribed_ns=list(counts["resubscribedNs"]),
            client_cpu_s=cpu - self._cpu if cpu is not None and self._cpu is not None else None,
            missing=[(bool(moved), list(seqs)) for moved, seqs in counts["missing"]],
            failed_attempts=counts["failedAttempts"],
            attempt_errors=list(counts["attemptErrors"]),
        )


def _sample(
    subscribers: Iterable[tuple[bool, list[int]]], count: int = 5, seqs: int = 20
) -> list[tuple[bool, list[int]]]:
    """The first ``count`` subscribers that missed events: (moved, the first ``seqs`` they missed)."""
    sample = []
    for moved, missing in subscribers:
        if missing:
            sample.append((moved, missing[:seqs]))
            if len(sample) >= count:
                break
    return sample


def _victims(plan: Plan) -> int:
    return sum(1 for url in plan.subscribers if url == plan.victim)


def subscriber_urls(urls: Sequence[str], count: int) -> tuple[str, ...]:
    """``count`` subscribers' URLs, spread evenly over ``urls``."""
    return tuple(urls[i % len(urls)] for i in range(count))

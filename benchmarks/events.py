"""What the pub/sub workloads publish and count: events stamped with their send time, and one run's deliveries.

An event's data is ~100 bytes of JSON carrying a sequence number and its
send time (``perf_counter_ns``; one client process holds every socket, so
one clock serves both ends). A :class:`Tally` counts every subscriber's
deliveries by that number (a number seen before is a duplicate, nothing is
filtered), and a :class:`RunResult` is what one run of W4 (``fanout``) or
W6 (``chat``) measured: deliveries, latencies, what was lost, and the CPU
that the servers, Redis and the client used meanwhile.
"""

from __future__ import annotations

import argparse
import array
import asyncio
import dataclasses
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import orjson

from .client import Connection
from .dialects import JSONRPC, Dialect
from .harness import SharedOptions, Usage, add_shared_arguments, chosen_peers, difference, modes_from, shared_options
from .peers import Peer
from .stats import percentile

__all__ = [
    "MODES",
    "PAYLOAD_BYTES",
    "PublishOptions",
    "RunResult",
    "Tally",
    "add_publish_arguments",
    "event_frame_bytes",
    "payload",
    "publish_options",
]

#: ``burst``: publish as fast as the publishers' windows allow; ``steady``: at a rate.
MODES = ("burst", "steady")

PAYLOAD_BYTES = 100
_PAD = "x" * (PAYLOAD_BYTES - len(orjson.dumps({"seq": 100, "t": 10**15, "pad": ""})))


def payload(seq: int) -> dict[str, Any]:
    """An event's data: ~100 bytes of JSON, stamped with the time it is sent."""
    return {"seq": seq, "t": time.perf_counter_ns(), "pad": _PAD}


def event_frame_bytes(topic: str) -> int:
    """The size of wsrpc's ``rpc.event`` frame for one such event on ``topic`` (a topic without history)."""
    data = orjson.dumps(payload(0)).decode()
    return len(f'{{"jsonrpc":"2.0","method":"rpc.event","params":{{"topic":"{topic}","data":{data}}}}}')


@dataclasses.dataclass(frozen=True, kw_only=True)
class PublishOptions(SharedOptions):
    """The options of the workloads that publish and count deliveries (W4, W6), beyond every workload's."""

    #: Runs per peer and mode.
    runs: int = 3
    modes: tuple[str, ...] = MODES
    #: Seconds a run may take beyond its publishing schedule before what is missing counts as lost.
    timeout: float = 30.0
    #: Seconds between the last subscription and the first publish.
    settle: float = 0.2
    #: Run every server under py-spy and write its samples and a summary here.
    profile_dir: Path | None = None
    #: The Topic row of what the ``+history`` peers publish to: events kept and for how long (seconds).
    history_size: int = 1000
    history_ttl: int = 300
    #: The Topic row of what the ``+presence`` peers publish to: subscribers also get ``rpc.join`` / ``rpc.leave``.
    join_leave: bool = True


def add_publish_arguments(
    parser: argparse.ArgumentParser,
    peers: tuple[Peer, ...],
    *,
    history: str,
    presence: str | None = None,
    metrics: str | None = None,
) -> None:
    """:class:`PublishOptions`' options, ``--modes`` and every workload's.

    ``history``: what the ``+history`` peers use; ``presence``, when the
    workload has ``+presence`` peers: what they use; ``metrics``, when the
    workload has ``+metrics`` peers: how they run.
    """
    parser.add_argument("--modes", default=",".join(MODES), help="comma-separated: burst, steady (default both)")
    parser.add_argument("--timeout", type=float, default=PublishOptions.timeout, help="seconds a run may overrun")
    parser.add_argument(
        "--settle", type=float, default=PublishOptions.settle, help="seconds from subscribing to publishing"
    )
    parser.add_argument(
        "--profile",
        type=Path,
        metavar="DIR",
        help="run every Python server under py-spy; write its samples and a summary (DIR/profile.md) there",
    )
    parser.add_argument("--history-size", type=int, default=PublishOptions.history_size, help="events kept")
    parser.add_argument("--history-ttl", type=int, default=PublishOptions.history_ttl, help="seconds they are kept")
    if presence is not None:
        parser.add_argument(
            "--no-join-leave",
            dest="join_leave",
            action="store_false",
            help="the presence topic's subscribers get no rpc.join / rpc.leave (join_leave off)",
        )
    variants = {"history": f"on {history} that keep(s) history"}
    if presence is not None:
        variants["presence"] = f"on {presence} with presence"
    if metrics is not None:
        variants["metrics"] = metrics
    add_shared_arguments(parser, peers, redis=True, variants=variants)


def publish_options(args: argparse.Namespace, peers: tuple[Peer, ...]) -> dict[str, Any]:
    """What :func:`add_publish_arguments` read, as keyword arguments of a workload's options.

    ``peers`` are those of ``--peers`` among ``peers`` that can run here, each
    wsrpc one followed by itself on history with ``--history``, on presence
    with ``--presence`` and with metrics with ``--metrics`` (:func:`chosen_peers`).
    """
    return {
        "modes": modes_from(args.modes, MODES),
        "peers": chosen_peers(args, peers),
        "timeout": args.timeout,
        "settle": args.settle,
        "profile_dir": args.profile,
        "history_size": args.history_size,
        "history_ttl": args.history_ttl,
        "join_leave": getattr(args, "join_leave", PublishOptions.join_leave),
        **shared_options(args),
    }


class Tally:
    """Deliveries of one run, across every subscriber: each should get ``events`` events, numbered from 0."""

    def __init__(self, events: int, subscribers: int) -> None:
        self.events = events
        self.expected = events * subscribers
        self.delivered = 0
        self.duplicates = 0
        self.stray = 0
        self.last_ns = 0
        self.latencies = array.array("q")
        self.complete = asyncio.Event()

    def listen(
        self, connection: Connection, dialect: Dialect = JSONRPC, other: Callable[[bytes], bool] | None = None
    ) -> None:
        """Record every event ``connection`` receives from now on (answering it, where ``dialect`` wants that).

        Any other frame goes to ``other`` (a publisher's, when the subscriber
        also publishes), and counts as stray unless ``other`` takes it.
        """
        seen = bytearray(self.events)
        loads, clock, latencies = orjson.loads, time.perf_counter_ns, self.latencies
        event = None if dialect is JSONRPC else dialect.event

        def record(frame: bytes) -> None:
            now = clock()
            try:
                if event is None:
                    data = loads(frame)["params"]["data"]
                else:
                    data, answer = event(frame)
                    if answer is not None and not connection.closed.done():
                        connection.send(answer)
                seq, sent = data["seq"], data["t"]
                repeated = seen[seq]
            except (KeyError, TypeError, IndexError, orjson.JSONDecodeError):
                if other is None or not other(frame):
                    self.stray += 1
                return
            if repeated:
                self.duplicates += 1
                return
            seen[seq] = 1
            latencies.append(now - sent)
            self.last_ns = now
            self.delivered += 1
            if self.delivered == self.expected:
                self.complete.set()

        connection.on_text = record


@dataclasses.dataclass(frozen=True)
class RunResult:
    """What one run measured."""

    expected: int
    delivered: int
    duplicates: int
    #: Frames that were not events of this run.
    stray: int
    #: Subscriber connections that closed during the run.
    dropped_connections: int
    publish_errors: int
    #: Why the run stopped before every event was delivered, if it did.
    incomplete: str | None
    #: From the first publish to the last delivery.
    elapsed_s: float
    p50_ms: float
    p99_ms: float
    max_ms: float
    #: CPU seconds over the run, from the first publish to its end.
    server_cpu_s: float | None
    redis_cpu_s: float | None
    client_cpu_s: float | None
    #: CPU seconds used by everything else on the machine (other programs disturb the run).
    other_cpu_s: float | None
    #: Wall seconds over which the CPU times were taken.
    window_s: float
    #: Publishes answered with a result, and the seconds from the first publish to the last answer.
    published: int = 0
    publishing_s: float = 0.0
    #: On a topic with presence: the connections ``rpc.presence_stats`` counted once everyone had subscribed.
    present: int | None = None

    @classmethod
    def of(
        cls,
        *,
        expected: int,
        delivered: int,
        duplicates: int,
        stray: int,
        latencies: Sequence[int],
        first_sent_ns: int,
        last_delivery_ns: int,
        published: int,
        last_answered_ns: int,
        publish_errors: int,
        dropped: int,
        incomplete: str | None,
        before: Usage,
        after: Usage,
        client_cpu_s: float | None = None,
        present: int | None = None,
    ) -> RunResult:
        """A run's result from its counts (latencies in ns, times ``perf_counter_ns``) and the CPU used meanwhile.

        ``client_cpu_s`` is the CPU of a client that is a program of its own (the
        Node.js one); by default the client is this process.
        """
        ordered = sorted(latencies)
        other = after.others_since(before)
        if client_cpu_s is None:
            client_cpu_s = after.client - before.client
        elif other is not None:
            other = max(0.0, other - client_cpu_s)
        return cls(
            expected=expected,
            delivered=delivered,
            duplicates=duplicates,
            stray=stray,
            dropped_connections=dropped,
            publish_errors=publish_errors,
            incomplete=incomplete,
            elapsed_s=(last_delivery_ns - first_sent_ns) / 1e9 if delivered and first_sent_ns else 0.0,
            p50_ms=percentile(ordered, 0.50) / 1e6,
            p99_ms=percentile(ordered, 0.99) / 1e6,
            max_ms=ordered[-1] / 1e6 if ordered else float("nan"),
            server_cpu_s=difference(after.servers, before.servers),
            redis_cpu_s=difference(after.redis, before.redis),
            client_cpu_s=client_cpu_s,
            other_cpu_s=other,
            window_s=after.wall - before.wall,
            published=published,
            publishing_s=(last_answered_ns - first_sent_ns) / 1e9 if published and first_sent_ns else 0.0,
            present=present,
        )

    @property
    def lost(self) -> int:
        return self.expected - self.delivered

    @property
    def failures(self) -> int:
        """Lost events, publish errors and dropped connections."""
        return self.lost + self.publish_errors + self.dropped_connections

    @property
    def deliveries_per_s(self) -> float:
        return self.delivered / self.elapsed_s if self.elapsed_s > 0 else 0.0

    @property
    def publishes_per_s(self) -> float:
        return self.published / self.publishing_s if self.publishing_s > 0 else 0.0

    def per_delivery_us(self, seconds: float | None) -> float:
        if seconds is None or not self.delivered:
            return float("nan")
        return seconds / self.delivered * 1e6

    def per_publish_us(self, seconds: float | None) -> float:
        if seconds is None or not self.published:
            return float("nan")
        return seconds / self.published * 1e6

"""W6 chat: many rooms of a few members each, every member publishing, on two server processes sharing Redis.

``--rooms`` rooms (100) of ``--members`` members (4); member ``i`` of room
``r`` connects to server process ``(r + i) mod 2``, so every room has members
on both processes and its messages cross Redis. Each member subscribes to its
room's topic (``bench.room.<r>``, which the ``Topic`` row ``bench.room.*``
opens to anyone) and publishes ``--messages`` messages there (10), each
~100 bytes of JSON carrying the sender's sequence number in the room and its
send time (``perf_counter_ns``); ``--senders N``: only the first N members
of each room publish. Every member of the room gets every message, its
sender too (the echo a chat client shows as sent): ``--members``
deliveries per publish. Two modes:

- ``steady``: every member publishes ``--rate`` messages a second (2), the
  members' schedules spread evenly over the period: rooms × members × rate
  publishes offered a second;
- ``burst``: every member at once, each as fast as its window of unanswered
  publishes (``--window``, 1: the next once the last is answered) allows.

With ``--history``, every wsrpc peer also runs as ``<peer>+history``, its
rooms ``bench.room-history.<r>`` keeping their last ``--history-size``
messages (so that every publish also appends to the room's history).

Measured per run: publishes/s (answered ÷ time from the first publish to
the last answer), deliveries/s (delivered ÷ time from the first publish to
the last delivery), p50/p99 latency (receive time − send time), lost
messages (never delivered by the deadline), and the CPU time both servers
and Redis used per publish and per delivery. The bare ``websockets`` server
on Redis pub/sub is the ceiling the report divides by.

The Socket.IO peer is driven by socket.io-client in a Node.js process
(``peers/socketio/chat.mjs``) that does the same; every other peer by this
process's own client.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import functools
from collections.abc import Coroutine, Sequence
from typing import Any, Protocol

from redis.asyncio import Redis

from . import report
from .client import CONCURRENCY, Connection, Publisher, close_all, open_many, subscribe_all
from .dialects import JSONRPC, Dialect, member_dialect
from .events import (
    MODES,
    PAYLOAD_BYTES,
    PublishOptions,
    RunResult,
    Tally,
    add_publish_arguments,
    event_frame_bytes,
    payload,
    publish_options,
)
from .harness import Fleet, Usage, loop_factory, measure_rounds, other_load, progress, redis_version
from .node import NodeClient
from .peers import CHAT_PEERS, SOCKETIO_DIR, Peer
from .processes import PeerProcess, cpu_seconds
from .stats import Series
from .topics import TopicRow

__all__ = ["MODES", "Options", "Plan", "add_arguments", "compare", "main", "measure", "render"]

#: Room ``r``'s topic is ``<prefix>.<r>``; the ``+history`` peers' rooms keep history.
ROOMS = "bench.room"
HISTORY_ROOMS = "bench.room-history"
PROCESSES = 2
#: The layers ``--layers`` chooses among (wsrpc and bare Channels peers), by their short names.
LAYER_NAMES = {"pubsub": "redis_pubsub", "redis": "redis"}

DEFAULTS = {"rooms": 100, "members": 4, "messages": 10, "runs": 3}
QUICK = {"rooms": 10, "members": 4, "messages": 5, "runs": 1}


# Options ---------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Options(PublishOptions):
    """What to compare and how hard."""

    rooms: int = DEFAULTS["rooms"]
    members: int = DEFAULTS["members"]
    #: Messages each member that publishes publishes per run.
    messages: int = DEFAULTS["messages"]
    #: Members of each room that publish, the first ones (0: every member).
    senders: int = 0
    peers: tuple[Peer, ...] = CHAT_PEERS
    #: Steady mode: messages per second each member publishes.
    rate: float = 2.0
    #: Publishes a member leaves unanswered at most.
    window: int = 1

    @property
    def senders_per_room(self) -> int:
        return self.senders or self.members

    @property
    def publishes(self) -> int:
        """Publishes per run."""
        return self.rooms * self.senders_per_room * self.messages

    @property
    def topics(self) -> tuple[TopicRow, ...]:
        """The Topic rows wsrpc's servers need: the rooms, and the rooms with history when a peer uses them."""
        rows = [TopicRow(f"{ROOMS}.*", 0, self.history_ttl)]
        if any(peer.history for peer in self.peers):
            rows.append(TopicRow(f"{HISTORY_ROOMS}.*", self.history_size, self.history_ttl))
        return tuple(rows)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--rooms", type=int, help=f"rooms (default {DEFAULTS['rooms']})")
    parser.add_argument("--members", type=int, help=f"members per room (default {DEFAULTS['members']})")
    parser.add_argument(
        "--messages", type=int, help=f"messages each member publishes per run (default {DEFAULTS['messages']})"
    )
    parser.add_argument("--senders", type=int, default=0, help="members of each room that publish (default all)")
    parser.add_argument(
        "--duration", type=float, help="steady mode's length in seconds instead of --messages (rate × duration each)"
    )
    parser.add_argument("--runs", type=int, help=f"runs per peer and mode (default {DEFAULTS['runs']})")
    parser.add_argument(
        "--quick",
        action="store_true",
        help="smoke-test sizes: {rooms} rooms × {members} members, {messages} messages each, {runs} run "
        "(explicit flags win)".format(**QUICK),
    )
    parser.add_argument("--rate", type=float, default=Options.rate, help="steady mode: messages per second per member")
    parser.add_argument(
        "--window", type=int, default=Options.window, help="publishes a member leaves unanswered at most"
    )
    parser.add_argument(
        "--layers",
        default=",".join(LAYER_NAMES),
        help="comma-separated channel layers of the wsrpc and Channels peers: pubsub (RedisPubSubChannelLayer), "
        "redis (RedisChannelLayer); default both",
    )
    add_publish_arguments(parser, CHAT_PEERS, history="rooms")


def _layers(text: str) -> set[str]:
    names = {name.strip() for name in text.split(",") if name.strip()}
    unknown = names - set(LAYER_NAMES)
    if unknown or not names:
        raise SystemExit(f"--layers takes {', '.join(LAYER_NAMES)}, not {text!r}")
    return {LAYER_NAMES[name] for name in names}


def options_from(args: argparse.Namespace) -> Options:
    sizes = QUICK if args.quick else DEFAULTS
    shared = publish_options(args, CHAT_PEERS)
    layers = _layers(args.layers)
    shared["peers"] = tuple(p for p in shared["peers"] if p.kind not in ("wsrpc", "channels") or p.layer in layers)
    messages = args.messages or sizes["messages"]
    if args.duration:
        messages = max(1, round(args.rate * args.duration))
    options = Options(
        rooms=args.rooms or sizes["rooms"],
        members=args.members or sizes["members"],
        messages=messages,
        senders=args.senders,
        runs=args.runs or sizes["runs"],
        rate=args.rate,
        window=args.window,
        **shared,
    )
    sizes_ok = options.rooms >= 1 and options.members >= 2 and options.messages >= 1 and options.runs >= 1
    if not sizes_ok or not 0 <= options.senders <= options.members or options.rate <= 0 or options.window < 1:
        raise SystemExit(
            "need at least 1 room of 2 members, at most --members senders, 1 message, 1 run, a positive rate and window"
        )
    return options


# One run ----------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Plan:
    """Who connects where and publishes what, in one run."""

    #: One URL and one topic per member, room by room.
    urls: tuple[str, ...]
    topics: tuple[str, ...]
    members: int
    #: The first ``senders`` members of each room publish ``messages`` messages each.
    senders: int
    messages: int
    mode: str
    rate: float
    window: int

    @classmethod
    def of(cls, peer: Peer, processes: Sequence[PeerProcess], options: Options, mode: str) -> Plan:
        # socket.io-client reads a URL's path as the namespace: give it the origin only.
        addresses = [p.origin if peer.kind == "socketio" else p.ws_url for p in processes]
        prefix = HISTORY_ROOMS if peer.history else ROOMS
        places = [(room, member) for room in range(options.rooms) for member in range(options.members)]
        return cls(
            urls=tuple(addresses[(room + member) % len(addresses)] for room, member in places),
            topics=tuple(f"{prefix}.{room}" for room, _ in places),
            members=options.members,
            senders=options.senders_per_room,
            messages=options.messages,
            mode=mode,
            rate=options.rate,
            window=options.window,
        )

    @property
    def schedule_s(self) -> float:
        """Seconds the steady mode's schedule takes (0 in a burst)."""
        return self.messages / self.rate if self.mode == "steady" else 0.0

    def due(self, index: int, message: int) -> float:
        """Seconds from the start at which member ``index`` sends its ``message``-th message (0 in a burst)."""
        if self.mode != "steady":
            return 0.0
        return (message + index / len(self.urls)) / self.rate

    @property
    def per_room(self) -> int:
        """Messages published to each room: every member should get them all."""
        return self.senders * self.messages

    def sends(self, index: int) -> bool:
        """Whether member ``index`` publishes."""
        return index % self.members < self.senders

    def seq(self, index: int, message: int) -> int:
        """A message's number in its room: the sender's place in the room, then its count."""
        return index % self.members * self.messages + message


class Members(Protocol):
    """Every member of one run, for one kind of peer."""

    async def open(self) -> None:
        """Connect every member and subscribe it to its room."""

    async def publish(self) -> None:
        """Publish every member's messages on the plan's schedule; return once every publish is answered."""

    async def complete(self) -> None:
        """Return once every member has every message of its room."""

    async def finish(self, before: Usage, after: Usage, incomplete: str | None) -> RunResult:
        """Close everything; the run's result (``incomplete``: why it stopped early, if it did)."""

    async def close(self) -> None:
        """Close what a run that failed left open (nothing after :meth:`finish`)."""


class PythonMembers:
    """The members as connections of this process, speaking ``dialect``."""

    def __init__(self, plan: Plan, dialect: Dialect) -> None:
        self.plan = plan
        self.dialect = dialect
        self.tally = Tally(plan.per_room, len(plan.urls))
        self.connections: list[Connection] = []
        self.publishers: list[Publisher] = []

    async def open(self) -> None:
        self.connections = await open_many(self.plan.urls)
        failed = await subscribe_all(self.connections, self.dialect, self.plan.topics)
        if failed:
            raise RuntimeError(f"{failed} of {len(self.connections)} subscriptions failed")
        dialect = None if self.dialect is JSONRPC else self.dialect
        for connection, topic in zip(self.connections, self.plan.topics, strict=True):
            publisher = Publisher(connection, topic, window=self.plan.window, dialect=dialect)
            self.tally.listen(connection, self.dialect, other=publisher.received)
            self.publishers.append(publisher)

    async def _member(self, index: int, publisher: Publisher) -> None:
        plan = self.plan
        loop = asyncio.get_running_loop()
        start = loop.time()
        for message in range(plan.messages):
            delay = start + plan.due(index, message) - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            await publisher.publish(functools.partial(payload, plan.seq(index, message)))
        await publisher.wait_answered()

    async def publish(self) -> None:
        senders = [(i, p) for i, p in enumerate(self.publishers) if self.plan.sends(i)]
        tasks = [asyncio.ensure_future(self._member(i, p)) for i, p in senders]
        try:
            await asyncio.gather(*tasks)
        finally:
            for task in tasks:
                task.cancel()

    async def complete(self) -> None:
        await self.tally.complete.wait()

    async def close(self) -> None:
        await close_all(self.connections)

    async def finish(self, before: Usage, after: Usage, incomplete: str | None) -> RunResult:
        dropped = sum(connection.closed.done() for connection in self.connections)
        await close_all(self.connections)
        tally, publishers = self.tally, self.publishers
        errors = sum(len(p.errors) for p in publishers)
        return RunResult.of(
            expected=tally.expected,
            delivered=tally.delivered,
            duplicates=tally.duplicates,
            stray=tally.stray,
            latencies=tally.latencies,
            first_sent_ns=min((p.first_sent_ns for p in publishers if p.first_sent_ns), default=0),
            last_delivery_ns=tally.last_ns,
            published=sum(p.answered for p in publishers) - errors,
            last_answered_ns=max((p.last_answered_ns for p in publishers), default=0),
            publish_errors=errors,
            dropped=dropped,
            incomplete=incomplete,
            before=before,
            after=after,
        )


class SocketIOMembers:
    """The members as socket.io-client sockets in a Node.js process (``peers/socketio/chat.mjs``)."""

    def __init__(self, plan: Plan) -> None:
        self.plan = plan
        self._published = asyncio.Event()
        self._complete = asyncio.Event()
        config: dict[str, Any] = {**dataclasses.asdict(plan), "concurrency": CONCURRENCY}
        handlers = {"publishedAll": lambda _: self._published.set(), "complete": lambda _: self._complete.set()}
        self.node = NodeClient(str(SOCKETIO_DIR / "chat.mjs"), config, handlers)
        self._cpu: float | None = None

    async def open(self) -> None:
        await self.node.start()
        self._cpu = cpu_seconds(self.node.pid)

    async def publish(self) -> None:
        self.node.send("publish")
        await self.node.wait(self._published)

    async def complete(self) -> None:
        await self.node.wait(self._complete)

    async def close(self) -> None:
        await self.node.stop()

    async def finish(self, before: Usage, after: Usage, incomplete: str | None) -> RunResult:
        cpu = cpu_seconds(self.node.pid)
        counts = await self.node.report()
        return RunResult.of(
            expected=counts["expected"],
            delivered=counts["delivered"],
            duplicates=counts["duplicates"],
            stray=counts["stray"],
            latencies=counts["latencies"],
            first_sent_ns=counts["firstSentNs"],
            last_delivery_ns=counts["lastDeliveryNs"],
            published=counts["published"],
            last_answered_ns=counts["lastAnsweredNs"],
            publish_errors=counts["publishErrors"],
            dropped=counts["dropped"],
            incomplete=incomplete,
            before=before,
            after=after,
            client_cpu_s=cpu - self._cpu if cpu is not None and self._cpu is not None else float("nan"),
        )


def _members(peer: Peer, plan: Plan) -> Members:
    return SocketIOMembers(plan) if peer.kind == "socketio" else PythonMembers(plan, member_dialect(peer.dialect))


async def measure(peer: Peer, processes: Sequence[PeerProcess], options: Options, mode: str) -> RunResult:
    """One run: connect and subscribe every member, publish, wait for every delivery or the deadline."""
    plan = Plan.of(peer, processes, options, mode)
    members = _members(peer, plan)
    pids = [p.pid for p in processes]
    redis = Redis.from_url(options.redis_url)
    try:
        await members.open()
        await asyncio.sleep(options.settle)
        before = await Usage.now(pids, redis)
        deadline = plan.schedule_s + options.timeout
        incomplete = None
        try:
            async with asyncio.timeout(deadline):
                await members.publish()
                await members.complete()
        except TimeoutError:
            incomplete = f"deadline ({deadline:g} s) passed"
        except ConnectionError as exc:
            incomplete = str(exc)
        after = await Usage.now(pids, redis)
        return await members.finish(before, after, incomplete)
    finally:
        await members.close()
        await redis.aclose()


# The comparison ---------------------------------------------------------------


def compare(options: Options) -> list[Series[RunResult]]:
    """Run every mode of every peer ``options.runs`` times, in rounds that interleave the peers."""
    fleet = Fleet(
        options.peers,
        PROCESSES,
        redis_url=options.redis_url,
        events=options.senders_per_room * options.messages,
        profile_dir=options.profile_dir,
        keep_logs=options.keep_logs,
        topics=options.topics,
    )
    with fleet, asyncio.Runner(loop_factory=loop_factory(options.loop)) as runner:
        warmup = dataclasses.replace(options, rooms=min(options.rooms, 5), messages=2, settle=0.0)
        for peer in options.peers:
            result = runner.run(measure(peer, fleet.processes(peer), warmup, "burst"))
            if result.failures:
                progress(
                    f"{peer.name}: the warm-up lost {result.lost} of {result.expected} deliveries, "
                    f"{result.publish_errors} publish error(s), {result.dropped_connections} dropped connection(s)"
                    + (f": {result.incomplete}" if result.incomplete else "")
                )

        def one(peer: Peer, mode: str) -> Coroutine[Any, Any, RunResult]:
            return measure(peer, fleet.processes(peer), options, mode)

        return measure_rounds(runner, options, options.peers, options.runs, one, _line, options.modes)


def _line(peer: Peer, mode: str, number: int, result: RunResult) -> str:
    other = other_load(result.other_cpu_s, result.window_s)
    text = (
        f"{peer.name:<30} {mode:<6} run {number}: {result.publishes_per_s:>7,.0f} publishes/s"
        f" {result.deliveries_per_s:>8,.0f} deliveries/s  p50 {result.p50_ms:7.1f} ms  p99 {result.p99_ms:7.1f} ms"
        f"  lost {result.lost}  other load {other} cores"
    )
    if result.dropped_connections or result.publish_errors or result.duplicates:
        text += (
            f"  dropped connections {result.dropped_connections}  publish errors {result.publish_errors}"
            f"  duplicates {result.duplicates}"
        )
    return text + (f"  INCOMPLETE: {result.incomplete}" if result.incomplete else "")


# Report -------------------------------------------------------------------------


def _publish_us(run: RunResult) -> float:
    return run.per_publish_us(run.server_cpu_s)


def _delivery_us(run: RunResult) -> float:
    return run.per_delivery_us(run.server_cpu_s)


def render(results: Sequence[Series[RunResult]], options: Options, command: str, env: dict[str, str]) -> str:
    """The Markdown section of RESULTS.md for these results."""
    offered = options.publishes / options.messages * options.rate
    senders = "every member" if options.senders_per_room == options.members else f"{options.senders} per room"
    lines = [
        *report.heading("W6 chat", command, env),
        f"- Workload: {options.rooms} rooms × {options.members} members on {PROCESSES} server processes (every room "
        f"on both), {senders} publishing {options.messages} messages per run to its room "
        f"({options.publishes:,} publishes, {options.publishes * options.members:,} deliveries: every member gets "
        f"every message of its room, its own too), {PAYLOAD_BYTES} bytes of JSON data per message "
        f"({event_frame_bytes(f'{ROOMS}.0')}-byte `rpc.event` frame), each member's window {options.window} "
        f"publish(es); steady mode at {options.rate:g} messages/s per member ({offered:,.0f} publishes/s offered), "
        f"burst: all at once. {options.runs} run(s) per cell: median (min–max).",
        "",
    ]
    headers = [
        "peer",
        "publishes/s",
        "÷ ceiling",
        "deliveries/s",
        "p50 ms",
        "p99 ms",
        "p99 ÷ ceiling",
        "lost",
        "server CPU µs/publish",
        "÷ ceiling",
        "server CPU µs/delivery",
        "Redis CPU µs/publish",
        "client CPU",
        "other load",
    ]
    for mode in options.modes:
        series = [s for s in results if s.mode == mode]
        top_rate = report.ceiling_median(series, lambda r: r.publishes_per_s)
        top_p99 = report.ceiling_median(series, lambda r: r.p99_ms)
        top_cpu = report.ceiling_median(series, _publish_us)
        rows = []
        for s in series:
            rate, p99, cpu = s.spread(lambda r: r.publishes_per_s), s.spread(lambda r: r.p99_ms), s.spread(_publish_us)
            rows.append(
                [
                    s.peer.name,
                    rate.format(),
                    report.ratio(rate.median, top_rate),
                    s.spread(lambda r: r.deliveries_per_s).format(),
                    s.spread(lambda r: r.p50_ms).format(1),
                    p99.format(1),
                    report.ratio(p99.median, top_p99),
                    str(sum(r.lost for r in s.runs)),
                    cpu.format(1),
                    report.ratio(cpu.median, top_cpu),
                    s.spread(_delivery_us).format(1),
                    s.spread(lambda r: r.per_publish_us(r.redis_cpu_s)).format(1),
                    s.spread(lambda r: report.share(r.client_cpu_s, r.window_s)).format(0, scale=100) + " %",
                    s.spread(lambda r: report.share(r.other_cpu_s, r.window_s)).format(2),
                ]
            )
        lines += [f"### {mode}", "", report.markdown_table(headers, rows, right=range(1, len(headers))), ""]
    lines += _history_cost(results, options)
    lines += _problems(results)
    lines += report.peer_list(options.peers)
    lines += [
        "",
        "Columns: publishes/s = publishes answered ÷ (last answer − first publish); deliveries/s = messages "
        "delivered ÷ (last delivery − first publish); latency = receive time − send time on the client's one clock "
        "(the Socket.IO peer's client is Node.js, on the same monotonic clock); lost = deliveries missing at the "
        "run's deadline (those of failed publishes too); CPU columns = CPU time used (both server processes "
        "together; Redis) from the first publish to the end of the run, per publish or per delivery; client CPU = "
        "the client's share of one core; ÷ ceiling = this peer's value ÷ the bare websockets server's "
        "(publishes/s: higher is better; p99 and CPU: lower is better); other load = cores busy with anything else "
        "on the machine meanwhile (compare rows of similar load).",
    ]
    return "\n".join(lines)


def _history_cost(results: Sequence[Series[RunResult]], options: Options) -> list[str]:
    """The table that sets each ``+history`` peer beside the same peer without history; empty when none ran."""
    rows = [
        [
            off.peer.name,
            on.mode,
            off.spread(_publish_us).format(1),
            on.spread(_publish_us).format(1),
            report.ratio(on.spread(_publish_us).median, off.spread(_publish_us).median),
            off.spread(lambda r: r.publishes_per_s).format(),
            on.spread(lambda r: r.publishes_per_s).format(),
            str(sum(r.lost for r in off.runs)),
            str(sum(r.lost for r in on.runs)),
        ]
        for off, on in report.history_pairs(results)
    ]
    if not rows:
        return []
    headers = [
        "peer",
        "mode",
        "server CPU µs/publish, history off",
        "history on",
        "on ÷ off",
        "publishes/s off",
        "publishes/s on",
        "lost off",
        "lost on",
    ]
    return [
        "### History on ÷ off",
        "",
        f"The `+history` peers' rooms keep their last {options.history_size:,} messages for {options.history_ttl} s "
        "(every publish also appends to the room's history; events carry an offset and an epoch). Same servers, "
        "same sizes, medians.",
        "",
        report.markdown_table(headers, rows, right=range(2, len(headers))),
        "",
    ]


def _problems(results: Sequence[Series[RunResult]]) -> list[str]:
    lines = []
    for s in results:
        errors = sum(r.publish_errors for r in s.runs)
        dropped = sum(r.dropped_connections for r in s.runs)
        duplicates = sum(r.duplicates for r in s.runs)
        stray = sum(r.stray for r in s.runs)
        incomplete = [r.incomplete for r in s.runs if r.incomplete]
        if errors or dropped or duplicates or stray or incomplete:
            text = f"- `{s.peer.name}` {s.mode}: {errors} publish error(s), {dropped} dropped connection(s), "
            text += f"{duplicates} duplicate(s), {stray} stray frame(s)"
            text += (f"; {incomplete[0]}" if incomplete else "") + "."
            lines.append(text)
    return [*lines, ""] if lines else []


def main(args: argparse.Namespace, argv: Sequence[str]) -> int:
    """Run the comparison, print it and write it to RESULTS.md; 1 when anything was lost or failed."""
    options = options_from(args)
    if not options.peers:
        progress("no peer to run")
        return 1
    results = compare(options)
    env = report.environment(asyncio.run(redis_version(options.redis_url)))
    if any(peer.kind == "socketio" for peer in options.peers):
        env["versions"] += f", {report.node_versions(SOCKETIO_DIR)}"
    section = render(results, options, report.command_line(argv), env)
    return report.publish("chat", section, args.output, results, "lost messages, publish errors or dropped connections")

"""W4 fan-out: one publisher, many subscribers on two server processes, one topic.

Every subscriber subscribes to ``chat.lobby`` (half of them on each server
process, the publisher on the first); the publisher then publishes
``--events`` events, each ~100 bytes of JSON data carrying its sequence number
and its send time (``perf_counter_ns``; one client process holds every
socket, so one clock serves both ends). Two modes:

- ``burst``: publish as fast as the publisher's window of unanswered requests allows;
- ``steady``: publish at ``--rate`` events per second.

With ``--history``, every wsrpc peer also runs as ``<peer>+history``: the
same servers publishing to ``bench.history``, a topic whose ``Topic`` row
keeps history (``--history-size`` events for ``--history-ttl`` seconds), so
every event is also appended to the topic's history and carries an offset
and an epoch. The report then sets each such peer's server CPU per delivery
beside the same peer's without history (issue 12's target: at most 1.25×,
nothing lost).

With ``--presence``, every wsrpc peer also runs as ``<peer>+presence``,
publishing to ``bench.presence``, a topic whose ``Topic`` row has presence
(and ``join_leave``, unless ``--no-join-leave``), so every subscriber is
recorded in presence (and, with join_leave, every other subscriber gets an
``rpc.join`` for it; the run waits for those to stop arriving before it
publishes, so they are not counted). Before publishing, the run asks the
server ``rpc.presence_stats`` and keeps the count. The report then sets each
such peer's server CPU per delivery and deliveries/s beside the same peer's
without presence. ``--history --presence`` runs both variants beside each
peer; ``<peer>+history+presence`` in ``--peers`` runs one on a topic with both.

With ``--metrics``, every wsrpc peer also runs as ``<peer>+metrics``: the
same servers on the same topic with ``WSRPC["METRICS"]`` on
(``BENCH_METRICS=1``; off in every other peer). The report then sets each
such peer's server CPU per delivery and deliveries/s beside the same peer's
with metrics off (issue 18's target: at most 1.05× the CPU, nothing lost).

Measured per run: deliveries per second (events × subscribers delivered, over
the time from the first publish to the last delivery), p50/p99 latency
(receive time − send time), and lost events: a run ends at a deadline and
counts what never arrived. Also the CPU time the two servers, Redis and the
client used per delivery, which stays meaningful when the client is the
bottleneck.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import functools
from collections.abc import Coroutine, Sequence
from typing import Any

import orjson
from redis.asyncio import Redis

from . import report
from .client import Publisher, close_all, open_many, subscribe_all
from .dialects import JSONRPC, Dialect
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
from .harness import METRICS_ON, Fleet, Usage, loop_factory, measure_rounds, other_load, redis_version
from .peers import PEERS, VARIANTS, Peer
from .stats import Series
from .topics import TopicRow

__all__ = ["MODES", "Options", "RunResult", "Series", "add_arguments", "compare", "main", "measure", "render"]

#: The demo data's public topic: anyone may subscribe and publish.
TOPIC = "chat.lobby"
#: The same, keeping history (its Topic row is written before the servers start), for the ``+history`` peers,
#: and with presence, for the ``+presence`` peers (:func:`topic_of`; both: ``bench.history-presence``).
HISTORY_TOPIC = "bench.history"
PRESENCE_TOPIC = "bench.presence"
#: Server processes the subscribers are split over.
PROCESSES = 2

DEFAULTS = {"subscribers": 500, "events": 100, "runs": 3}
QUICK = {"subscribers": 20, "events": 20, "runs": 1}


# Options ---------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Options(PublishOptions):
    """What to compare and how hard."""

    subscribers: int = DEFAULTS["subscribers"]
    events: int = DEFAULTS["events"]
    peers: tuple[Peer, ...] = PEERS
    #: Events per second in steady mode (× 500 subscribers: 10,000 deliveries/s, well within what wsrpc serves).
    rate: float = 20.0
    #: Most publish requests unanswered at once (wsrpc's test settings allow 16 in flight).
    window: int = 16

    @property
    def topics(self) -> tuple[TopicRow, ...]:
        """The Topic rows the servers need: one for each set of topic variants the peers run in (none for none)."""
        rows = {}
        for peer in self.peers:
            if peer.topic_variants:
                rows[peer.topic_variants] = TopicRow(
                    topic_of(peer),
                    history_size=self.history_size if peer.history else 0,
                    history_ttl=self.history_ttl,
                    presence=peer.presence,
                    join_leave=peer.presence and self.join_leave,
                )
        return tuple(rows.values())


def topic_of(peer: Peer) -> str:
    """The topic ``peer``'s subscribers and publisher use: ``bench.<variant>[-<variant>]`` for a peer in topic
    variants (history, presence), ``chat.lobby`` otherwise (``+metrics`` too)."""
    return f"bench.{'-'.join(peer.topic_variants)}" if peer.topic_variants else TOPIC


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--subscribers", type=int, help=f"subscribers per run (default {DEFAULTS['subscribers']})")
    parser.add_argument("--events", type=int, help=f"events published per run (default {DEFAULTS['events']})")
    parser.add_argument("--runs", type=int, help=f"runs per peer and mode (default {DEFAULTS['runs']})")
    parser.add_argument(
        "--quick",
        action="store_true",
        help="smoke-test sizes: {subscribers} subscribers, {events} events, {runs} run (explicit flags win)".format(
            **QUICK
        ),
    )
    parser.add_argument("--rate", type=float, default=Options.rate, help="steady mode: events per second")
    parser.add_argument("--window", type=int, default=Options.window, help="publish requests in flight at most")
    add_publish_arguments(parser, PEERS, history="a topic", presence="a topic", metrics=METRICS_ON)


def options_from(args: argparse.Namespace) -> Options:
    sizes = QUICK if args.quick else DEFAULTS
    options = Options(
        subscribers=args.subscribers or sizes["subscribers"],
        events=args.events or sizes["events"],
        runs=args.runs or sizes["runs"],
        rate=args.rate,
        window=args.window,
        **publish_options(args, PEERS),
    )
    if options.subscribers < PROCESSES or options.events < 1 or options.runs < 1 or options.rate <= 0:
        raise SystemExit("need at least 2 subscribers, 1 event, 1 run and a positive rate")
    return options


# One run ----------------------------------------------------------------------


async def _publish(publisher: Publisher, options: Options, mode: str) -> None:
    loop = asyncio.get_running_loop()
    start = loop.time()
    for seq in range(options.events):
        if mode == "steady":
            delay = start + seq / options.rate - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
        await publisher.publish(functools.partial(payload, seq))
    await publisher.wait_answered()


async def measure(
    subscriber_urls: Sequence[str],
    publisher_url: str,
    mode: str,
    options: Options,
    pids: Sequence[int | None] = (),
    dialect: Dialect = JSONRPC,
    topic: str = TOPIC,
    presence: bool = False,
) -> RunResult:
    """One run on ``topic``: connect and subscribe everyone, publish, wait for every delivery or the deadline.

    With ``presence`` (the topic has it), wait until no ``rpc.join`` has
    arrived for ``options.settle`` seconds, then ask for ``rpc.presence_stats``.
    """
    subscribers = await open_many(subscriber_urls)
    connections = list(subscribers)
    redis = Redis.from_url(options.redis_url)
    try:
        connections += await open_many([publisher_url])
        failed = await subscribe_all(subscribers, dialect, topic)
        if failed:
            raise RuntimeError(f"{failed} of {len(subscribers)} subscriptions failed")
        tally = Tally(options.events, len(subscribers))
        notices = _Notices()
        for connection in subscribers:
            tally.listen(connection, dialect, other=notices.take)
        present = None
        if presence:
            await _quiet(notices, len(subscribers), options)
            stats = await connections[-1].call("rpc.presence_stats", {"topic": topic})
            present = stats["connections"]
        publisher = Publisher(
            connections[-1], topic, window=options.window, dialect=None if dialect is JSONRPC else dialect
        )
        await asyncio.sleep(options.settle)

        schedule = options.events / options.rate if mode == "steady" else 0.0
        before = await Usage.now(pids, redis)
        incomplete = None
        try:
            async with asyncio.timeout(schedule + options.timeout):
                await _publish(publisher, options, mode)
                await tally.complete.wait()
        except TimeoutError:
            incomplete = f"deadline ({schedule + options.timeout:g} s) passed"
        except ConnectionError as exc:
            incomplete = str(exc)
        after = await Usage.now(pids, redis)
        dropped = sum(connection.closed.done() for connection in subscribers)
    finally:
        await close_all(connections)
        await redis.aclose()

    return RunResult.of(
        expected=tally.expected,
        delivered=tally.delivered,
        duplicates=tally.duplicates,
        stray=tally.stray,
        latencies=tally.latencies,
        first_sent_ns=publisher.first_sent_ns,
        last_delivery_ns=tally.last_ns,
        published=publisher.answered - len(publisher.errors),
        last_answered_ns=publisher.last_answered_ns,
        publish_errors=len(publisher.errors),
        dropped=dropped,
        incomplete=incomplete,
        before=before,
        after=after,
        present=present,
    )


class _Notices:
    """The ``rpc.join`` / ``rpc.leave`` frames a presence topic's subscribers receive: expected, never stray."""

    def __init__(self) -> None:
        self.count = 0

    def take(self, frame: bytes) -> bool:
        try:
            method = orjson.loads(frame).get("method")
        except (orjson.JSONDecodeError, AttributeError):
            return False
        if method not in ("rpc.join", "rpc.leave"):
            return False
        self.count += 1
        return True


async def _quiet(notices: _Notices, subscribers: int, options: Options) -> None:
    """Wait for the joins of subscribing to stop coming: a quiet moment once each subscriber heard of every
    later one, or a whole second without one (two processes may order two subscribes either way).

    Those that still come later are counted apart from the run's events, never as stray.
    """
    expected = subscribers * (subscribers - 1) // 2 if options.join_leave else 0
    step = max(options.settle, 0.05)
    quiet = 0.0
    async with asyncio.timeout(options.timeout):
        while quiet < 1.0:
            seen = notices.count
            await asyncio.sleep(step)
            quiet = quiet + step if notices.count == seen else 0.0
            if quiet and seen >= expected:
                break


# The comparison ---------------------------------------------------------------


def compare(options: Options) -> list[Series[RunResult]]:
    """Run every mode of every peer ``options.runs`` times; the results in peer order.

    Every peer's servers run from the start, and each round runs every peer
    once (rotating which goes first), so that a disturbance from outside
    lands on all peers rather than on the runs of one.
    """
    fleet = Fleet(
        options.peers,
        PROCESSES,
        redis_url=options.redis_url,
        events=options.events,
        profile_dir=options.profile_dir,
        keep_logs=options.keep_logs,
        topics=options.topics,
    )
    with fleet, asyncio.Runner(loop_factory=loop_factory(options.loop)) as runner:
        warmup = dataclasses.replace(options, events=10, settle=0.0)
        for peer in options.peers:
            processes = fleet.processes(peer)
            urls = [p.ws_url for p in processes] * 5
            runner.run(
                measure(urls, processes[0].ws_url, "burst", warmup, (), peer.dialect, topic_of(peer), peer.presence)
            )

        def one(peer: Peer, mode: str) -> Coroutine[Any, Any, RunResult]:
            processes = fleet.processes(peer)
            urls = [processes[i % len(processes)].ws_url for i in range(options.subscribers)]
            pids = [p.pid for p in processes]
            return measure(urls, processes[0].ws_url, mode, options, pids, peer.dialect, topic_of(peer), peer.presence)

        return measure_rounds(runner, options, options.peers, options.runs, one, _line, options.modes)


def _line(peer: Peer, mode: str, number: int, result: RunResult) -> str:
    other = other_load(result.other_cpu_s, result.window_s)
    text = (
        f"{peer.name:<26} {mode:<6} run {number}: {result.deliveries_per_s:>9,.0f} deliveries/s"
        f"  p50 {result.p50_ms:7.1f} ms  p99 {result.p99_ms:7.1f} ms  lost {result.lost}  other load {other} cores"
    )
    if result.present is not None:
        text += f"  present {result.present}"
    if result.dropped_connections or result.publish_errors:
        text += f"  dropped connections {result.dropped_connections}  publish errors {result.publish_errors}"
    return text + (f"  INCOMPLETE: {result.incomplete}" if result.incomplete else "")


# Report -------------------------------------------------------------------------


def render(results: Sequence[Series[RunResult]], options: Options, command: str, env: dict[str, str]) -> str:
    """The Markdown section of RESULTS.md for these results."""
    lines = [
        *report.heading("W4 fan-out", command, env),
        f"- Workload: {options.subscribers} subscribers on {PROCESSES} server processes (half on each), one topic, "
        f"{options.events} events per run, {PAYLOAD_BYTES} bytes of JSON data per event "
        f"({event_frame_bytes(TOPIC)}-byte `rpc.event` frame), publisher window {options.window} requests; "
        f"steady mode at {options.rate:g} events/s "
        f"({options.rate * options.subscribers:,.0f} deliveries/s offered). {options.runs} run(s) per cell: "
        "median (min–max).",
        "",
    ]
    headers = [
        "peer",
        "deliveries/s",
        "× ceiling",
        "p50 ms",
        "p99 ms",
        "lost",
        "server CPU µs/delivery",
        "× ceiling (CPU)",
        "Redis CPU µs/delivery",
        "client CPU",
        "other load",
    ]
    for mode in options.modes:
        series = [s for s in results if s.mode == mode]
        top_rate = report.ceiling_median(series, lambda r: r.deliveries_per_s)
        top_cpu = report.ceiling_median(series, _server_us)
        rows = []
        for s in series:
            rate = s.spread(lambda r: r.deliveries_per_s)
            cpu = s.spread(_server_us)
            rows.append(
                [
                    f"{s.peer.name}",
                    rate.format(),
                    report.ratio(rate.median, top_rate),
                    s.spread(lambda r: r.p50_ms).format(1),
                    s.spread(lambda r: r.p99_ms).format(1),
                    str(sum(r.lost for r in s.runs)),
                    cpu.format(1),
                    report.ratio(top_cpu, cpu.median),
                    s.spread(lambda r: r.per_delivery_us(r.redis_cpu_s)).format(1),
                    s.spread(lambda r: report.share(r.client_cpu_s, r.window_s)).format(0, scale=100) + " %",
                    s.spread(lambda r: report.share(r.other_cpu_s, r.window_s)).format(2),
                ]
            )
        lines += [f"### {mode}", "", report.markdown_table(headers, rows, right=range(1, len(headers))), ""]
    for variant in VARIANTS:
        lines += _variant_cost(results, options, variant)
    lines += report.peer_list(options.peers)
    lines += [
        "",
        "Columns: deliveries/s = events × subscribers delivered ÷ (last delivery − first publish); latency = receive "
        "time − send time on the client's one clock; lost = events never delivered by the run's deadline; CPU "
        "columns = CPU time used (both server processes together; Redis; the client) from the first publish to the "
        "end of the run, per delivery (client: share of one core); × ceiling = this peer's deliveries/s ÷ the "
        "ceiling's, and (CPU) the ceiling's server CPU per delivery ÷ this peer's, which other programs on the machine "
        "disturb much less than rates; other load = cores busy with anything else on the machine meanwhile (compare "
        "rows of similar load).",
    ]
    return "\n".join(lines)


def _server_us(run: RunResult) -> float:
    return run.per_delivery_us(run.server_cpu_s)


#: Server CPU per delivery on ÷ off that a variant should stay within (issue 12: history; issue 18: metrics).
_CPU_TARGETS = {"history": 1.25, "metrics": 1.05}


def _variant_cost(results: Sequence[Series[RunResult]], options: Options, variant: str) -> list[str]:
    """The table that sets each ``+<variant>`` peer beside the same peer in no variant; empty when none ran."""
    pairs = report.variant_pairs(results, variant)
    presence = variant == "presence"
    rows = []
    for off, on in pairs:
        row = [
            off.peer.name,
            on.mode,
            *report.on_off(off, on, _server_us, 1),
            *report.on_off(off, on, lambda r: r.deliveries_per_s),
            str(sum(r.lost for r in off.runs)),
            str(sum(r.lost for r in on.runs)),
        ]
        if presence:
            row.append(", ".join(str(r.present) for r in on.runs))
        rows.append(row)
    if not rows:
        return []
    target = f" (target ≤ {_CPU_TARGETS[variant]:g})" if variant in _CPU_TARGETS else ""
    headers = [
        "peer",
        "mode",
        f"server CPU µs/delivery, {variant} off",
        f"{variant} on",
        f"CPU on ÷ off{target}",
        "deliveries/s off",
        "deliveries/s on",
        "deliveries on ÷ off",
        "lost off",
        "lost on",
    ]
    if presence:
        headers.append("in presence")
    return report.variant_section(variant, _what(variant, topic_of(pairs[0][1].peer), options), headers, rows)


def _what(variant: str, topic: str, options: Options) -> str:
    """What a ``+<variant>`` peer does differently, for its table."""
    if variant == "presence":
        join_leave = (
            "subscribers also get an `rpc.join` for every later subscriber (before the first publish, not measured)"
            if options.join_leave
            else "no `rpc.join` / `rpc.leave` (`--no-join-leave`)"
        )
        return (
            f"`{topic}` has presence: every subscriber is recorded on both processes (refreshed while it lives); "
            f"{join_leave}. In presence = the connections `rpc.presence_stats` counted before publishing, per run."
        )
    if variant == "history":
        return (
            f"`{topic}` keeps its last {options.history_size:,} events for {options.history_ttl} s; its events "
            "carry an offset and an epoch (a few dozen bytes more per frame)."
        )
    return (
        "The `+metrics` peers' servers run with `WSRPC['METRICS']` on (`BENCH_METRICS=1`): every connection, frame, "
        "call, publish and delivery is counted in `prometheus_client`'s default registry (issue 18's target: CPU on "
        f"÷ off at most {_CPU_TARGETS['metrics']:g}, nothing lost)."
    )


def main(args: argparse.Namespace, argv: Sequence[str]) -> int:
    """Run the comparison, print it and write it to RESULTS.md; 1 when anything was lost."""
    options = options_from(args)
    results = compare(options)
    env = report.environment(asyncio.run(redis_version(options.redis_url)))
    section = render(results, options, report.command_line(argv), env)
    return report.publish("fanout", section, args.output, results, "lost events, publish errors or dropped connections")

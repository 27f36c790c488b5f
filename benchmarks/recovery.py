"""Recovery: a server process is killed mid-stream; its subscribers fail over to the other and miss nothing.

Two server processes share Redis; ``--subscribers`` subscribers (half on
each) subscribe to one topic that keeps history (``bench.recovery``: its
``Topic`` row keeps ``--history-size`` events for ``--history-ttl`` seconds).
A publisher on the first process publishes ``--events`` events at ``--rate``
per second. Right after the ``--kill-after``-th, the second process gets
SIGKILL (``--signal term``: SIGTERM, a graceful stop) and is started again
on the same port. Its subscribers reconnect, after the same randomised
backoff for every peer, to the surviving process (two servers and no sticky
load balancer), and resubscribe: wsrpc's with ``since``, the offset and
epoch of the last event they saw; Socket.IO's with connection-state
recovery, as socket.io-client does by itself (:mod:`benchmarks.failover`).

Measured per run: the time from the kill until every subscriber has every
event, how long the moved subscribers took to be subscribed again, events
lost (never delivered by the deadline) and duplicated, events out of order,
how many resubscriptions recovered, ``rpc.gap`` notices, and the CPU the
surviving process and Redis used from the first publish to the end.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import math
import signal
import subprocess
import time
from collections.abc import Callable, Coroutine, Sequence
from typing import Any

from redis.asyncio import Redis

from . import report
from .failover import Driver, Outcome, Plan, SocketIODriver, WsrpcDriver, subscriber_urls
from .harness import (
    Fleet,
    SharedOptions,
    Usage,
    add_shared_arguments,
    difference,
    loop_factory,
    measure_rounds,
    progress,
    redis_version,
    shared_options,
)
from .peers import RECOVERY_PEERS, SOCKETIO_DIR, Peer, select_peers
from .processes import PeerProcess, cpu_seconds
from .stats import Series, percentile
from .topics import TopicRow

__all__ = ["Options", "RunResult", "add_arguments", "compare", "main", "measure", "render", "section_name", "warm_up"]

#: A topic anyone may subscribe and publish to, keeping history (its Topic row is written before the servers start).
TOPIC = "bench.recovery"
PROCESSES = 2
SIGNALS = {"kill": signal.SIGKILL, "term": signal.SIGTERM}

DEFAULTS = {"subscribers": 1000, "events": 200, "runs": 3}
QUICK = {"subscribers": 100, "events": 40, "runs": 1}


# Options ---------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Options(SharedOptions):
    """What to compare and how hard."""

    subscribers: int = DEFAULTS["subscribers"]
    events: int = DEFAULTS["events"]
    runs: int = DEFAULTS["runs"]
    peers: tuple[Peer, ...] = RECOVERY_PEERS
    #: Events per second: 200 events take 5 s, long enough for the killed process to come back meanwhile.
    rate: float = 40.0
    #: The second process is killed right after this many events were sent (0: a fifth of them).
    kill_after: int = 0
    #: "kill" (SIGKILL, a crash) or "term" (SIGTERM, a graceful stop).
    signal: str = "kill"
    #: Publish requests unanswered at most (wsrpc's test settings allow 16 in flight).
    window: int = 16
    #: The first reconnection comes after a random delay in [0, 2 × reconnect_delay] s, doubling up to the max.
    reconnect_delay: float = 0.5
    reconnect_delay_max: float = 5.0
    #: Seconds after the last publish was answered before what is missing counts as lost.
    timeout: float = 15.0
    #: Seconds the killed process may take to listen again.
    restart_timeout: float = 60.0
    #: Seconds between the last subscription and the first publish.
    settle: float = 0.2
    #: The topic's Topic row (wsrpc): events kept and for how long (seconds).
    history_size: int = 1000
    history_ttl: int = 300

    @property
    def kill_at(self) -> int:
        return self.kill_after or max(1, self.events // 5)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--subscribers", type=int, help=f"subscribers per run (default {DEFAULTS['subscribers']})")
    parser.add_argument("--events", type=int, help=f"events published per run (default {DEFAULTS['events']})")
    parser.add_argument("--runs", type=int, help=f"runs per peer (default {DEFAULTS['runs']})")
    parser.add_argument(
        "--quick",
        action="store_true",
        help="smoke-test sizes: {subscribers} subscribers, {events} events, {runs} run (explicit flags win)".format(
            **QUICK
        ),
    )
    parser.add_argument("--rate", type=float, default=Options.rate, help="events published per second")
    parser.add_argument(
        "--kill-after", type=int, default=Options.kill_after, help="kill after this many events (default a fifth)"
    )
    parser.add_argument(
        "--signal", choices=tuple(SIGNALS), default=Options.signal, help="kill: SIGKILL, a crash; term: SIGTERM"
    )
    parser.add_argument("--window", type=int, default=Options.window, help="publish requests in flight at most")
    parser.add_argument(
        "--reconnect-delay", type=float, default=Options.reconnect_delay, help="seconds: mean first reconnect delay"
    )
    parser.add_argument(
        "--reconnect-delay-max", type=float, default=Options.reconnect_delay_max, help="seconds: longest delay"
    )
    parser.add_argument("--timeout", type=float, default=Options.timeout, help="seconds a run may overrun")
    parser.add_argument("--history-size", type=int, default=Options.history_size, help="events the topic keeps (wsrpc)")
    parser.add_argument(
        "--history-ttl", type=int, default=Options.history_ttl, help="seconds the topic keeps them (wsrpc)"
    )
    add_shared_arguments(parser, RECOVERY_PEERS, redis=True)


def options_from(args: argparse.Namespace) -> Options:
    sizes = QUICK if args.quick else DEFAULTS
    options = Options(
        subscribers=args.subscribers or sizes["subscribers"],
        events=args.events or sizes["events"],
        runs=args.runs or sizes["runs"],
        peers=select_peers(args.peers, RECOVERY_PEERS),
        rate=args.rate,
        kill_after=args.kill_after,
        signal=args.signal,
        window=args.window,
        reconnect_delay=args.reconnect_delay,
        reconnect_delay_max=args.reconnect_delay_max,
        timeout=args.timeout,
        history_size=args.history_size,
        history_ttl=args.history_ttl,
        **shared_options(args),
    )
    if options.subscribers < PROCESSES or options.runs < 1 or options.rate <= 0:
        raise SystemExit("need at least 2 subscribers, 1 run and a positive rate")
    if not 1 <= options.kill_at < options.events:
        raise SystemExit("--kill-after must leave events to publish after the kill")
    return options


# One run ----------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class RunResult:
    """What one run measured; times in perf_counter_ns()."""

    outcome: Outcome
    #: Subscribers of the killed process.
    moved: int
    kill_ns: int
    #: Seconds from the kill until the killed process listened again (None: it did not).
    restart_s: float | None
    #: Why the run stopped before every event was delivered, if it did.
    incomplete: str | None
    #: CPU seconds from the first publish to the end of the run.
    survivor_cpu_s: float | None
    redis_cpu_s: float | None
    #: CPU seconds everything else on the machine used meanwhile.
    other_cpu_s: float | None
    window_s: float

    @property
    def lost(self) -> int:
        return self.outcome.lost

    @property
    def failures(self) -> int:
        """Lost, duplicated or reordered events, failed publishes or resubscriptions, dropped connections."""
        o = self.outcome
        return o.lost + o.duplicates + o.reordered + o.publish_errors + o.failed_resubscriptions + o.dropped

    @property
    def complete_s(self) -> float:
        """Seconds from the kill until every subscriber had every event; NaN when some never arrived."""
        if self.outcome.lost or not self.outcome.last_delivery_ns:
            return float("nan")
        return max(0.0, (self.outcome.last_delivery_ns - self.kill_ns) / 1e9)

    @property
    def tail_s(self) -> float:
        """Seconds from sending the last event until every subscriber had every event; NaN when some never arrived."""
        if self.outcome.lost or not self.outcome.last_delivery_ns or not self.outcome.last_sent_ns:
            return float("nan")
        return max(0.0, (self.outcome.last_delivery_ns - self.outcome.last_sent_ns) / 1e9)

    def resubscribed_s(self, fraction: float) -> float:
        """That percentile of the seconds from the kill until a moved subscriber was subscribed again."""
        return percentile(sorted((t - self.kill_ns) / 1e9 for t in self.outcome.resubscribed_ns), fraction)


def _address(peer: Peer, process: PeerProcess) -> str:
    # socket.io-client reads a URL's path as the namespace: give it the origin only.
    return process.origin if peer.kind == "socketio" else process.ws_url


def _driver(peer: Peer, plan: Plan) -> Driver:
    if peer.kind == "socketio":
        return SocketIODriver(plan, str(SOCKETIO_DIR / "client.mjs"))
    return WsrpcDriver(plan)


def _plan(peer: Peer, processes: Sequence[PeerProcess], options: Options, subscribers: int, events: int) -> Plan:
    survivor, victim = (_address(peer, p) for p in processes)
    return Plan(
        subscribers=subscriber_urls([survivor, victim], subscribers),
        publisher=survivor,
        victim=victim,
        survivor=survivor,
        topic=TOPIC,
        events=events,
        rate=options.rate,
        window=options.window,
        reconnect_delay=options.reconnect_delay,
        reconnect_delay_max=options.reconnect_delay_max,
    )


def _restart(process: PeerProcess, grace: float) -> int:
    """Wait for the signalled ``process`` to exit (kill it past ``grace`` s), start it again; when it listens."""
    if not process.exited(grace):
        process.signal(signal.SIGKILL)
    process.stop()
    process.start()
    return time.perf_counter_ns()


async def warm_up(peer: Peer, processes: Sequence[PeerProcess], options: Options) -> None:
    """A few subscribers, a few events, no kill: the servers load their code paths before the first run."""
    driver = _driver(peer, _plan(peer, processes, options, 10, 5))
    await driver.open()
    try:
        async with asyncio.timeout(options.timeout):
            await driver.publish(lambda _: None)
            await driver.complete()
    except TimeoutError:
        progress(f"{peer.name}: the warm-up did not deliver every event within {options.timeout:g} s")
    finally:
        await driver.finish()


async def measure(peer: Peer, processes: Sequence[PeerProcess], options: Options) -> RunResult:
    """One run: subscribe everyone, publish, kill and restart the second process midway, wait for every event."""
    survivor, victim = processes
    plan = _plan(peer, processes, options, options.subscribers, options.events)
    driver = _driver(peer, plan)
    redis = Redis.from_url(options.redis_url)
    restart: asyncio.Future[int] | None = None
    kill_ns = 0
    victim_cpu = 0.0
    incomplete = None
    finished = False
    try:
        await driver.open()
        await asyncio.sleep(options.settle)
        before = await Usage.now([survivor.pid], redis)
        victim_before = cpu_seconds(victim.pid) or 0.0

        def published(count: int) -> None:
            nonlocal restart, kill_ns, victim_cpu
            if count != options.kill_at or restart is not None:
                return
            victim_cpu = (cpu_seconds(victim.pid) or victim_before) - victim_before
            kill_ns = time.perf_counter_ns()
            victim.signal(SIGNALS[options.signal])
            restart = asyncio.ensure_future(asyncio.to_thread(_restart, victim, victim.stop_timeout))

        schedule = options.events / options.rate
        incomplete = f"publishing took over {schedule + options.timeout:g} s"
        try:
            async with asyncio.timeout(schedule + options.timeout):
                await driver.publish(published)
            incomplete = f"not every event arrived within {options.timeout:g} s of the last publish"
            async with asyncio.timeout(options.timeout):
                await driver.complete()
            incomplete = None
        except TimeoutError:
            pass
        except ConnectionError as exc:
            incomplete = str(exc)
        after = await Usage.now([survivor.pid], redis)
        # The killed process's CPU until the kill, and its successor's so far, are no "other load".
        victim_cpu += cpu_seconds(victim.pid) or 0.0
        finished = True
        outcome = await driver.finish()
    finally:
        if not finished:
            await asyncio.shield(_finish_quietly(driver))
        restarted_ns = None
        if restart is not None:
            try:
                async with asyncio.timeout(options.restart_timeout):
                    restarted_ns = await restart
            except (TimeoutError, subprocess.SubprocessError, RuntimeError) as exc:
                progress(f"{peer.name}: the killed process did not come back: {exc!r}")
        await redis.aclose()

    other = after.others_since(before)
    if other is not None:
        # The Node.js client is a program of its own; this process's CPU is already left out.
        node_client = (outcome.client_cpu_s or 0.0) if peer.kind == "socketio" else 0.0
        other = max(0.0, other - victim_cpu - node_client)
    return RunResult(
        outcome=outcome,
        moved=sum(1 for url in plan.subscribers if url == plan.victim),
        kill_ns=kill_ns,
        restart_s=(restarted_ns - kill_ns) / 1e9 if restarted_ns and kill_ns else None,
        incomplete=incomplete,
        survivor_cpu_s=difference(after.servers, before.servers),
        redis_cpu_s=difference(after.redis, before.redis),
        other_cpu_s=other,
        window_s=after.wall - before.wall,
    )


async def _finish_quietly(driver: Driver) -> None:
    """Close what a failed run left open; its counts no longer matter."""
    try:
        await driver.finish()
    except Exception as exc:  # the run's own error is the one to report
        progress(f"closing the failed run's clients: {exc!r}")


# The comparison ---------------------------------------------------------------


def compare(options: Options) -> list[Series[RunResult]]:
    """Run every peer ``options.runs`` times, in rounds that rotate which goes first; the results in peer order."""
    fleet = Fleet(
        options.peers,
        PROCESSES,
        redis_url=options.redis_url,
        events=options.events,
        keep_logs=options.keep_logs,
        topics=(TopicRow(TOPIC, options.history_size, options.history_ttl),),
    )
    with fleet, asyncio.Runner(loop_factory=loop_factory(options.loop)) as runner:
        for peer in options.peers:
            runner.run(warm_up(peer, fleet.processes(peer), options))

        def one(peer: Peer, _: str) -> Coroutine[Any, Any, RunResult]:
            return measure(peer, fleet.processes(peer), options)

        return measure_rounds(runner, options, options.peers, options.runs, one, _line)


def _line(peer: Peer, _: str, number: int, result: RunResult) -> str:
    o = result.outcome
    text = (
        f"{peer.name:<24} run {number}: every event {result.complete_s:6.2f} s after the kill"
        f"  resubscribed p50 {result.resubscribed_s(0.5):5.2f} s max {result.resubscribed_s(1.0):5.2f} s"
        f"  lost {o.lost}  duplicated {o.duplicates}  out of order {o.reordered}"
        f"  recovered {o.recovered}/{result.moved}  gaps {o.gaps}"
    )
    if o.failed_attempts:
        text += f"  failed reconnection attempts {o.failed_attempts} (first: {o.attempt_errors[0]})"
    if o.dropped or o.publish_errors or o.failed_resubscriptions or o.stray:
        text += (
            f"  dropped {o.dropped}  publish errors {o.publish_errors}"
            f"  not resubscribed {o.failed_resubscriptions}  stray frames {o.stray}"
        )
    for moved, seq, order, before in o.reorders:
        text += f"\n    a {'moved' if moved else 'staying'} subscriber got event {seq} at {order} after {before}"
    for moved, seqs in o.missing:
        text += f"\n    a {'moved' if moved else 'staying'} subscriber missed events {', '.join(map(str, seqs))}"
        text += " ..." if len(seqs) == 20 else ""
    return text + (f"\n    INCOMPLETE: {result.incomplete}" if result.incomplete else "")


# Report -------------------------------------------------------------------------


def _seconds(series: Series[RunResult], quantity: Callable[[RunResult], float]) -> str:
    spread = series.spread(quantity)
    return "never" if math.isnan(spread.median) else spread.format(2)


def _total(series: Series[RunResult], quantity: Callable[[RunResult], int]) -> str:
    return f"{sum(quantity(r) for r in series.runs):,}"


def render(results: Sequence[Series[RunResult]], options: Options, command: str, env: dict[str, str]) -> str:
    """The Markdown section of RESULTS.md for these results."""
    signal_name = "SIGKILL (a crash)" if options.signal == "kill" else "SIGTERM (a graceful stop)"
    title = "Recovery after a server process dies" + ("" if options.signal == "kill" else " (graceful stop)")
    lines = [
        *report.heading(title, command, env),
        f"- Workload: {options.subscribers} subscribers on {PROCESSES} server processes sharing Redis (half on each), "
        f"one topic keeping history; {options.events} events published at {options.rate:g}/s by a publisher on the "
        f"first process; the second gets {signal_name} right after event {options.kill_at} and is started again; "
        f"its subscribers reconnect to the first after a random delay in [0, {2 * options.reconnect_delay:g}] s and "
        f"resubscribe from where they were. {options.runs} run(s) per peer: median (min–max); counts are totals.",
        "",
    ]
    headers = [
        "peer",
        "every event, s after the kill",
        "s after the last publish",
        "resubscribed p50 s",
        "resubscribed max s",
        "lost",
        "duplicated",
        "out of order",
        "recovered / moved",
        "rpc.gap",
        "survivor CPU s",
        "Redis CPU s",
        "restart s",
        "other load",
    ]
    rows = []
    for s in results:
        rows.append(
            [
                s.peer.name,
                _seconds(s, lambda r: r.complete_s),
                _seconds(s, lambda r: r.tail_s),
                _seconds(s, lambda r: r.resubscribed_s(0.5)),
                _seconds(s, lambda r: r.resubscribed_s(1.0)),
                _total(s, lambda r: r.outcome.lost),
                _total(s, lambda r: r.outcome.duplicates),
                _total(s, lambda r: r.outcome.reordered),
                f"{_total(s, lambda r: r.outcome.recovered)} / {_total(s, lambda r: r.moved)}",
                _total(s, lambda r: r.outcome.gaps),
                s.spread(lambda r: r.survivor_cpu_s if r.survivor_cpu_s is not None else math.nan).format(2),
                s.spread(lambda r: r.redis_cpu_s if r.redis_cpu_s is not None else math.nan).format(2),
                _seconds(s, lambda r: r.restart_s if r.restart_s is not None else math.nan),
                s.spread(lambda r: report.share(r.other_cpu_s, r.window_s)).format(2),
            ]
        )
    lines += [report.markdown_table(headers, rows, right=range(1, len(headers))), ""]
    problems = [_problems(s) for s in results]
    lines += [p for p in problems if p]
    lines += ["", *report.peer_list(options.peers)]
    lines += [
        "",
        "Columns: every event = last first-time delivery − the kill, when every subscriber got every event "
        "(never: some never arrived), which includes the rest of the publishing schedule; after the last publish = "
        "the same from the last event's send time; resubscribed = from the kill until a moved subscriber was "
        "subscribed again (wsrpc: the `rpc.subscribe` result with `since`; Socket.IO: `connect` with `recovered`, "
        "or the answer to subscribing again when not recovered); lost = events some subscriber never got by the "
        "deadline; duplicated = events a subscriber got twice (nothing is filtered on the client); out of "
        "order = events whose offset (wsrpc; Socket.IO: the stream id) is lower than one the subscriber "
        "already had; recovered = moved subscribers whose resubscription brought back what they missed; "
        "survivor CPU = the surviving process's CPU from the first publish to the end; restart = from the "
        "kill until the killed process listened again; other load = cores busy with anything else meanwhile.",
    ]
    return "\n".join(lines)


def _problems(series: Series[RunResult]) -> str:
    dropped = sum(r.outcome.dropped for r in series.runs)
    errors = sum(r.outcome.publish_errors for r in series.runs)
    unsubscribed = sum(r.outcome.failed_resubscriptions for r in series.runs)
    stray = sum(r.outcome.stray for r in series.runs)
    attempts = sum(r.outcome.failed_attempts for r in series.runs)
    if not (dropped or errors or unsubscribed or stray or attempts):
        return ""
    return (
        f"- `{series.peer.name}`: {dropped} subscriber(s) of the surviving process dropped, {errors} publish "
        f"error(s), {unsubscribed} moved subscriber(s) never subscribed again, {stray} stray frame(s), "
        f"{attempts} failed reconnection attempt(s)."
    )


def section_name(options: Options) -> str:
    """The section of RESULTS.md a run writes: ``recovery``, or ``recovery-term`` for a graceful stop."""
    return "recovery" if options.signal == "kill" else f"recovery-{options.signal}"


def main(args: argparse.Namespace, argv: Sequence[str]) -> int:
    """Run the comparison, print it and write it to RESULTS.md; 1 when wsrpc lost, repeated or reordered anything.

    What the other peers lose is what they measure, not a failure of the run.
    """
    options = options_from(args)
    results = compare(options)
    env = report.environment(asyncio.run(redis_version(options.redis_url)))
    if any(peer.kind == "socketio" for peer in options.peers):
        env["versions"] += f", {report.node_versions(SOCKETIO_DIR)}"
    section = render(results, options, report.command_line(argv), env)
    ours = [s for s in results if s.peer.kind == "wsrpc"]
    return report.publish(
        section_name(options), section, args.output, ours, "lost, duplicated or reordered events, errors or drops"
    )

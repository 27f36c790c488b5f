"""W5 memory: the server's resident memory per idle subscribed connection.

For each run, each peer's one server process is started afresh (memory
Python freed stays in its allocator, so a second run in the same process
would reuse it and show less). After a warm-up (a few connections opened,
subscribed and closed, so that code paths and caches are loaded), the RSS of
the idle server is read from ``/proc``; then ``--connections`` (2,000)
connections open and each subscribes to ``chat.lobby``, the run waits
``--settle`` seconds, and the RSS is read again. Reported: (RSS after − RSS
before) ÷ connections, the RSS themselves, and the server CPU time per
connection (handshake and subscription).
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import time
from collections.abc import Sequence

from . import report
from .client import Connection, close_all, open_many, subscribe_all
from .dialects import Dialect
from .harness import (
    Fleet,
    SharedOptions,
    Usage,
    add_shared_arguments,
    difference,
    loop_factory,
    progress,
    rounds,
    shared_options,
    wait_for_quiet,
)
from .peers import MEMORY_PEERS, Peer, select_peers
from .processes import PeerProcess
from .stats import Series

__all__ = ["Options", "RunResult", "add_arguments", "compare", "main", "measure", "render", "rss_bytes"]

TOPIC = "chat.lobby"
DEFAULTS = {"connections": 2000, "runs": 3}
QUICK = {"connections": 200, "runs": 1}
#: Connections opened, subscribed and closed before the baseline is read.
WARMUP = 20


def rss_bytes(pid: int | None) -> int | None:
    """Resident set size of process ``pid``; None where /proc cannot tell."""
    if pid is None:
        return None
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        return None
    return None


@dataclasses.dataclass(frozen=True)
class Options(SharedOptions):
    connections: int = DEFAULTS["connections"]
    runs: int = DEFAULTS["runs"]
    peers: tuple[Peer, ...] = MEMORY_PEERS
    #: Seconds between the last subscription and the second RSS reading.
    settle: float = 1.0
    #: Seconds the connections may take to open and subscribe.
    timeout: float = 120.0


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--connections", type=int, help=f"idle subscribed connections (default {DEFAULTS['connections']})"
    )
    parser.add_argument("--runs", type=int, help=f"runs per peer, each on a fresh server (default {DEFAULTS['runs']})")
    parser.add_argument(
        "--quick",
        action="store_true",
        help="smoke-test sizes: {connections} connections, {runs} run (explicit flags win)".format(**QUICK),
    )
    parser.add_argument("--settle", type=float, default=Options.settle, help="seconds idle before the RSS is read")
    parser.add_argument("--timeout", type=float, default=Options.timeout, help="seconds to open and subscribe all")
    add_shared_arguments(parser, MEMORY_PEERS, redis=True)


def options_from(args: argparse.Namespace) -> Options:
    sizes = QUICK if args.quick else DEFAULTS
    options = Options(
        connections=args.connections or sizes["connections"],
        runs=args.runs or sizes["runs"],
        peers=select_peers(args.peers, MEMORY_PEERS),
        settle=args.settle,
        timeout=args.timeout,
        **shared_options(args),
    )
    if options.connections < 1 or options.runs < 1:
        raise SystemExit("need at least 1 connection and 1 run")
    return options


@dataclasses.dataclass(frozen=True)
class RunResult:
    connections: int
    #: Subscriptions that failed (error reply, closed connection) and connections closed while idle.
    failures: int
    rss_before: int | None
    rss_after: int | None
    #: Seconds to open and subscribe every connection.
    setup_s: float
    server_cpu_s: float | None
    other_cpu_s: float | None
    window_s: float

    @property
    def kib_per_connection(self) -> float:
        if self.rss_before is None or self.rss_after is None or not self.connections:
            return float("nan")
        return (self.rss_after - self.rss_before) / self.connections / 1024

    @property
    def cpu_per_connection_us(self) -> float:
        return float("nan") if self.server_cpu_s is None else self.server_cpu_s / self.connections * 1e6


async def measure(url: str, dialect: Dialect, options: Options, pid: int | None) -> RunResult:
    """One run against a freshly started server: warm up, read the RSS, connect and subscribe all, read it again."""
    warm = await open_many([url] * WARMUP)
    try:
        await subscribe_all(warm, dialect, TOPIC)
    finally:
        await close_all(warm)
    await asyncio.sleep(options.settle)
    rss_before = rss_bytes(pid)
    before = await Usage.now([pid])
    start = time.perf_counter()
    connections: list[Connection] = []
    try:
        async with asyncio.timeout(options.timeout):
            connections = await open_many([url] * options.connections)
            failures = await subscribe_all(connections, dialect, TOPIC)
        setup = time.perf_counter() - start
        after = await Usage.now([pid])
        await asyncio.sleep(options.settle)
        rss_after = rss_bytes(pid)
        failures += sum(c.closed.done() for c in connections)
    finally:
        await close_all(connections)
    return RunResult(
        connections=len(connections),
        failures=failures,
        rss_before=rss_before,
        rss_after=rss_after,
        setup_s=setup,
        server_cpu_s=difference(after.servers, before.servers),
        other_cpu_s=after.others_since(before),
        window_s=after.wall - before.wall,
    )


def _restart(process: PeerProcess) -> None:
    process.stop()
    process.start()


def compare(options: Options) -> list[Series[RunResult]]:
    """``options.runs`` runs of every peer, each on a fresh server process, rounds interleaving the peers."""
    runs: dict[Peer, list[RunResult]] = {p: [] for p in options.peers}
    fleet = Fleet(options.peers, 1, redis_url=options.redis_url, events=0, keep_logs=options.keep_logs)
    with fleet, asyncio.Runner(loop_factory=loop_factory(options.loop)) as runner:
        for number, peer in rounds(options.peers, options.runs):
            (process,) = fleet.processes(peer)
            if number > 1:
                _restart(process)
            runner.run(wait_for_quiet(options.quiet_load, options.quiet_wait))
            result = runner.run(measure(process.ws_url, peer.dialect, options, process.pid))
            progress(
                f"{peer.name:<24} run {number}: {result.kib_per_connection:6.1f} KiB/connection"
                f"  RSS {_mib(result.rss_before)} → {_mib(result.rss_after)} MiB"
                f"  {result.connections / result.setup_s:,.0f} connections/s"
                + (f"  failures {result.failures}" if result.failures else "")
            )
            runs[peer].append(result)
    return [Series(peer, "", tuple(results)) for peer, results in runs.items()]


def _mib(value: int | None) -> str:
    return "?" if value is None else f"{value / 2**20:.1f}"


def render(results: Sequence[Series[RunResult]], options: Options, command: str, env: dict[str, str]) -> str:
    top = report.ceiling_median(results, lambda r: r.kib_per_connection)
    headers = [
        "peer",
        "KiB/connection",
        "× ceiling",
        "RSS idle MiB",
        f"RSS at {options.connections:,} MiB",
        "connect+subscribe/s",
        "server CPU µs/connection",
        "failures",
        "other load",
    ]
    rows = []
    for s in results:
        per = s.spread(lambda r: r.kib_per_connection)
        rows.append(
            [
                s.peer.name,
                per.format(1),
                report.ratio(per.median, top),
                s.spread(lambda r: _float(r.rss_before) / 2**20).format(1),
                s.spread(lambda r: _float(r.rss_after) / 2**20).format(1),
                s.spread(lambda r: r.connections / r.setup_s if r.setup_s else float("nan")).format(),
                s.spread(lambda r: r.cpu_per_connection_us).format(),
                str(s.failures),
                s.spread(lambda r: r.other_cpu_s / r.window_s if r.other_cpu_s is not None else float("nan")).format(2),
            ]
        )
    lines = [
        *report.heading("W5 memory per idle subscribed connection", command, env),
        f"- Workload: {options.connections:,} connections to one server process, each subscribed to `{TOPIC}`, "
        f"idle for {options.settle:g} s; a fresh server per run. {options.runs} run(s) per peer: median (min–max).",
        "",
        report.markdown_table(headers, rows, right=range(1, len(headers))),
        "",
        *report.peer_list(options.peers),
        "",
        "Columns: KiB/connection = (server RSS with every connection subscribed − RSS idle after a warm-up) ÷ "
        "connections; × ceiling = this peer's KiB/connection ÷ the bare websockets server's (lower is better); "
        "connect+subscribe/s and server CPU = opening and subscribing every connection; other load = cores busy "
        "with anything else meanwhile.",
    ]
    return "\n".join(lines)


def _float(value: int | None) -> float:
    return float("nan") if value is None else float(value)


def main(args: argparse.Namespace, argv: Sequence[str]) -> int:
    """Run the comparison, print it and write it to RESULTS.md; 1 when any subscription failed."""
    options = options_from(args)
    if not options.peers:
        progress("no peer to run")
        return 1
    results = compare(options)
    section = render(results, options, report.command_line(argv), report.environment())
    return report.publish("memory", section, args.output, results, "failed subscriptions or dropped connections")

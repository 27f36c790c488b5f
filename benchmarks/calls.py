"""W1–W3 calls: ``add(a, b)`` round trips, on one connection or on many, against one server process.

Three modes, each a fixed stretch of time (``--duration``) after a warm-up:

- ``sequential`` (W1): one connection, one call at a time: the next call is
  sent when the previous reply arrives;
- ``pipelined`` (W2): one connection, ``--window`` calls (64) in flight at
  all times: a new call is sent as soon as any reply arrives;
- ``concurrent`` (W3): ``--connections`` connections (100), each calling
  sequentially, all at once.

Every peer gets the same request, ``add`` with ``{"a": 1, "b": 2}`` (named
params: fastapi-websocket-rpc takes keyword arguments only), from the same
client process. Measured per run: calls/s (replies ÷ time from the first
send to the last reply), p50/p99 latency (reply time − send time, one
clock), server CPU time per call, and error replies or missing replies.

With ``--metrics``, every wsrpc peer also runs as ``<peer>+metrics``: the
same server with ``WSRPC["METRICS"]`` on (``BENCH_METRICS=1``; off in every
other peer), and the report sets its calls/s and server CPU per call beside
the same peer's with metrics off (issue 18's target on W3: at most 5% fewer
calls/s).
"""

from __future__ import annotations

import argparse
import array
import asyncio
import dataclasses
import time
from collections.abc import Coroutine, Sequence
from pathlib import Path
from typing import Any

from . import report
from .client import Caller, close_all, open_many
from .dialects import Dialect
from .harness import (
    METRICS_ON,
    Fleet,
    SharedOptions,
    Usage,
    add_shared_arguments,
    chosen_peers,
    difference,
    loop_factory,
    measure_rounds,
    modes_from,
    other_load,
    progress,
    shared_options,
)
from .peers import CALL_PEERS, Peer
from .stats import Series, percentile

__all__ = ["MODES", "Options", "RunResult", "add_arguments", "compare", "main", "measure", "render"]

MODES = ("sequential", "pipelined", "concurrent")
#: Workload names of the issue, by mode.
LABELS = {"sequential": "W1 sequential calls", "pipelined": "W2 pipelined calls", "concurrent": "W3 concurrent calls"}
METHOD = "add"
PARAMS = {"a": 1, "b": 2}

#: Calls/s with metrics on ÷ off that a mode should stay above (issue 18: W3).
METRICS_TARGETS = {"concurrent": 0.95}

DEFAULTS: dict[str, float] = {"duration": 5.0, "runs": 3}
QUICK: dict[str, float] = {"duration": 1.0, "runs": 1}


@dataclasses.dataclass(frozen=True)
class Options(SharedOptions):
    """What to compare and how hard."""

    duration: float = DEFAULTS["duration"]
    runs: int = int(DEFAULTS["runs"])
    modes: tuple[str, ...] = MODES
    peers: tuple[Peer, ...] = CALL_PEERS
    #: Calls in flight on the one connection of the pipelined mode.
    window: int = 64
    #: Connections of the concurrent mode.
    connections: int = 100
    #: Seconds of calls before the measured stretch (the same mode, not counted).
    warmup: float = 0.5
    #: Seconds a run may wait past ``duration`` for its last replies before they count as missing.
    timeout: float = 15.0
    profile_dir: Path | None = None


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--duration", type=float, help=f"seconds measured per run (default {DEFAULTS['duration']:g})")
    parser.add_argument("--runs", type=int, help=f"runs per peer and mode (default {DEFAULTS['runs']:g})")
    parser.add_argument(
        "--quick",
        action="store_true",
        help="smoke-test sizes: {duration:g} s per run, {runs:g} run (explicit flags win)".format(**QUICK),
    )
    parser.add_argument(
        "--modes", default=",".join(MODES), help="comma-separated: sequential (W1), pipelined (W2), concurrent (W3)"
    )
    parser.add_argument("--window", type=int, default=Options.window, help="pipelined: calls in flight")
    parser.add_argument(
        "--connections", type=int, default=Options.connections, help="concurrent: connections calling at once"
    )
    parser.add_argument("--warmup", type=float, default=Options.warmup, help="seconds of unmeasured calls first")
    parser.add_argument("--timeout", type=float, default=Options.timeout, help="seconds a run may overrun")
    parser.add_argument("--profile", type=Path, metavar="DIR", help="run every server under py-spy (see fanout)")
    add_shared_arguments(parser, CALL_PEERS, redis=False, variants={"metrics": METRICS_ON})


def options_from(args: argparse.Namespace) -> Options:
    sizes = QUICK if args.quick else DEFAULTS
    modes = modes_from(args.modes, MODES)
    options = Options(
        duration=args.duration or sizes["duration"],
        runs=args.runs or int(sizes["runs"]),
        modes=modes,
        peers=chosen_peers(args, CALL_PEERS),
        window=args.window,
        connections=args.connections,
        warmup=args.warmup,
        timeout=args.timeout,
        profile_dir=args.profile,
        **shared_options(args),
    )
    if options.duration <= 0 or options.runs < 1 or options.window < 1 or options.connections < 1:
        raise SystemExit("need a positive duration, window and connection count, and at least 1 run")
    return options


# One run ----------------------------------------------------------------------


@dataclasses.dataclass
class Tally:
    """The calls of one run, over every worker."""

    latencies: array.array[int] = dataclasses.field(default_factory=lambda: array.array("q"))
    errors: int = 0
    first_ns: int = 0
    last_ns: int = 0


async def _worker(caller: Caller, until: float, tally: Tally | None) -> None:
    """Call, one call at a time, until the loop's clock passes ``until``; record into ``tally``."""
    loop = asyncio.get_running_loop()
    clock = time.perf_counter_ns
    while loop.time() < until:
        sent = clock()
        reply = await caller.call(METHOD, PARAMS)
        ok = reply.ok and reply.result == 3
        if tally is None:
            continue
        now = clock()
        if not tally.first_ns or sent < tally.first_ns:
            tally.first_ns = sent
        tally.last_ns = max(tally.last_ns, now)
        if ok:
            tally.latencies.append(now - sent)
        else:
            tally.errors += 1


@dataclasses.dataclass(frozen=True)
class RunResult:
    calls: int
    errors: int
    #: Why the run stopped early, if it did (a deadline, a closed connection).
    incomplete: str | None
    elapsed_s: float
    p50_ms: float
    p99_ms: float
    server_cpu_s: float | None
    client_cpu_s: float
    other_cpu_s: float | None
    window_s: float

    @property
    def calls_per_s(self) -> float:
        return self.calls / self.elapsed_s if self.elapsed_s > 0 else 0.0

    def per_call_us(self, seconds: float | None) -> float:
        return float("nan") if seconds is None or not self.calls else seconds / self.calls * 1e6

    @property
    def failures(self) -> int:
        return self.errors + (1 if self.incomplete else 0)


def _shape(mode: str, options: Options) -> tuple[int, int]:
    """Connections, and workers (calls in flight) per connection, of a mode."""
    if mode == "sequential":
        return 1, 1
    if mode == "pipelined":
        return 1, options.window
    return options.connections, 1


async def measure(
    url: str, dialect: Dialect, mode: str, options: Options, pids: Sequence[int | None] = ()
) -> RunResult:
    """One run: open the mode's connections, warm up, then call for ``options.duration`` seconds."""
    count, per_connection = _shape(mode, options)
    connections = await open_many([url] * count)
    loop = asyncio.get_running_loop()
    tally = Tally()
    incomplete = None
    try:
        callers = [Caller(connection, dialect) for connection in connections]
        workers = [caller for caller in callers for _ in range(per_connection)]
        async with asyncio.timeout(options.warmup + options.timeout):
            await asyncio.gather(*(_worker(caller, loop.time() + options.warmup, None) for caller in workers))
        before = await Usage.now(pids)
        try:
            async with asyncio.timeout(options.duration + options.timeout):
                until = loop.time() + options.duration
                await asyncio.gather(*(_worker(caller, until, tally) for caller in workers))
        except TimeoutError:
            incomplete = f"deadline ({options.duration + options.timeout:g} s) passed"
        except ConnectionError as exc:
            incomplete = str(exc)
        after = await Usage.now(pids)
    finally:
        await close_all(connections)
    latencies = sorted(tally.latencies)
    return RunResult(
        calls=len(latencies),
        errors=tally.errors,
        incomplete=incomplete,
        elapsed_s=(tally.last_ns - tally.first_ns) / 1e9,
        p50_ms=percentile(latencies, 0.50) / 1e6,
        p99_ms=percentile(latencies, 0.99) / 1e6,
        server_cpu_s=difference(after.servers, before.servers),
        client_cpu_s=after.client - before.client,
        other_cpu_s=after.others_since(before),
        window_s=after.wall - before.wall,
    )


# The comparison ---------------------------------------------------------------


def compare(options: Options) -> list[Series[RunResult]]:
    """Every mode of every peer ``options.runs`` times, rounds interleaving the peers; results in peer order."""
    fleet = Fleet(
        options.peers, 1, redis_url="", events=0, profile_dir=options.profile_dir, keep_logs=options.keep_logs
    )
    with fleet, asyncio.Runner(loop_factory=loop_factory(options.loop)) as runner:

        def one(peer: Peer, mode: str) -> Coroutine[Any, Any, RunResult]:
            (process,) = fleet.processes(peer)
            return measure(process.ws_url, peer.dialect, mode, options, [process.pid])

        return measure_rounds(runner, options, options.peers, options.runs, one, _line, options.modes)


def _line(peer: Peer, mode: str, number: int, result: RunResult) -> str:
    other = other_load(result.other_cpu_s, result.window_s)
    text = (
        f"{peer.name:<20} {mode:<10} run {number}: {result.calls_per_s:>8,.0f} calls/s  p50 {result.p50_ms:6.2f} ms"
        f"  p99 {result.p99_ms:6.2f} ms  server CPU {result.per_call_us(result.server_cpu_s):6.1f} µs/call"
        f"  other load {other} cores"
    )
    if result.errors:
        text += f"  errors {result.errors}"
    return text + (f"  INCOMPLETE: {result.incomplete}" if result.incomplete else "")


# Report -------------------------------------------------------------------------


def render(results: Sequence[Series[RunResult]], options: Options, command: str, env: dict[str, str]) -> str:
    """The Markdown section of RESULTS.md for these results."""
    lines = [
        *report.heading("W1–W3 calls", command, env),
        f"- Workload: `{METHOD}` with `{PARAMS}` (named params), one server process per peer; each run is "
        f"{options.duration:g} s of calls after {options.warmup:g} s of warm-up; W2 keeps {options.window} calls in "
        f"flight on one connection, W3 has {options.connections} connections calling sequentially at once. "
        f"{options.runs} run(s) per cell: median (min–max).",
        "",
    ]
    headers = [
        "peer",
        "calls/s",
        "× ceiling",
        "p50 ms",
        "p99 ms",
        "server CPU µs/call",
        "× ceiling (CPU)",
        "client CPU",
        "errors",
        "other load",
    ]
    for mode in options.modes:
        series = [s for s in results if s.mode == mode]
        top_rate = report.ceiling_median(series, lambda r: r.calls_per_s)
        top_cpu = report.ceiling_median(series, _server_us)
        rows = []
        for s in series:
            rate = s.spread(lambda r: r.calls_per_s)
            cpu = s.spread(_server_us)
            rows.append(
                [
                    s.peer.name,
                    rate.format(),
                    report.ratio(rate.median, top_rate),
                    s.spread(lambda r: r.p50_ms).format(2),
                    s.spread(lambda r: r.p99_ms).format(2),
                    cpu.format(1),
                    report.ratio(top_cpu, cpu.median),
                    s.spread(lambda r: report.share(r.client_cpu_s, r.window_s)).format(0, scale=100) + " %",
                    str(s.failures),
                    s.spread(lambda r: report.share(r.other_cpu_s, r.window_s)).format(2),
                ]
            )
        lines += [f"### {LABELS[mode]} (`{mode}`)", "", report.markdown_table(headers, rows, right=range(1, 10)), ""]
    lines += _metrics_cost(results)
    lines += report.peer_list(options.peers)
    lines += [
        "",
        "Columns: calls/s = replies ÷ (last reply − first send); latency = reply time − send time on the client's one "
        "clock; server CPU = the server process's CPU time over the run ÷ calls; client CPU = share of one core; "
        "× ceiling = this peer's calls/s ÷ the bare websockets server's, and (CPU) the ceiling's CPU per call ÷ this "
        "peer's; errors = error replies, wrong results and runs cut short; other load = cores busy with anything "
        "else on the machine meanwhile.",
    ]
    return "\n".join(lines)


def _server_us(run: RunResult) -> float:
    return run.per_call_us(run.server_cpu_s)


def _metrics_cost(results: Sequence[Series[RunResult]]) -> list[str]:
    """The table that sets each ``+metrics`` peer beside the same peer with metrics off; empty when none ran."""
    rows = [
        [
            off.peer.name,
            f"{LABELS[on.mode].split()[0]} {on.mode}",
            *report.on_off(off, on, lambda r: r.calls_per_s),
            f"{METRICS_TARGETS[on.mode]:g}" if on.mode in METRICS_TARGETS else "–",
            *report.on_off(off, on, _server_us, 1),
            str(off.failures),
            str(on.failures),
        ]
        for off, on in report.variant_pairs(results, "metrics")
    ]
    headers = [
        "peer",
        "workload",
        "calls/s, metrics off",
        "metrics on",
        "calls on ÷ off",
        "target (at least)",
        "server CPU µs/call, metrics off",
        "metrics on",
        "CPU on ÷ off",
        "errors off",
        "errors on",
    ]
    what = (
        "The `+metrics` peers run with `WSRPC['METRICS']` on (`BENCH_METRICS=1`): every connection, frame and call "
        "is counted, every call's duration observed, in `prometheus_client`'s default registry (issue 18's target: "
        f"W3 calls on ÷ off at least {METRICS_TARGETS['concurrent']:g})."
    )
    return report.variant_section("metrics", what, headers, rows)


def main(args: argparse.Namespace, argv: Sequence[str]) -> int:
    """Run the comparison, print it and write it to RESULTS.md; 1 when any call failed."""
    options = options_from(args)
    if not options.peers:
        progress("no peer to run")
        return 1
    results = compare(options)
    section = render(results, options, report.command_line(argv), report.environment())
    return report.publish("calls", section, args.output, results, "failed calls or runs cut short")

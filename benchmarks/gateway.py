"""The cost of the extra hop: W1 and W3 through a ``WebSocketProxy`` gateway and directly, in one run,
as ratios; and the gateway's memory per proxied idle connection.

::

    .venv/bin/python -m benchmarks.gateway            # uvicorn gateway in front of a uvicorn wsrpc server
    .venv/bin/python -m benchmarks.gateway --quick    # smoke-test sizes, a few seconds

One wsrpc server (``tests.asgi``, uvicorn, no per-message compression) and one
gateway process (``tests.support.gateway_app``, uvicorn) routing ``ws/rpc/`` to
it. Each run measures the same workload directly and through the gateway, in
alternating order, ``--runs`` times; the report gives the medians and
gateway ÷ direct. W1: one connection, one ``add`` call at a time. W3:
``--connections`` connections calling at once, one call in flight each.
Memory: the gateway's RSS growth over ``--idle`` idle proxied connections,
per connection (each holds the client's socket, the target's, two pumps and
the ``websockets`` connection state).
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import statistics
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass

from websockets.asyncio.client import ClientConnection, connect

from tests.support.gateway import Gateway
from tests.support.servers import ServerProcess

from .stats import percentile

__all__ = ["CallResult", "measure_calls", "idle_memory", "main"]

REQUEST = {"jsonrpc": "2.0", "method": "add", "params": {"a": 1, "b": 2}}
KIB = 1024


@dataclass(frozen=True)
class CallResult:
    """One run of one workload against one address."""

    calls: int
    errors: int
    seconds: float
    p50_ms: float
    p99_ms: float

    @property
    def calls_per_s(self) -> float:
        return self.calls / self.seconds if self.seconds else 0.0


class Uvicorn(ServerProcess):
    """uvicorn without per-message compression, as the README's deployment advice says."""

    def command(self) -> list[str]:
        return [*super().command(), "--ws-per-message-deflate", "false", "--log-level", "warning"]


class QuietGateway(Gateway):
    def command(self) -> list[str]:
        return [*super().command(), "--ws-per-message-deflate", "false", "--log-level", "warning"]


async def _caller(ws: ClientConnection, until: float, latencies: list[float], errors: list[int]) -> None:
    ids = itertools.count()
    while time.monotonic() < until:
        started = time.perf_counter()
        await ws.send(json.dumps({**REQUEST, "id": next(ids)}))
        reply = json.loads(await ws.recv())
        latencies.append(time.perf_counter() - started)
        if reply.get("result") != 3:
            errors.append(1)


async def measure_calls(url: str, origin: str, connections: int, duration: float) -> CallResult:
    """``connections`` connections to ``url``, each calling ``add`` one at a time for ``duration`` seconds."""
    sockets = [
        await connect(url, origin=origin, proxy=None, compression=None, open_timeout=30) for _ in range(connections)
    ]
    latencies: list[float] = []
    errors: list[int] = []
    try:
        await asyncio.gather(*(_caller(ws, time.monotonic() + 0.2, [], []) for ws in sockets))  # warm up
        started = time.monotonic()
        await asyncio.gather(*(_caller(ws, started + duration, latencies, errors) for ws in sockets))
        seconds = time.monotonic() - started
    finally:
        await asyncio.gather(*(ws.close() for ws in sockets))
    ordered = sorted(latencies)
    return CallResult(
        len(ordered), len(errors), seconds, percentile(ordered, 0.5) * 1e3, percentile(ordered, 0.99) * 1e3
    )


def _rss(pid: int) -> int:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * KIB
    raise RuntimeError(f"no VmRSS for process {pid}")


async def idle_memory(gateway: Gateway, count: int) -> float:
    """The gateway's RSS growth per idle proxied connection, in KiB, over ``count`` connections."""
    before = _rss(gateway.pid)
    sockets = []
    try:
        for _ in range(count):
            sockets.append(await connect(gateway.url("ws/rpc/"), origin=gateway.origin, proxy=None, compression=None))
        await asyncio.sleep(1.0)  # let the connections settle (the target's handshake, first pings)
        after = _rss(gateway.pid)
    finally:
        await asyncio.gather(*(ws.close() for ws in sockets))
    return (after - before) / count / KIB


def _median(results: Sequence[CallResult], field: str) -> float:
    return statistics.median(getattr(result, field) for result in results)


async def run(args: argparse.Namespace) -> str:
    lines = ["## Through a WebSocketProxy gateway", ""]
    with (
        Uvicorn("uvicorn", env={"REDIS_URL": None}) as target,
        QuietGateway(
            "uvicorn", rpc=f"ws://{target.host}:{target.port}", db_path=target.db_path, migrate=False
        ) as gateway,
    ):
        addresses = {"direct": (target.ws_url, target.origin), "gateway": (gateway.url("ws/rpc/"), gateway.origin)}
        lines += [
            f"W1: 1 connection; W3: {args.connections} connections; {args.duration:g} s a run, "
            f"{args.runs} runs each, direct and through the gateway alternating; medians.",
            "",
            "| workload | direct calls/s | gateway calls/s | gateway ÷ direct | p50 ms direct | gateway | errors |",
            "| --- | --- | --- | --- | --- | --- | --- |",
        ]
        failures = 0
        for name, connections in (("W1", 1), ("W3", args.connections)):
            results: dict[str, list[CallResult]] = {"direct": [], "gateway": []}
            for number in range(args.runs):
                order = ("direct", "gateway") if number % 2 == 0 else ("gateway", "direct")
                for where in order:
                    url, origin = addresses[where]
                    results[where].append(await measure_calls(url, origin, connections, args.duration))
            direct, through = results["direct"], results["gateway"]
            errors = sum(result.errors for result in direct + through)
            failures += errors
            ratio = _median(through, "calls_per_s") / _median(direct, "calls_per_s")
            lines.append(
                f"| {name} | {_median(direct, 'calls_per_s'):,.0f} | {_median(through, 'calls_per_s'):,.0f} "
                f"| {ratio:.2f} | {_median(direct, 'p50_ms'):.3f} | {_median(through, 'p50_ms'):.3f} | {errors} |"
            )
        per_connection = await idle_memory(gateway, args.idle)
        lines += [
            "",
            f"Gateway memory per idle proxied connection ({args.idle:,} connections): {per_connection:.1f} KiB.",
        ]
    if failures:
        lines.append(f"\n{failures} calls failed.")
    return "\n".join(lines) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.gateway", description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="smoke-test sizes")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--duration", type=float, default=10.0, help="seconds a run")
    parser.add_argument("--connections", type=int, default=100, help="W3's connections")
    parser.add_argument("--idle", type=int, default=2000, help="idle connections for the memory figure")
    args = parser.parse_args(argv)
    if args.quick:
        args.runs, args.duration, args.connections, args.idle = 1, 0.5, 10, 50
    report = asyncio.run(run(args))
    print(report)
    return 1 if "calls failed" in report else 0


if __name__ == "__main__":
    sys.exit(main())

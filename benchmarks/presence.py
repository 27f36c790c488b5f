"""How long listing a topic's presence takes with 10,000 subscribers on Redis.

``python -m benchmarks.presence`` fills one topic's presence in Redis with
``--members`` entries (of ``--processes`` living processes, half of them
logged-in users), then times what ``rpc.presence`` and ``presence()`` do:
the store's read script (which also leaves out and deletes the entries of
dead processes) and decoding the entries, and what ``rpc.presence_stats``
adds (counting distinct users). It prints the median and the 90th
percentile over ``--rounds`` reads, and deletes its keys.

Presence costs nothing per delivered event: it is written when a
connection subscribes or leaves, and refreshed once per ``PRESENCE_TTL / 3``
per process, so the W4 fan-out's CPU per delivery does not depend on it.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import time
import uuid

from wsrpc_app.pubsub.presence_store import RedisPresence
from wsrpc_app.pubsub.roster import decode_entries, stats
from wsrpc_app.pubsub.stream import new_epoch

__all__ = ["measure", "main"]


async def measure(redis_url: str, *, members: int, rounds: int, processes: int = 2) -> dict[str, float]:
    """Seconds per read (median and p90) of ``members`` entries, and the same with the stats counted."""
    from channels_redis.utils import decode_hosts

    prefix = f"bench-presence-{uuid.uuid4().hex[:8]}"
    store = RedisPresence(decode_hosts([redis_url]), prefix)
    topic = "bench.presence"
    markers = [new_epoch() for _ in range(processes)]
    try:
        for marker in markers:
            await store.heartbeat(marker, 600)
        for start in range(0, members, 1000):
            batch = {}
            for n in range(start, min(start + 1000, members)):
                connection = f"{markers[n % processes]}.{n}"
                user = {"user": f"user{n}", "user_id": n} if n % 2 else {"user": None, "user_id": None}
                batch[connection] = json.dumps({"connection": connection, **user, "info": {"device": "bench"}})
            await store.add(topic, batch, 600)
        listed, counted = [], []
        for _ in range(rounds):
            started = time.perf_counter()
            entries = decode_entries(await store.members(topic))
            listed.append(time.perf_counter() - started)
            stats(entries)
            counted.append(time.perf_counter() - started)
            assert len(entries) == members, len(entries)
        return {
            "members": members,
            "presence_median_s": statistics.median(listed),
            "presence_p90_s": _p90(listed),
            "stats_median_s": statistics.median(counted),
        }
    finally:
        for client in store._clients:
            await client.delete(f"{prefix}:wsrpc:procs", f"{prefix}:wsrpc:{{{topic}}}:p")
        await store.close()


def _p90(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * 0.9))]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/0")
    parser.add_argument("--members", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--processes", type=int, default=2)
    args = parser.parse_args(argv)
    result = asyncio.run(measure(args.redis_url, members=args.members, rounds=args.rounds, processes=args.processes))
    print(
        f"presence() of {result['members']:,} members: median {result['presence_median_s'] * 1000:.1f} ms, "
        f"p90 {result['presence_p90_s'] * 1000:.1f} ms; with presence_stats' count: "
        f"median {result['stats_median_s'] * 1000:.1f} ms"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""The servers the benchmarks compare, each run as two processes sharing Redis.

Every peer serves ``ws/rpc/`` on a free port of 127.0.0.1 and speaks the same
small JSON-RPC 2.0 subset, so one client drives them all: ``rpc.subscribe``
and ``rpc.publish`` requests answered with a result, events pushed as
``rpc.event`` notifications with ``params.topic`` and ``params.data``.

Peer kinds:

- ``wsrpc``: this project (``tests.asgi:application``, the test settings);
- ``channels``: :mod:`benchmarks.peers.channels_bare`, Channels' usual group-per-topic way;
- ``websockets``: :mod:`benchmarks.peers.websockets_bare`, the practical ceiling.

These are benchmark-only programs, not dependencies of ``wsrpc_app``.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from ..processes import PeerProcess

__all__ = ["LAYERS", "PEERS", "Peer", "peer_named"]

#: Channel layer names as the settings modules take them, and what they are.
LAYERS = {
    "redis_pubsub": "RedisPubSubChannelLayer",
    "redis": "RedisChannelLayer",
}


@dataclasses.dataclass(frozen=True)
class Peer:
    """One server setup under test."""

    name: str
    kind: str  # "wsrpc" | "channels" | "websockets"
    server: str  # "uvicorn" | "daphne" | "websockets"
    layer: str = "redis_pubsub"
    #: The reference the others are divided by.
    ceiling: bool = False

    @property
    def description(self) -> str:
        what = {"wsrpc": "wsrpc", "channels": "bare Channels", "websockets": "bare websockets"}[self.kind]
        via = "Redis pub/sub" if self.kind == "websockets" else LAYERS[self.layer]
        return f"{what} on {self.server}, {via}"

    def processes(
        self,
        count: int,
        *,
        redis_url: str,
        prefix: str,
        db_path: Path,
        events: int,
        profile_dir: Path | None = None,
    ) -> list[PeerProcess]:
        """``count`` server processes of this peer, not started, on one Redis under ``prefix``.

        ``db_path`` is a migrated database in a directory that also takes the
        logs. With ``profile_dir``, each process runs under py-spy and writes
        ``<peer name>-<n>.txt`` there.
        """
        return [
            self._process(
                redis_url=redis_url,
                prefix=prefix,
                db_path=db_path,
                events=events,
                profile=profile_dir / f"{self.name}-{n}.txt" if profile_dir is not None else None,
            )
            for n in range(1, count + 1)
        ]

    def _process(self, *, redis_url: str, prefix: str, db_path: Path, events: int, profile: Path | None) -> PeerProcess:
        common: dict[str, Any] = {
            "db_path": db_path,
            "needs_db": False,
            "log_dir": db_path.parent,
            "startup_timeout": 60.0,
            "profile": profile,
        }
        if self.kind == "wsrpc":
            env = {
                "REDIS_URL": redis_url,
                "WSRPC_TEST_LAYER": self.layer,
                "WSRPC_TEST_LAYER_PREFIX": prefix,
                # The benchmark measures fan-out, not the per-connection limits.
                "WSRPC_TEST_PUBLISH_RATE": "1000000",
                "WSRPC_TEST_OUTBOUND_QUEUE": str(max(10_000, 2 * events)),
            }
            # The database is migrated once, before any peer starts, and only read here.
            return PeerProcess(self.server, env=env, **common)
        env = {"REDIS_URL": redis_url, "BENCH_LAYER": self.layer, "BENCH_LAYER_PREFIX": prefix}
        if self.kind == "channels":
            return PeerProcess(
                self.server,
                app="benchmarks.peers.channels_bare:application",
                settings="benchmarks.peers.channels_settings",
                env=env,
                **common,
            )
        return PeerProcess(self.server, module="benchmarks.peers.websockets_bare", env=env, **common)


#: Every peer, in the order results are reported.
PEERS: tuple[Peer, ...] = (
    Peer("wsrpc-uvicorn-pubsub", "wsrpc", "uvicorn", "redis_pubsub"),
    Peer("wsrpc-uvicorn-redis", "wsrpc", "uvicorn", "redis"),
    Peer("wsrpc-daphne-pubsub", "wsrpc", "daphne", "redis_pubsub"),
    Peer("channels-uvicorn-pubsub", "channels", "uvicorn", "redis_pubsub"),
    Peer("channels-uvicorn-redis", "channels", "uvicorn", "redis"),
    Peer("websockets-pubsub", "websockets", "websockets", ceiling=True),
)


def peer_named(name: str) -> Peer:
    for peer in PEERS:
        if peer.name == name:
            return peer
    raise KeyError(f"no peer {name!r}; known: {', '.join(p.name for p in PEERS)}")

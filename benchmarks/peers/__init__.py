"""The servers the benchmarks compare.

Every peer serves ``ws/rpc/`` on a free port of 127.0.0.1. All but the
fastapi ones speak the same small JSON-RPC 2.0 subset, so one client drives
them all: ``add(a, b)``, ``rpc.subscribe`` and ``rpc.publish`` requests
answered with a result, events pushed as ``rpc.event`` notifications with
``params.topic`` and ``params.data``. The fastapi peers speak their own
envelope, which :mod:`benchmarks.dialects` translates.

Peer kinds:

- ``wsrpc``: this project (``tests.asgi:application``, the test settings with a
  higher in-flight limit: :mod:`benchmarks.peers.wsrpc_settings`);
- ``channels``: :mod:`benchmarks.peers.channels_bare`, Channels' usual group-per-topic way;
- ``websockets``: :mod:`benchmarks.peers.websockets_bare`, the practical ceiling;
- ``fastapi-rpc``, ``fastapi-pubsub``: :mod:`benchmarks.peers.fastapi_peers`, optional
  (``pip install -e '.[bench]'``); skipped when not installed;
- ``socketio``: Socket.IO 4 on Node.js with ``@socket.io/redis-streams-adapter`` and
  connection-state recovery (``peers/socketio/``), optional (``npm ci --prefix
  benchmarks/peers/socketio``); it speaks Socket.IO, so only its Node.js clients drive it
  (the recovery workload's, :mod:`benchmarks.failover`, and the chat workload's, :mod:`benchmarks.chat`).

Each workload has its own list: :data:`PEERS` (fan-out), :data:`CALL_PEERS`,
:data:`MEMORY_PEERS`, :data:`RECOVERY_PEERS`, :data:`CHAT_PEERS`. A wsrpc peer may run in variants
(:data:`VARIANTS`): on a topic that keeps history, the same peer with
``history=True`` named ``<name>+history``; on a topic with presence, with
``presence=True`` named ``<name>+presence``; with Prometheus metrics on
(``BENCH_METRICS=1``, read by :mod:`benchmarks.peers.wsrpc_settings`), with
``metrics=True`` named ``<name>+metrics`` (:func:`with_variant`). These
are benchmark-only programs, not dependencies of ``wsrpc_app``.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import shutil
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..dialects import FASTAPI, JSONRPC, Dialect
from ..processes import PeerProcess

__all__ = [
    "CALL_PEERS",
    "CHAT_PEERS",
    "HISTORY_SUFFIX",
    "LAYERS",
    "MEMORY_PEERS",
    "PEERS",
    "PRESENCE_SUFFIX",
    "RECOVERY_PEERS",
    "SOCKETIO_DIR",
    "TOPIC_VARIANTS",
    "VARIANTS",
    "Peer",
    "peer_named",
    "select_peers",
    "with_history",
    "with_history_beside",
    "with_variant",
    "with_variants_beside",
]

#: Channel layer names as the settings modules take them, and what they are.
LAYERS = {
    "redis_pubsub": "RedisPubSubChannelLayer",
    "redis": "RedisChannelLayer",
    "memory": "InMemoryChannelLayer",
}

#: The distribution an optional peer kind needs, and the module that shows it is installed.
_OPTIONAL = {
    "fastapi-rpc": ("fastapi-websocket-rpc", "fastapi_websocket_rpc"),
    "fastapi-pubsub": ("fastapi-websocket-pubsub", "fastapi_websocket_pubsub"),
}

#: The Socket.IO peer's Node.js package: its server, the recovery workload's client, their pinned dependencies.
SOCKETIO_DIR = Path(__file__).resolve().parent / "socketio"
#: A wsrpc peer's variants: the :class:`Peer` field each sets, and what the peer's name gets.
VARIANTS = {"history": "+history", "presence": "+presence", "metrics": "+metrics"}
#: The variants whose peer publishes to a topic whose Topic row has that feature on (history kept; presence
#: recorded); the others are the server's settings (metrics: ``WSRPC["METRICS"]``).
TOPIC_VARIANTS = ("history", "presence")
#: What a wsrpc peer's name gets when its topic keeps history.
HISTORY_SUFFIX = VARIANTS["history"]
#: What a wsrpc peer's name gets when its topic has presence.
PRESENCE_SUFFIX = VARIANTS["presence"]


@dataclasses.dataclass(frozen=True)
class Peer:
    """One server setup under test."""

    name: str
    kind: str  # "wsrpc" | "channels" | "websockets" | "fastapi-rpc" | "fastapi-pubsub" | "socketio"
    server: str  # "uvicorn" | "daphne" | "daphne-uvloop" (python -m wsrpc_app.daphne) | "websockets" | "node"
    #: A channel layer (``LAYERS``); for the websockets and fastapi peers, "memory" means no Redis.
    layer: str = "redis_pubsub"
    #: The reference the others are divided by.
    ceiling: bool = False
    #: Server processes, when not the workload's usual number (0).
    count: int = 0
    #: wsrpc: the topic the workload uses keeps history (offsets, epochs, recovery).
    history: bool = False
    #: wsrpc: the topic the workload uses has presence (every subscriber recorded).
    presence: bool = False
    #: wsrpc: the servers record Prometheus metrics (``WSRPC["METRICS"]``; off otherwise).
    metrics: bool = False

    @property
    def variants(self) -> tuple[str, ...]:
        """The :data:`VARIANTS` this peer runs in, in their order."""
        return tuple(variant for variant in VARIANTS if getattr(self, variant))

    @property
    def topic_variants(self) -> tuple[str, ...]:
        """The :data:`TOPIC_VARIANTS` this peer runs in: what its topic's Topic row has on."""
        return tuple(variant for variant in self.variants if variant in TOPIC_VARIANTS)

    @property
    def base_name(self) -> str:
        """The name of the same peer in no variant."""
        name = self.name
        for variant in reversed(VARIANTS):
            name = name.removesuffix(VARIANTS[variant])
        return name

    @property
    def description(self) -> str:
        what = {
            "wsrpc": "wsrpc",
            "channels": "bare Channels",
            "websockets": "bare websockets",
            "fastapi-rpc": "fastapi-websocket-rpc",
            "fastapi-pubsub": "fastapi-websocket-pubsub",
            "socketio": "Socket.IO 4",
        }[self.kind]
        if self.kind == "socketio":
            return (
                "Socket.IO 4 on Node.js, `@socket.io/redis-streams-adapter` (one Redis stream), "
                "connection-state recovery"
            )
        if self.kind in ("websockets", "fastapi-pubsub"):
            via = "one process, no Redis" if self.layer == "memory" else "Redis pub/sub"
            if self.kind == "fastapi-pubsub" and self.layer != "memory":
                via += " through permit-broadcaster"
        elif self.kind == "fastapi-rpc":
            via = "no channel layer"
        else:
            via = LAYERS[self.layer]
        server = "daphne on uvloop (`python -m wsrpc_app.daphne`)" if self.server == "daphne-uvloop" else self.server
        features = "".join(f", topic with {variant}" for variant in self.topic_variants)
        if self.metrics:
            features += ", Prometheus metrics on"
        return f"{what} on {server}, {via}{features}"

    @property
    def dialect(self) -> Dialect:
        """How the client speaks to this peer."""
        return FASTAPI if self.kind.startswith("fastapi") else JSONRPC

    @property
    def missing(self) -> str | None:
        """Why this peer cannot run here (an optional package is not installed), or None."""
        if self.kind == "socketio":
            if shutil.which("node") is None:
                return "node is not on PATH (Node.js 20 or newer)"
            if not (SOCKETIO_DIR / "node_modules" / "socket.io").is_dir():
                return "its Node.js packages are not installed (npm ci --prefix benchmarks/peers/socketio)"
            return None
        if self.metrics and importlib.util.find_spec("prometheus_client") is None:
            return "prometheus_client is not installed (pip install -e '.[metrics]')"
        if self.kind not in _OPTIONAL:
            return None
        distribution, module = _OPTIONAL[self.kind]
        if importlib.util.find_spec(module) is None:
            return f"{distribution} is not installed (pip install -e '.[bench]' -c benchmarks/constraints.txt)"
        return None

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
        if self.kind == "socketio":
            env = {"REDIS_URL": redis_url, "BENCH_LAYER_PREFIX": prefix}
            program = ("node", str(SOCKETIO_DIR / "server.mjs"))
            return PeerProcess(self.server, program=program, env=env, **{**common, "profile": None})
        if self.kind.startswith("fastapi"):
            env = {"BENCH_BROADCAST_URL": "" if self.layer == "memory" else redis_url}
            app = "rpc_app" if self.kind == "fastapi-rpc" else "pubsub_app"
            return PeerProcess(self.server, app=f"benchmarks.peers.fastapi_peers:{app}", env=env, **common)
        if self.kind == "wsrpc":
            env = {
                "REDIS_URL": redis_url,
                "WSRPC_TEST_LAYER": self.layer,
                "WSRPC_TEST_LAYER_PREFIX": prefix,
                # The benchmark measures fan-out, not the per-connection limits.
                "WSRPC_TEST_PUBLISH_RATE": "1000000",
                "WSRPC_TEST_OUTBOUND_QUEUE": str(max(10_000, 2 * events)),
                "BENCH_METRICS": "1" if self.metrics else "0",
            }
            # The database is migrated once, before any peer starts, and only read here.
            if self.server == "daphne-uvloop":
                common["daphne_module"] = "wsrpc_app.daphne"
            server = "daphne" if self.server == "daphne-uvloop" else self.server
            return PeerProcess(server, settings="benchmarks.peers.wsrpc_settings", env=env, **common)
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


#: The fan-out (W4) peers, in the order results are reported.
PEERS: tuple[Peer, ...] = (
    Peer("wsrpc-uvicorn-pubsub", "wsrpc", "uvicorn", "redis_pubsub"),
    Peer("wsrpc-uvicorn-redis", "wsrpc", "uvicorn", "redis"),
    Peer("wsrpc-daphne-pubsub", "wsrpc", "daphne", "redis_pubsub"),
    Peer("wsrpc-daphne-uvloop-pubsub", "wsrpc", "daphne-uvloop", "redis_pubsub"),
    Peer("channels-uvicorn-pubsub", "channels", "uvicorn", "redis_pubsub"),
    Peer("channels-uvicorn-redis", "channels", "uvicorn", "redis"),
    Peer("fastapi-pubsub-1proc", "fastapi-pubsub", "uvicorn", "memory", count=1),
    Peer("fastapi-pubsub-redis", "fastapi-pubsub", "uvicorn", "redis"),
    Peer("websockets-pubsub", "websockets", "websockets", ceiling=True),
)

#: The calls (W1–W3) peers: one process each, no Redis (calls never touch a channel layer).
CALL_PEERS: tuple[Peer, ...] = (
    Peer("wsrpc-uvicorn", "wsrpc", "uvicorn", "memory"),
    Peer("wsrpc-daphne", "wsrpc", "daphne", "memory"),
    Peer("wsrpc-daphne-uvloop", "wsrpc", "daphne-uvloop", "memory"),
    Peer("channels-uvicorn", "channels", "uvicorn", "memory"),
    Peer("fastapi-rpc-uvicorn", "fastapi-rpc", "uvicorn", "memory"),
    Peer("websockets", "websockets", "websockets", "memory", ceiling=True),
)

#: The memory (W5) peers: one process each, subscribed through Redis as in a deployment.
MEMORY_PEERS: tuple[Peer, ...] = (
    Peer("wsrpc-uvicorn-pubsub", "wsrpc", "uvicorn", "redis_pubsub"),
    Peer("wsrpc-daphne-pubsub", "wsrpc", "daphne", "redis_pubsub"),
    Peer("wsrpc-daphne-uvloop-pubsub", "wsrpc", "daphne-uvloop", "redis_pubsub"),
    Peer("channels-uvicorn-pubsub", "channels", "uvicorn", "redis_pubsub"),
    Peer("fastapi-pubsub-redis", "fastapi-pubsub", "uvicorn", "redis"),
    Peer("websockets-pubsub", "websockets", "websockets", ceiling=True),
)


#: The recovery workload's peers: two processes on Redis, a topic with history (wsrpc) or connection-state
#: recovery (Socket.IO).
RECOVERY_PEERS: tuple[Peer, ...] = (
    Peer("wsrpc-uvicorn-pubsub", "wsrpc", "uvicorn", "redis_pubsub", history=True),
    Peer("wsrpc-uvicorn-redis", "wsrpc", "uvicorn", "redis", history=True),
    Peer("socketio-redis-streams", "socketio", "node", "redis"),
)


#: The chat (W6) peers: W4's on two processes, wsrpc on daphne with RedisChannelLayer too, and Socket.IO.
CHAT_PEERS: tuple[Peer, ...] = (
    *(peer for peer in PEERS if peer.kind == "wsrpc"),
    Peer("wsrpc-daphne-redis", "wsrpc", "daphne", "redis"),
    *(peer for peer in PEERS if peer.kind in ("channels", "fastapi-pubsub") and not peer.count),
    *(peer for peer in RECOVERY_PEERS if peer.kind == "socketio"),
    *(peer for peer in PEERS if peer.ceiling),
)


def with_variant(peer: Peer, variant: str) -> Peer:
    """The same wsrpc peer with ``variant`` (a key of :data:`VARIANTS`) on, named ``<name>+<variant>``."""
    if variant not in VARIANTS:
        raise ValueError(f"no variant {variant!r}; known: {', '.join(VARIANTS)}")
    if peer.kind != "wsrpc":
        raise ValueError(f"{peer.name}: only wsrpc peers run with {variant}")
    if getattr(peer, variant):
        return peer
    on: dict[str, Any] = {variant: True}
    return dataclasses.replace(peer, name=peer.name + VARIANTS[variant], **on)


def with_history(peer: Peer) -> Peer:
    """The same wsrpc peer on a topic that keeps history, named ``<name>+history``."""
    return with_variant(peer, "history")


def with_variants_beside(peers: tuple[Peer, ...], variants: Sequence[str]) -> tuple[Peer, ...]:
    """``peers``, each wsrpc one in no variant followed by itself in each of ``variants`` (unless already listed)."""
    chosen: list[Peer] = []
    for peer in peers:
        if peer not in chosen:
            chosen.append(peer)
        if peer.kind != "wsrpc" or peer.variants:
            continue
        for variant in variants:
            other = with_variant(peer, variant)
            if other not in peers and other not in chosen:
                chosen.append(other)
    return tuple(chosen)


def with_history_beside(peers: tuple[Peer, ...]) -> tuple[Peer, ...]:
    """``peers``, each wsrpc one followed by itself on a topic with history (unless already listed)."""
    return with_variants_beside(peers, ("history",))


def peer_named(name: str, peers: tuple[Peer, ...] = PEERS) -> Peer:
    """The peer of that name among ``peers``; ``<wsrpc peer>+history``, ``+presence``, ``+metrics`` (or several,
    in that order) is that peer in those variants."""
    for peer in peers:
        if peer.name == name:
            return peer
    base, wanted = name, list[str]()
    for variant in reversed(VARIANTS):
        if base.endswith(VARIANTS[variant]):
            base = base.removesuffix(VARIANTS[variant])
            wanted.insert(0, variant)
    if wanted:
        for peer in peers:
            if peer.name == base and peer.kind == "wsrpc":
                for variant in wanted:
                    peer = with_variant(peer, variant)
                return peer
    raise KeyError(f"no peer {name!r}; known: {', '.join(p.name for p in peers)}")


def select_peers(names: str, peers: tuple[Peer, ...], variants: Sequence[str] = ()) -> tuple[Peer, ...]:
    """The peers named (comma-separated), each wsrpc one followed by itself in each of ``variants``
    (:func:`with_variants_beside`), that can run here; a line on stderr for each skipped one.

    Raises SystemExit for an unknown name.
    """
    try:
        named = tuple(peer_named(n.strip(), peers) for n in names.split(",") if n.strip())
    except KeyError as exc:
        raise SystemExit(exc.args[0]) from None
    chosen = with_variants_beside(named, variants)
    runnable = []
    for peer in chosen:
        if peer.missing:
            print(f"skipped: {peer.name}: {peer.missing}", file=sys.stderr, flush=True)
        else:
            runnable.append(peer)
    return tuple(runnable)

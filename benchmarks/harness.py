"""What every workload needs around its runs: the peers' servers, the client's loop, CPU accounting.

:class:`Fleet` starts every peer's server processes (and migrates wsrpc's
database once, with the topic rows the workload needs), keeps them up for
the whole comparison so that rounds can interleave the peers, and on exit
stops them, deletes the Redis keys they left, and summarises their profiles. :class:`Usage` snapshots CPU time
(servers, Redis, this process, the whole machine) so that a run can report
CPU per operation and how busy other programs kept the machine.
"""

from __future__ import annotations

import argparse
import asyncio
import concurrent.futures
import dataclasses
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Coroutine, Iterator, Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any, TypeVar

from redis import Redis as SyncRedis
from redis.asyncio import Redis

from .peers import VARIANTS, Peer, select_peers
from .processes import PeerProcess, cpu_seconds, machine_cpu_seconds
from .profiles import Profile
from .stats import Run, Series
from .topics import TopicRow

__all__ = [
    "Fleet",
    "METRICS_ON",
    "SharedOptions",
    "Usage",
    "add_shared_arguments",
    "chosen_peers",
    "difference",
    "loop_factory",
    "measure_rounds",
    "modes_from",
    "other_load",
    "progress",
    "redis_version",
    "rounds",
    "shared_options",
    "wait_for_quiet",
]

#: Before each run, wait up to QUIET_WAIT seconds for other programs to use at most QUIET_LOAD cores.
QUIET_LOAD = 0.25
QUIET_WAIT = 5.0
REDIS_URL = "redis://127.0.0.1:6379/0"
#: How a ``+metrics`` peer runs, for ``--metrics``' help.
METRICS_ON = "with Prometheus metrics on (WSRPC['METRICS'])"


def add_shared_arguments(
    parser: argparse.ArgumentParser, peers: Sequence[Peer], *, redis: bool, variants: Mapping[str, str] | None = None
) -> None:
    """The options every workload takes: its peers, a quiet machine, Redis (``redis``), the client's loop, logs.

    ``variants``: the workload's switches ``--<variant>`` (keys of :data:`VARIANTS`, each with how that variant's
    peer runs, for the help): every wsrpc peer also runs as ``<peer>+<variant>`` (:func:`chosen_peers`).
    """
    parser.add_argument(
        "--peers", default=",".join(p.name for p in peers), help="comma-separated peer names (default all)"
    )
    for variant, how in (variants or {}).items():
        parser.add_argument(
            f"--{variant}",
            action="store_true",
            help=f"also run every wsrpc peer {how}, as <peer>{VARIANTS[variant]} (or name such peers in --peers)",
        )
    parser.add_argument(
        "--quiet-load", type=float, default=QUIET_LOAD, help="cores other programs may use when a run starts"
    )
    parser.add_argument(
        "--quiet-wait", type=float, default=QUIET_WAIT, help="seconds to wait for that before each run (0: off)"
    )
    if redis:
        parser.add_argument("--redis-url", default=os.environ.get("REDIS_URL", REDIS_URL))
    parser.add_argument("--loop", choices=("auto", "asyncio", "uvloop"), default="auto", help="the client's loop")
    parser.add_argument("--keep-logs", action="store_true", help="keep the servers' logs and print where")


@dataclasses.dataclass(frozen=True, kw_only=True)
class SharedOptions:
    """What every workload's options hold of :func:`add_shared_arguments`' (a workload's ``Options`` extends it)."""

    #: Before each run, wait up to ``quiet_wait`` seconds for other programs to use at most ``quiet_load`` cores.
    quiet_load: float = QUIET_LOAD
    quiet_wait: float = QUIET_WAIT
    #: Redis, for the workloads that use it.
    redis_url: str = REDIS_URL
    #: The client's event loop (:func:`loop_factory`).
    loop: str = "auto"
    #: Keep the servers' logs.
    keep_logs: bool = False


def chosen_peers(args: argparse.Namespace, peers: tuple[Peer, ...]) -> tuple[Peer, ...]:
    """The peers of ``--peers`` among ``peers`` that can run here, each wsrpc one followed by itself in each
    variant whose switch (:func:`add_shared_arguments`) is on."""
    return select_peers(args.peers, peers, [variant for variant in VARIANTS if getattr(args, variant, False)])


def shared_options(args: argparse.Namespace) -> dict[str, Any]:
    """What :func:`add_shared_arguments` read (but ``--peers``), as keyword arguments of a workload's options."""
    shared = {"quiet_load": args.quiet_load, "quiet_wait": args.quiet_wait, "loop": args.loop}
    shared["keep_logs"] = args.keep_logs
    if hasattr(args, "redis_url"):
        shared["redis_url"] = args.redis_url
    return shared


def rounds(peers: Sequence[Peer], runs: int) -> Iterator[tuple[int, Peer]]:
    """``(run number, peer)``: ``runs`` rounds of every peer, each round starting one peer further on.

    Every peer's servers run from the start, so that a disturbance from
    outside lands on all peers of a round rather than on the runs of one.
    """
    for number in range(1, runs + 1):
        shift = (number - 1) % len(peers)
        for peer in (*peers[shift:], *peers[:shift]):
            yield number, peer


R = TypeVar("R", bound=Run)


def measure_rounds(
    runner: asyncio.Runner,
    options: SharedOptions,
    peers: Sequence[Peer],
    runs: int,
    one: Callable[[Peer, str], Coroutine[Any, Any, R]],
    line: Callable[[Peer, str, int, R], str],
    modes: Sequence[str] = ("",),
) -> list[Series[R]]:
    """``one(peer, mode)`` for every mode of every peer, in ``runs`` :func:`rounds`; the results in peer order.

    Each run starts once the machine is quiet (``options.quiet_load``,
    ``quiet_wait``) and ends with its ``line(peer, mode, number, result)`` on
    stderr. ``modes`` ``("",)``: a workload of one mode.
    """
    results: dict[tuple[Peer, str], list[R]] = {(peer, mode): [] for peer in peers for mode in modes}
    for number, peer in rounds(peers, runs):
        for mode in modes:
            runner.run(wait_for_quiet(options.quiet_load, options.quiet_wait))
            result = runner.run(one(peer, mode))
            progress(line(peer, mode, number, result))
            results[peer, mode].append(result)
    return [Series(peer, mode, tuple(runs_)) for (peer, mode), runs_ in results.items()]


def other_load(other_cpu_s: float | None, window_s: float) -> str:
    """Cores other programs kept busy over a run, for a progress line ("?" when unknown)."""
    return f"{other_cpu_s / window_s:.2f}" if other_cpu_s is not None and window_s else "?"


def modes_from(text: str, known: Sequence[str]) -> tuple[str, ...]:
    """The comma-separated modes of ``--modes``; SystemExit for one not in ``known``."""
    modes = tuple(m.strip() for m in text.split(",") if m.strip())
    unknown = set(modes) - set(known)
    if unknown:
        raise SystemExit(f"unknown mode(s): {', '.join(sorted(unknown))}; known: {', '.join(known)}")
    return modes


def progress(text: str) -> None:
    """A line for the person watching, on stderr."""
    print(text, file=sys.stderr, flush=True)


def loop_factory(name: str) -> Callable[[], asyncio.AbstractEventLoop] | None:
    """The client's event loop: ``"uvloop"``, ``"asyncio"``, or ``"auto"`` (uvloop when installed)."""
    if name == "asyncio":
        return None
    try:
        import uvloop
    except ImportError:
        if name == "uvloop":
            raise
        return None
    return uvloop.new_event_loop  # type: ignore[no-any-return]


class Fleet:
    """``count`` server processes of each peer (``peer.count`` if set), running for as long as the ``with`` block.

    ``profile_dir`` runs them under py-spy and writes ``profile.md`` there
    on exit; ``keep_logs`` keeps their logs (the path is printed). ``topics``
    are written into wsrpc's database before any server starts.
    """

    def __init__(
        self,
        peers: Sequence[Peer],
        count: int,
        *,
        redis_url: str,
        events: int,
        profile_dir: Path | None = None,
        keep_logs: bool = False,
        topics: Sequence[TopicRow] = (),
    ) -> None:
        self.peers = tuple(peers)
        self.topics = tuple(topics)
        self.count = count
        self.redis_url = redis_url
        self.events = events
        self.profile_dir = profile_dir
        self.keep_logs = keep_logs
        self.workdir = Path(tempfile.mkdtemp(prefix="wsrpc-bench-"))
        self._prefixes = {peer: f"wsrpc-bench-{os.getpid()}-{peer.name}" for peer in self.peers}
        self._processes: dict[Peer, list[PeerProcess]] = {}

    def processes(self, peer: Peer) -> list[PeerProcess]:
        """The running processes of ``peer``."""
        return self._processes[peer]

    def __enter__(self) -> Fleet:
        try:
            self._start()
        except BaseException:
            self._stop()
            raise
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._stop()

    def _start(self) -> None:
        db_path = self.workdir / "db.sqlite3"
        if self.profile_dir is not None:
            self.profile_dir.mkdir(parents=True, exist_ok=True)
        if any(peer.kind == "wsrpc" for peer in self.peers):
            database = PeerProcess("uvicorn", db_path=db_path, log_dir=self.workdir)
            database.migrate()
            for topic in self.topics:
                topic.create(database)
        for peer in self.peers:
            self._processes[peer] = peer.processes(
                peer.count or self.count,
                redis_url=self.redis_url,
                prefix=self._prefixes[peer],
                db_path=db_path,
                events=self.events,
                profile_dir=self.profile_dir,
            )
        everything = [process for processes in self._processes.values() for process in processes]
        # A few at a time: a dozen Django processes booting at once on two cores would be slower, not faster.
        with concurrent.futures.ThreadPoolExecutor(4) as pool:
            futures = [pool.submit(process.start) for process in everything]
        for future in futures:
            future.result()

    def _stop(self) -> None:
        try:
            for processes in self._processes.values():
                for process in processes:
                    process.stop()
            self._forget()
            if self.profile_dir is not None and self._processes:
                self._write_profiles()
        finally:
            if self.keep_logs:
                progress(f"server logs kept in {self.workdir}")
            else:
                shutil.rmtree(self.workdir, ignore_errors=True)

    def _forget(self) -> None:
        """Delete the keys the peers left in Redis (RedisChannelLayer's groups and channels)."""
        if not self.redis_url:
            return  # a comparison without Redis
        redis = SyncRedis.from_url(self.redis_url)
        try:
            for prefix in self._prefixes.values():
                keys = list(redis.scan_iter(match=f"{prefix}*", count=1000))
                if keys:
                    redis.delete(*keys)
        finally:
            redis.close()

    def _write_profiles(self) -> None:
        assert self.profile_dir is not None
        sections = ["# Server profiles (py-spy)", ""]
        for peer in self.peers:
            files = sorted(self.profile_dir.glob(f"{peer.name}-*.txt"))
            sections += [f"## {peer.name}", "", Profile(files).markdown(), ""]
        summary = self.profile_dir / "profile.md"
        summary.write_text("\n".join(sections))
        progress(f"profiles written to {summary}")


def difference(after: float | None, before: float | None) -> float | None:
    return None if after is None or before is None else after - before


class Usage:
    """CPU seconds used so far by the servers, Redis, this process and the whole machine."""

    def __init__(self, servers: float | None, redis: float | None) -> None:
        self.servers = servers
        self.redis = redis
        self.client = time.process_time()
        self.machine = machine_cpu_seconds()
        self.wall = time.perf_counter()

    @classmethod
    async def now(cls, pids: Sequence[int | None], redis: Redis | None = None) -> Usage:
        """The CPU used so far by the processes ``pids`` together, by Redis (when given), this process and all."""
        times = [cpu_seconds(pid) for pid in pids]
        servers = None if None in times else sum(t for t in times if t is not None)
        if redis is None:
            return cls(servers, None)
        try:
            info = await redis.info("cpu")
            redis_cpu: float | None = float(info["used_cpu_sys"]) + float(info["used_cpu_user"])
        except Exception:  # Redis CPU is a nicety; the run stands without it
            redis_cpu = None
        return cls(servers, redis_cpu)

    def others_since(self, before: Usage) -> float | None:
        """CPU seconds everything else on the machine used since ``before``."""
        machine = difference(self.machine, before.machine)
        servers = difference(self.servers, before.servers)
        if machine is None or servers is None:
            return None
        redis = difference(self.redis, before.redis) or 0.0
        return max(0.0, machine - servers - redis - (self.client - before.client))


async def redis_version(url: str) -> str | None:
    """The Redis server's version, for the record (None when it cannot be read)."""
    redis = Redis.from_url(url)
    try:
        return str((await redis.info("server"))["redis_version"])
    except Exception:  # only for the record
        return None
    finally:
        await redis.aclose()


async def wait_for_quiet(load: float, within: float) -> None:
    """Wait (at most ``within`` seconds) until other programs use at most ``load`` cores."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while loop.time() < deadline:
        machine, client = machine_cpu_seconds(), time.process_time()
        await asyncio.sleep(0.5)
        after = machine_cpu_seconds()
        if machine is None or after is None:
            return
        if (after - machine - (time.process_time() - client)) / 0.5 <= load:
            return

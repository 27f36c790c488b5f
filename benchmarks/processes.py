"""Server processes of the peers under test, and the CPU time they use.

:class:`PeerProcess` is the end-to-end tests' :class:`~tests.support.servers.ServerProcess`
(free port on 127.0.0.1, log file, bounded start and stop) with a few
differences: the servers log at warning level only, a peer that has no
database skips ``migrate``, a peer may be a plain module run with
``python -m`` instead of an ASGI application, and a server may run under
``py-spy record`` to see where its time goes.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from tests.support.servers import SERVERS, ServerProcess

__all__ = ["PeerProcess", "cpu_seconds", "machine_cpu_seconds", "py_spy"]


def py_spy() -> str | None:
    """The py-spy executable (``pip install py-spy``), if there is one."""
    beside = Path(sys.executable).with_name("py-spy")
    return str(beside) if beside.exists() else shutil.which("py-spy")


#: What the README's deployment advice adds to uvicorn's defaults, for every
#: peer served by uvicorn: no per-message compression (a compressor and a
#: decompressor per connection, for frames of a few hundred bytes).
UVICORN_OPTIONS = ("--ws-per-message-deflate", "false")


class PeerProcess(ServerProcess):
    """One server process of a benchmark peer.

    ``server`` is ``"daphne"`` or ``"uvicorn"`` serving ``app``, or any other
    name with ``module``: then ``python -m <module> --host H --port P`` runs,
    or with ``program`` (a command, e.g. a Node.js server): then
    ``<program> --host H --port P`` runs.
    ``needs_db=False`` skips ``migrate`` (the database is shared and already
    migrated, or the peer has none). ``log_dir`` is where the server's output
    goes (by default next to its database). With ``profile``, the server runs
    under ``py-spy record`` and its samples land in that file as collapsed
    stacks once it stops.
    """

    def __init__(
        self,
        server: str,
        *,
        module: str | None = None,
        program: Sequence[str] | None = None,
        needs_db: bool = True,
        log_dir: Path | None = None,
        profile: Path | None = None,
        daphne_module: str = "daphne",
        **kwargs: Any,
    ) -> None:
        own = module is not None or program is not None
        if not own and server not in SERVERS:
            raise ValueError(f"unknown server {server!r}; give module= or program= to run another server")
        # ServerProcess validates its server name; a module or program peer borrows one and renames itself.
        super().__init__(SERVERS[0] if own else server, **kwargs)
        self.name = server
        self.module = module
        self.program = tuple(program) if program is not None else None
        self.needs_db = needs_db
        self.profile = profile
        self.daphne_module = daphne_module
        self._log_path = Path(log_dir or self.db_path.parent, f"{server}-{self.port}.log")

    def __repr__(self) -> str:
        return f"<PeerProcess {self.name} {self.module or self.app} on {self.host}:{self.port}>"

    @property
    def pid(self) -> int | None:
        """The server's process id (under py-spy, py-spy's child)."""
        process = self._process
        if process is None:
            return None
        if self.profile is None:
            return process.pid
        children = _children(process.pid)
        return children[0] if children else None

    def migrate(self) -> None:
        if self.needs_db:
            super().migrate()

    def command(self) -> list[str]:
        where = ["--host", self.host, "--port", str(self.port)]
        if self.program is not None:
            command = [*self.program, *where]
        elif self.module is not None:
            command = [sys.executable, "-m", self.module, *where]
        elif self.name == "daphne":
            daphne = [sys.executable, "-m", self.daphne_module, "-v", "0"]
            command = [*daphne, "-b", self.host, "-p", str(self.port), self.app]
        else:
            command = [sys.executable, "-m", "uvicorn", self.app, *where, "--log-level", "warning", *UVICORN_OPTIONS]
        if self.profile is None:
            return command
        spy = py_spy()
        if spy is None:
            raise RuntimeError("profiling needs py-spy: .venv/bin/pip install py-spy")
        # --nonblocking: sample without pausing the server, so it runs at its usual speed.
        return [spy, "record", "--nonblocking", "--rate", "250", "--format", "raw", "-o", str(self.profile), "--",
                *command]  # fmt: skip

    def signal(self, number: int) -> None:
        """Send signal ``number`` to the server (SIGKILL: a crash; SIGTERM: a graceful stop); it is not waited for."""
        pid = self.pid
        if pid is None:
            raise RuntimeError(f"{self!r} is not running")
        os.kill(pid, number)

    def exited(self, timeout: float) -> bool:
        """Wait up to ``timeout`` seconds for the server to exit; whether it did."""
        process = self._process
        if process is None:
            return True
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            return False
        return True

    def stop(self) -> None:
        # py-spy writes its samples when the server exits, not when py-spy is terminated.
        process = self._process
        if self.profile is not None and process is not None and process.poll() is None:
            for child in _children(process.pid):
                os.kill(child, signal.SIGTERM)
            try:
                process.wait(self.stop_timeout + 30)
            except subprocess.TimeoutExpired:
                pass
        super().stop()


def _children(pid: int) -> list[int]:
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as children:
            return [int(child) for child in children.read().split()]
    except OSError:
        return []


def cpu_seconds(pid: int | None) -> float | None:
    """User plus system CPU time of process ``pid`` so far; None where /proc cannot tell."""
    if pid is None:
        return None
    try:
        with open(f"/proc/{pid}/stat") as stat:
            text = stat.read()
    except OSError:
        return None
    # Fields after the parenthesised command name; utime and stime are the 14th and 15th fields.
    fields = text.rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def machine_cpu_seconds() -> float | None:
    """CPU time every core of this machine spent busy so far, in seconds; None where /proc cannot tell."""
    try:
        with open("/proc/stat") as stat:
            fields = stat.readline().split()
    except OSError:
        return None
    # user nice system idle iowait irq softirq steal ...: everything but idle and iowait.
    busy = sum(int(v) for i, v in enumerate(fields[1:9]) if i not in (3, 4))
    return busy / os.sysconf("SC_CLK_TCK")

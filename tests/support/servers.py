"""Real ASGI server processes for the end-to-end tests.

:class:`ServerProcess` serves an ASGI application with daphne or uvicorn in a
subprocess on 127.0.0.1, against its own migrated SQLite file, and stops it
without leaving anything running::

    with ServerProcess("uvicorn") as server:
        ...  # server.ws_url, server.http_url
        server.restart()  # same port, same database: clients may reconnect

    with ServerProcess.demo("daphne") as server:
        ...  # the demo project
"""

from __future__ import annotations

import atexit
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType
from typing import IO, Any, Self

__all__ = ["REPO_ROOT", "SERVERS", "LoggedProcess", "ServerProcess", "ServerError", "free_port"]

REPO_ROOT = Path(__file__).resolve().parents[2]

#: The ASGI servers the project supports, by name.
SERVERS = ("daphne", "uvicorn")
#: Also known: daphne on uvloop, through ``python -m wsrpc_app.daphne``.
LAUNCHERS = {"daphne": "daphne", "daphne-uvloop": "wsrpc_app.daphne"}


class ServerError(RuntimeError):
    """A server process did not start, or a command it needs failed."""


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


class LoggedProcess:
    """A child process of the test run, its output in a log in a temporary directory of its own.

    Subclasses say how to ``start()`` and ``stop()`` it; ``cleanup()`` stops
    it and removes the directory; as a context manager it starts and cleans up.
    """

    def __init__(self, tmp_prefix: str) -> None:
        self._tmpdir: str | None = tempfile.mkdtemp(prefix=tmp_prefix)
        self._log_path = Path(self._tmpdir, "output.log")
        self._log: IO[bytes] | None = None
        self._process: subprocess.Popen[bytes] | None = None
        atexit.register(self._kill)  # in case the test run dies before cleanup()

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def output(self) -> str:
        """What the process printed so far."""
        try:
            return self._log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def start(self) -> Self:
        raise NotImplementedError

    def stop(self) -> None:
        raise NotImplementedError

    def _launch(self, command: list[str], **popen: Any) -> subprocess.Popen[bytes]:
        if self.running:
            raise ServerError(f"{self!r} is already running")
        self._close_log()
        self._log = open(self._log_path, "ab")  # closed by stop()
        self._process = subprocess.Popen(command, stdout=self._log, stderr=subprocess.STDOUT, **popen)
        return self._process

    def restart(self) -> Self:
        """Stop and start again on the same port."""
        self.stop()
        return self.start()

    def cleanup(self) -> None:
        """Stop, and remove the temporary directory this object created."""
        self.stop()
        atexit.unregister(self._kill)
        if self._tmpdir is not None:
            shutil.rmtree(self._tmpdir, ignore_errors=True)
            self._tmpdir = None

    def _close_log(self) -> None:
        if self._log is not None:
            self._log.close()
            self._log = None

    def _kill(self) -> None:
        if self._process is not None and self._process.poll() is None:
            self._process.kill()
            self._process.wait()

    def __enter__(self) -> Self:
        try:
            return self.start()
        except BaseException:
            self.cleanup()
            raise

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.cleanup()


class ServerProcess(LoggedProcess):
    """One ASGI server in a subprocess, serving ``app`` with Django ``settings``.

    ``db_env`` names the environment variable the settings read the SQLite
    path from; the file lives in a temporary directory (unless ``db_path`` is
    given), is migrated before the first start (unless ``migrate`` is false:
    another server already migrated the shared file) and survives restarts.
    ``env`` adds variables to the inherited environment (``None`` removes one).
    The server's output goes to a log in that temporary directory.
    """

    def __init__(
        self,
        server: str = "daphne",
        *,
        app: str = "tests.asgi:application",
        settings: str = "tests.settings",
        db_env: str = "WSRPC_TEST_DB",
        db_path: str | os.PathLike[str] | None = None,
        env: Mapping[str, str | None] | None = None,
        host: str = "127.0.0.1",
        port: int | None = None,
        migrate: bool = True,
        # Timeouts
        startup_timeout: float = 20.0,
        stop_timeout: float = 5.0,
    ) -> None:
        if server not in SERVERS and server not in LAUNCHERS:
            raise ValueError(f"unknown server {server!r}; expected one of {SERVERS + tuple(LAUNCHERS)}")
        self.name = server
        self.app = app
        self.settings = settings
        self.db_env = db_env
        self.extra_env = dict(env or {})
        self.host = host
        self.port = port or free_port(host)
        self.startup_timeout = startup_timeout
        self.stop_timeout = stop_timeout
        super().__init__(f"wsrpc-e2e-{server}-")
        assert self._tmpdir is not None
        if db_path is None:
            db_path = Path(self._tmpdir, "db.sqlite3")
        self.db_path = Path(db_path)
        self._migrated = not migrate
        self._log_path = Path(self._tmpdir, f"{server}-{self.port}.log")

    @classmethod
    def demo(cls, server: str = "daphne", **kwargs: Any) -> ServerProcess:
        """The demo project (``demo_project``), on its own SQLite file."""
        return cls(
            server,
            app="demo_project.asgi:application",
            settings="demo_project.settings",
            db_env="DEMO_DB",
            **kwargs,
        )

    def __repr__(self) -> str:
        return f"<ServerProcess {self.name} {self.app} on {self.host}:{self.port}>"

    # Addresses --------------------------------------------------------------

    @property
    def http_url(self) -> str:
        return f"http://{self.host}:{self.port}/"

    @property
    def ws_url(self) -> str:
        return f"ws://{self.host}:{self.port}/ws/rpc/"

    @property
    def origin(self) -> str:
        """An ``Origin`` header the served application allows."""
        return f"http://{self.host}:{self.port}"

    @property
    def pid(self) -> int:
        """The server's process id (to signal it, e.g. SIGSTOP to fake a half-open connection)."""
        if self._process is None:
            raise ServerError(f"{self!r} is not running")
        return self._process.pid

    # Environment and commands -----------------------------------------------

    @property
    def env(self) -> dict[str, str]:
        """The environment of the server and of its ``manage.py`` commands."""
        env = dict(os.environ)
        env.update({"DJANGO_SETTINGS_MODULE": self.settings, self.db_env: str(self.db_path), "PYTHONUNBUFFERED": "1"})
        for key, value in self.extra_env.items():
            if value is None:
                env.pop(key, None)
            else:
                env[key] = value
        return env

    def manage(self, *args: str, timeout: float = 60.0) -> str:
        """Run a ``manage.py`` command against this server's database; its output."""
        result = subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=REPO_ROOT,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if result.returncode != 0:
            raise ServerError(
                f"manage.py {' '.join(args)} failed ({result.returncode}):\n{result.stdout}{result.stderr}"
            )
        return result.stdout

    def migrate(self) -> None:
        """Create the database tables (once)."""
        if not self._migrated:
            self.manage("migrate", "--noinput")
            self._migrated = True

    def command(self) -> list[str]:
        if self.name in LAUNCHERS:
            return [sys.executable, "-m", LAUNCHERS[self.name], "-b", self.host, "-p", str(self.port), self.app]
        return [sys.executable, "-m", "uvicorn", self.app, "--host", self.host, "--port", str(self.port)]

    # Lifecycle --------------------------------------------------------------

    def start(self) -> ServerProcess:
        """Start the server and wait until its port accepts connections."""
        if self.running:
            raise ServerError(f"{self!r} is already running")
        self.migrate()
        self._launch(self.command(), cwd=REPO_ROOT, env=self.env)
        try:
            self._wait_until_listening()
        except BaseException:
            self.stop()
            raise
        return self

    def _wait_until_listening(self) -> None:
        assert self._process is not None
        deadline = time.monotonic() + self.startup_timeout
        while True:
            code = self._process.poll()
            if code is not None:
                raise ServerError(f"{self!r} exited with code {code} while starting:\n{self.output()}")
            try:
                with socket.create_connection((self.host, self.port), timeout=0.5):
                    return
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise ServerError(f"{self!r} did not listen within {self.startup_timeout} s:\n{self.output()}")
            time.sleep(0.05)

    def stop(self) -> None:
        """Terminate the server (kill it past ``stop_timeout``) and wait for it to exit."""
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            process.terminate()
            try:
                process.wait(self.stop_timeout)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        elif process is not None:
            process.wait()
        self._close_log()

"""Several server processes on one database and one Redis channel layer, as in production.

A :class:`Cluster` is a daphne process (``a``) and a uvicorn process (``b``)
serving ``tests.asgi:application`` on the same migrated SQLite file, both on
the channel layer ``layer`` (``"redis"`` or ``"redis_pubsub"``, see
``tests/settings.py``) under a key prefix of their own. Other processes join
it through :meth:`Cluster.python` (a plain Python script with Django set up)
and :meth:`Cluster.manage`, or as more servers through :meth:`Cluster.server`
(started and stopped by the caller)::

    with Cluster("redis", prefix="run-1234", redis_url="redis://127.0.0.1:6379/0") as cluster:
        cluster.manage("wsrpc_publish", "news", '"hello"')
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from types import TracebackType

from tests.support.servers import REPO_ROOT, ServerError, ServerProcess

__all__ = ["LAYERS", "Cluster"]

#: The Redis channel layers of the test settings.
LAYERS = ("redis", "redis_pubsub")


class Cluster:
    """A daphne and a uvicorn process sharing one SQLite file and one Redis channel layer.

    ``prefix`` keeps this cluster's Redis keys and channels apart from any
    other run; ``env`` adds settings (``WSRPC_TEST_GROUP_EXPIRY`` and the
    like). The database is a temporary file, migrated on start.
    """

    def __init__(
        self,
        layer: str,
        *,
        prefix: str,
        redis_url: str,
        env: dict[str, str] | None = None,
    ) -> None:
        if layer not in LAYERS:
            raise ValueError(f"unknown layer {layer!r}; expected one of {LAYERS}")
        self.layer = layer
        self._tmpdir: str | None = tempfile.mkdtemp(prefix=f"wsrpc-cluster-{layer}-")
        self.db_path = Path(self._tmpdir, "db.sqlite3")
        self._migrated = False
        self.env = {
            "WSRPC_TEST_LAYER": layer,
            "WSRPC_TEST_LAYER_PREFIX": prefix,
            "REDIS_URL": redis_url,
            **(env or {}),
        }
        self.a = self.server("daphne")
        self.b = self.server("uvicorn")

    def __repr__(self) -> str:
        return f"<Cluster {self.layer}: {self.a!r}, {self.b!r}>"

    @property
    def servers(self) -> tuple[ServerProcess, ServerProcess]:
        return self.a, self.b

    def server(self, name: str, **env: str) -> ServerProcess:
        """A server process on this cluster's database and layer (not started), with ``env`` added."""
        return ServerProcess(name, db_path=self.db_path, env=self.env | env, migrate=False)

    # Other processes ----------------------------------------------------------

    def manage(self, *args: str, timeout: float = 60.0) -> str:
        """Run a ``manage.py`` command in a process of its own on this cluster; its output."""
        return self.a.manage(*args, timeout=timeout)

    def python(self, code: str, *, timeout: float = 60.0) -> str:
        """Run ``code`` in a plain Python process with Django set up on this cluster; its output."""
        script = f"import django\ndjango.setup()\n{code}"
        result = subprocess.run(
            [sys.executable, "-c", script],
            cwd=REPO_ROOT,
            env=self.a.env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if result.returncode != 0:
            raise ServerError(f"the script failed ({result.returncode}):\n{code}\n{result.stdout}{result.stderr}")
        return result.stdout

    # Lifecycle ----------------------------------------------------------------

    def start(self) -> Cluster:
        """Migrate the shared database (once) and start both servers, side by side."""
        if not self._migrated:
            self.manage("migrate", "--noinput")
            self._migrated = True
        with ThreadPoolExecutor(len(self.servers)) as pool:
            for future in [pool.submit(server.start) for server in self.servers]:
                future.result()
        return self

    def cleanup(self) -> None:
        """Stop every server and remove what this cluster created."""
        for server in self.servers:
            server.cleanup()
        if self._tmpdir is not None:
            shutil.rmtree(self._tmpdir, ignore_errors=True)
            self._tmpdir = None

    def __enter__(self) -> Cluster:
        try:
            return self.start()
        except BaseException:
            self.cleanup()
            raise

    def __exit__(self, *exc_info: type[BaseException] | BaseException | TracebackType | None) -> None:
        self.cleanup()

"""One thread per process that serializes and publishes changes, so the committing thread need not.

For an observer declared with ``background=True``: the commit hands its
changes here and returns; the thread reads the rows again, serializes and
publishes them, one transaction after another in commit order. At exit the
process waits (up to :data:`EXIT_WAIT` seconds) for what it was handed, so
a management command's changes are published before it ends.
"""

from __future__ import annotations

import atexit
import logging
import queue
import threading
from collections.abc import Callable

from django.db import close_old_connections

__all__ = ["submit", "wait_for_background", "EXIT_WAIT"]

logger = logging.getLogger("wsrpc")

# Publishing needs thread pools (asgiref's database_sync_to_async), which
# refuse work once the interpreter starts shutting down, before atexit
# handlers run. Wait where concurrent.futures itself stops its pools, just
# before it: the threading module's exit hooks run last registered first.
_at_exit = getattr(threading, "_register_atexit", atexit.register)

#: Seconds a process ending waits for the changes still to publish.
EXIT_WAIT = 10.0


class _Worker:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._jobs: queue.SimpleQueue[Callable[[], None]] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None

    def submit(self, job: Callable[[], None]) -> None:
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="wsrpc-observers", daemon=True)
                self._thread.start()
                _at_exit(wait_for_background, EXIT_WAIT)
        self._jobs.put(job)

    def _run(self) -> None:
        while True:
            job = self._jobs.get()
            try:
                job()
            except Exception:
                logger.exception("could not publish model changes")
            finally:
                close_old_connections()  # as after a request: this thread's connection obeys CONN_MAX_AGE

    def wait(self, timeout: float | None) -> bool:
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                return True
        done = threading.Event()
        self._jobs.put(done.set)
        return done.wait(timeout)


_worker = _Worker()


def submit(job: Callable[[], None]) -> None:
    """Run ``job`` on the thread, after the jobs handed to it before."""
    _worker.submit(job)


def wait_for_background(timeout: float | None = 5.0) -> bool:
    """Wait until the changes handed to the thread so far are published; False if ``timeout`` passed first."""
    return _worker.wait(timeout)

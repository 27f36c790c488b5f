"""Servers whose topics keep history, and a publisher in a process of its own: for the clients' recovery tests.

Topics ``rec.*`` keep 1,000 events, ``short.*`` only 3 (``Topic`` pattern
rows, so that each test takes topic names of its own)::

    with server_with_topics("daphne", **redis_env(redis_url)) as server:   # started; cleaned up after
        published(publisher(server, "rec.abc", 20))   # data 1..20, from another process
"""

from __future__ import annotations

import subprocess
import sys
import uuid

from .servers import REPO_ROOT, ServerProcess

__all__ = ["TOPICS", "server_with_topics", "redis_env", "new_topic", "publisher", "published"]

TOPICS = """
from wsrpc_app.models import Topic
Topic.objects.create(name="rec.#", anonymous_subscribe=True, anonymous_publish=True, history_size=1000, history_ttl=600)
Topic.objects.create(name="short.#", anonymous_subscribe=True, anonymous_publish=True, history_size=3, history_ttl=600)
"""

#: Publishes data 1..N to a topic, ``pause`` seconds apart.
PUBLISHER = """
import sys, time
import django
django.setup()
from wsrpc_app import publish
topic, count, pause = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
for n in range(1, count + 1):
    publish(topic, n)
    time.sleep(pause)
"""


def server_with_topics(kind: str, **env: str | None) -> ServerProcess:
    """A server on a database of its own that has the ``rec.#`` and ``short.#`` rows; ``with`` starts it."""
    server = ServerProcess(kind, env=env)
    try:
        server.migrate()
        server.manage("shell", "-c", TOPICS)
    except BaseException:
        server.cleanup()
        raise
    return server


def redis_env(redis_url: str) -> dict[str, str | None]:
    """Settings for a server on the Redis channel layer, under keys no other run uses."""
    return {
        "WSRPC_TEST_LAYER": "redis",
        "WSRPC_TEST_LAYER_PREFIX": f"wsrpc-rec-{uuid.uuid4().hex[:10]}",
        "REDIS_URL": redis_url,
    }


def new_topic(prefix: str = "rec") -> str:
    """A topic name no test used before, covered by the ``prefix.#`` row."""
    return f"{prefix}.{uuid.uuid4().hex[:10]}"


def publisher(server: ServerProcess, topic: str, count: int, pause: float = 0.0) -> subprocess.Popen[str]:
    """Another process on the server's settings (database, channel layer), publishing 1..count to ``topic``."""
    command = [sys.executable, "-c", PUBLISHER, topic, str(count), str(pause)]
    return subprocess.Popen(
        command, cwd=REPO_ROOT, env=server.env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )


def published(process: subprocess.Popen[str], timeout: float = 60.0) -> None:
    """Wait for a :func:`publisher` to finish; fails with its output if it did not succeed."""
    output, _ = process.communicate(timeout=timeout)
    assert process.returncode == 0, output

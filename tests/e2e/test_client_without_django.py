"""The Python client in a process that has no Django project: what a service that only calls wsrpc runs."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import pytest

from tests.support.servers import REPO_ROOT, ServerProcess

pytestmark = pytest.mark.e2e

#: A service's own script: it knows the URL and nothing of the server's Django project.
SERVICE = textwrap.dedent(
    """
    import asyncio, json, sys

    from wsrpc_app.client import RpcError, WsRpcClient

    async def main(url, origin):
        events = asyncio.Queue()
        async with WsRpcClient(url, origin=origin, proxy=None) as client:
            total = await client.call("add", 2, 3)
            await client.subscribe("chat.lobby", lambda data, event: events.put_nowait(data))
            await client.publish("chat.lobby", {"from": "service"})
            event = await asyncio.wait_for(events.get(), 10)
            try:
                await client.call("no.such.method")
            except RpcError as error:
                code = error.code
        heavy = sorted({m.split(".")[0] for m in sys.modules} & {"django", "channels", "rest_framework", "daphne"})
        print(json.dumps({"total": total, "event": event, "code": code, "loaded": heavy}))

    asyncio.run(main(sys.argv[1], sys.argv[2]))
    """
)


def plain_environment() -> dict[str, str]:
    """This process's environment without anything that would point Python at a Django project."""
    env = {key: value for key, value in os.environ.items() if not key.startswith(("DJANGO", "PYTEST"))}
    env["PYTHONPATH"] = str(REPO_ROOT)
    return env


def test_importing_the_client_loads_neither_django_nor_channels() -> None:
    probe = (
        "import sys; from wsrpc_app.client import WsRpcClient; "
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'django', 'channels', 'rest_framework', 'daphne'}))"
    )
    done = subprocess.run([sys.executable, "-c", probe], env=plain_environment(), capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


def test_a_service_without_django_calls_subscribes_and_publishes(server: ServerProcess) -> None:
    done = subprocess.run(
        [sys.executable, "-c", SERVICE, server.ws_url, server.origin],
        env=plain_environment(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {"total": 5, "event": {"from": "service"}, "code": -32601, "loaded": []}

"""Without ``prometheus_client`` (no ``wsrpc[metrics]``): the app serves as before and exposes no metrics."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.wire import call, open_socket
from tests.support.servers import REPO_ROOT, ServerProcess

from .scraping import TOKEN, get, health

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def hidden(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A PYTHONPATH on which ``import prometheus_client`` fails, as when it is not installed."""
    root = tmp_path_factory.mktemp("no-prometheus")
    package = Path(root, "prometheus_client")
    package.mkdir()
    Path(package, "__init__.py").write_text("raise ImportError('prometheus_client is not installed')\n")
    return os.pathsep.join([str(root), str(REPO_ROOT)])


@pytest.fixture(scope="module")
def server(hidden: str) -> Iterator[ServerProcess]:
    with ServerProcess("uvicorn", env={"PYTHONPATH": hidden, "WSRPC_TEST_METRICS_TOKEN": TOKEN}) as process:
        yield process


def test_the_app_records_nothing(hidden: str) -> None:
    probe = (
        "import django; django.setup()\n"
        "from wsrpc_app.metrics import available, recorder\n"
        "from wsrpc_app.server.wiring import server_dispatcher, get_registry\n"
        "print(available(), type(recorder()).__name__, server_dispatcher(get_registry()).observe)\n"
    )
    env = dict(os.environ, PYTHONPATH=hidden, DJANGO_SETTINGS_MODULE="tests.settings")
    done = subprocess.run([sys.executable, "-c", probe], env=env, cwd=REPO_ROOT, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["False", "Silent", "None"]


async def test_calls_work_and_no_metrics_are_served(server: ServerProcess) -> None:
    async with open_socket(server) as ws:
        reply = await call(ws, {"jsonrpc": "2.0", "method": "add", "params": [2, 3], "id": 1})
    assert reply["result"] == 5
    status, content_type, body = get(server, "wsrpc/metrics/", {"Authorization": f"Bearer {TOKEN}"})
    assert status == 404 and content_type == "application/json", body
    assert health(server)[0] == 200

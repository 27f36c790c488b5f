"""Reading a live server's ``wsrpc/metrics/`` and ``wsrpc/health/`` as a scraper and a load balancer do."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from typing import Any

from prometheus_client.parser import text_string_to_metric_families

from tests.support.servers import ServerProcess
from wsrpc_app.metrics.recorder import FLUSH_INTERVAL

__all__ = ["TOKEN", "Samples", "get", "health", "scrape", "value"]

#: The scrapers' token the test servers are given (WSRPC_TEST_METRICS_TOKEN).
TOKEN = "scrape-me-0123456789"

#: (sample name, sorted label pairs) -> value
Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def get(server: ServerProcess, path: str, headers: dict[str, str] | None = None) -> tuple[int, str, bytes]:
    """GET ``path``: status, content type and body, whatever the status."""
    request = urllib.request.Request(server.http_url + path.lstrip("/"), headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.headers.get("Content-Type", ""), response.read()
    except urllib.error.HTTPError as error:
        with error:
            return error.code, error.headers.get("Content-Type", ""), error.read()


def scrape(server: ServerProcess) -> Samples:
    """Every sample of ``wsrpc/metrics/``, parsed by prometheus_client's own parser.

    Taken once frames and calls made so far reached the instruments: :data:`FLUSH_INTERVAL` after them.
    """
    time.sleep(2 * FLUSH_INTERVAL)
    status, content_type, body = get(server, "wsrpc/metrics/", {"Authorization": f"Bearer {TOKEN}"})
    assert status == 200, body
    assert content_type.startswith("text/plain"), content_type
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(body.decode())
        for sample in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float:
    """One sample's value; 0 when the series does not exist yet."""
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def health(server: ServerProcess) -> tuple[int, Any]:
    status, _, body = get(server, "wsrpc/health/")
    return status, json.loads(body)

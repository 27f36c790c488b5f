"""wsrpc's test settings, with the per-connection in-flight limit raised for the pipelined calls workload.

The test settings allow 16 requests in flight per connection; W2 keeps 64 in
flight, which would otherwise be answered -32029. ``BENCH_MAX_IN_FLIGHT``
sets the limit (default 256). Metrics are off unless ``BENCH_METRICS=1``, so
a run measures the same server whether or not ``prometheus_client`` is installed.
"""

from __future__ import annotations

import os

from tests.settings import *  # noqa: F403
from tests.settings import WSRPC as _WSRPC

WSRPC = {
    **_WSRPC,
    "MAX_IN_FLIGHT": int(os.environ.get("BENCH_MAX_IN_FLIGHT", "256")),
    "METRICS": os.environ.get("BENCH_METRICS") == "1",
}

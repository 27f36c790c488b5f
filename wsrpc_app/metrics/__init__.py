"""Prometheus metrics of the server (the ``wsrpc[metrics]`` extra): what is counted, the switch, the view.

:mod:`.instruments` holds the metric objects and is imported only when
``prometheus_client`` is; :mod:`.recorder` is what the server's hooks call,
silent without it; :mod:`.view` serves ``wsrpc/metrics/``.
"""

from __future__ import annotations

from .recorder import available, recorder

__all__ = ["available", "recorder"]

"""Benchmarks of wsrpc against bare Channels and a bare ``websockets`` server.

Run them with ``python -m benchmarks.run <workload>``; see ``benchmarks/README.md``.
Nothing here is imported by ``wsrpc_app``.
"""

from __future__ import annotations

__all__: list[str] = []

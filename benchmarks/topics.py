"""Topic rows a workload needs in the benchmark servers' database, beyond the demo's ``chat.lobby``.

A topic keeps history when its ``Topic`` row has ``history_size`` > 0
(issue 12): events then carry an offset and an epoch, and a subscriber that
comes back with ``since`` gets what it missed. The rows are written once,
after ``migrate`` and before any server starts, as the admin would.
"""

from __future__ import annotations

import dataclasses

from .processes import PeerProcess

__all__ = ["HistoryTopic"]


@dataclasses.dataclass(frozen=True)
class HistoryTopic:
    """A topic anyone may subscribe and publish to, keeping its last ``size`` events for ``ttl`` seconds."""

    name: str
    size: int
    ttl: int

    def create(self, process: PeerProcess) -> None:
        """Write the row into ``process``'s (migrated) database."""
        fields = {
            "anonymous_subscribe": True,
            "anonymous_publish": True,
            "history_size": self.size,
            "history_ttl": self.ttl,
        }
        code = "from wsrpc_app.models import Topic\n"
        code += f"Topic.objects.update_or_create(name={self.name!r}, defaults={fields!r})"
        process.manage("shell", "-c", code)

"""Topic rows a workload needs in the benchmark servers' database, beyond the demo's ``chat.lobby``.

A topic keeps history when its ``Topic`` row has ``history_size`` > 0
(issue 12): events then carry an offset and an epoch, and a subscriber that
comes back with ``since`` gets what it missed. A topic has presence when its
row has ``presence`` (issue 14): every subscriber is recorded, and with
``join_leave`` the others get ``rpc.join`` / ``rpc.leave``. The rows are
written once, after ``migrate`` and before any server starts, as the admin
would.
"""

from __future__ import annotations

import dataclasses

from .processes import PeerProcess

__all__ = ["TopicRow"]


@dataclasses.dataclass(frozen=True)
class TopicRow:
    """A topic anyone may subscribe and publish to, with the history and presence its ``Topic`` row asks for."""

    name: str
    #: Events kept (0: no history) and for how many seconds.
    history_size: int = 0
    history_ttl: int = 300
    presence: bool = False
    join_leave: bool = False

    def create(self, process: PeerProcess) -> None:
        """Write the row into ``process``'s (migrated) database."""
        fields = {
            "anonymous_subscribe": True,
            "anonymous_publish": True,
            "history_size": self.history_size,
            "history_ttl": self.history_ttl,
            "presence": self.presence,
            "join_leave": self.join_leave,
        }
        code = "from wsrpc_app.models import Topic\n"
        code += f"Topic.objects.update_or_create(name={self.name!r}, defaults={fields!r})"
        process.manage("shell", "-c", code)

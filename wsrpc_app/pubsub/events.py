"""The ``rpc.event`` notification, assembled from parts encoded once for every subscriber."""

from __future__ import annotations

__all__ = ["event_frame", "topic_json"]


def event_frame(topic_json: str, data_json: str, subscription_json: str | None) -> str:
    """An ``rpc.event`` frame; ``subscription_json`` names the pattern that matched, if one did."""
    extra = f',"subscription":{subscription_json}' if subscription_json is not None else ""
    return f'{{"jsonrpc":"2.0","method":"rpc.event","params":{{"topic":{topic_json},"data":{data_json}{extra}}}}}'


def topic_json(name: str) -> str:
    """A topic or pattern as a JSON string: names hold only ``[A-Za-z0-9_.*#-]``, which need no escaping."""
    return f'"{name}"'

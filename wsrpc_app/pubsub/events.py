"""The ``rpc.event`` and ``rpc.gap`` notifications, assembled from parts encoded once for every subscriber."""

from __future__ import annotations

import json

from .sequence import Gap

__all__ = ["event_frame", "gap_frame", "position_json", "topic_json"]


def event_frame(topic_json: str, data_json: str, subscription_json: str | None, position: str = "") -> str:
    """An ``rpc.event`` frame; ``subscription_json`` names the pattern that matched, if one did.

    ``position`` is :func:`position_json` for a topic with history, else empty.
    """
    extra = f',"subscription":{subscription_json}' if subscription_json is not None else ""
    params = f'{{"topic":{topic_json},"data":{data_json}{position}{extra}}}'
    return f'{{"jsonrpc":"2.0","method":"rpc.event","params":{params}}}'


def position_json(epoch: str, offset: int) -> str:
    """The ``offset`` and ``epoch`` members of an event's params, with their leading comma."""
    return f',"offset":{offset},"epoch":{json.dumps(epoch)}'


def gap_frame(topic_json: str, gap: Gap, subscription_json: str | None) -> str:
    """An ``rpc.gap`` frame: the subscriber missed events it will never get; it is now at the gap's position."""
    missed = f',"missed":[{gap.missed[0]},{gap.missed[1]}]' if gap.missed is not None else ""
    extra = f',"subscription":{subscription_json}' if subscription_json is not None else ""
    return (
        f'{{"jsonrpc":"2.0","method":"rpc.gap","params":{{"topic":{topic_json},"epoch":{json.dumps(gap.epoch)},'
        f'"offset":{gap.offset}{missed}{extra}}}}}'
    )


def topic_json(name: str) -> str:
    """A topic or pattern as a JSON string: names hold only ``[A-Za-z0-9_.*#-]``, which need no escaping."""
    return f'"{name}"'

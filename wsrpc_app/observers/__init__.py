"""Model observers: publish the changes of model rows to topics, after their transaction commits.

::

    from wsrpc_app.observers import observe

    observe(Order, topic="orders.{pk}", also="orders", serializer=OrderSerializer)

Subscribers of ``orders.42`` and ``orders`` then receive
``{"action": "created"|"updated"|"deleted", "pk": 42, "data": {...}}``.
Observers are declared in code (:func:`observe`) or in
``WSRPC["OBSERVERS"]``; :func:`publish_changes` covers the bulk operations
that send no signals.
"""

from __future__ import annotations

from .background import wait_for_background
from .bulk import publish_changes
from .declaring import forget, observe
from .observer import ACTIONS, ModelObserver
from .registry import observers
from .topics import TopicTemplate

__all__ = [
    "observe",
    "forget",
    "publish_changes",
    "wait_for_background",
    "observers",
    "ModelObserver",
    "TopicTemplate",
    "ACTIONS",
]

"""The to-do list is observed: each change is published to ``todos`` once its transaction commits.

Subscribers of ``todos`` (the demo's data grants it to anyone) receive
``{"action": "created"|"updated"|"deleted", "pk": 7, "data": {...}}``, the
data exactly as ``/api/todos/7/`` answers it. Imported by ``DemoConfig.ready()``.
"""

from __future__ import annotations

from wsrpc_app.observers import observe

from .models import TodoItem
from .serializers import TodoItemSerializer

__all__ = ["todos"]

todos = observe(TodoItem, topic="todos", also="todos.{pk}", serializer=TodoItemSerializer)

"""The to-do list's REST API (``/api/todos/``): the demo page reads and edits the list through it."""

from __future__ import annotations

from rest_framework import permissions, routers, viewsets

from .models import TodoItem
from .serializers import TodoItemSerializer

__all__ = ["TodoItemViewSet", "router"]


class TodoItemViewSet(viewsets.ModelViewSet[TodoItem]):
    """Anyone may edit the demo's list, as anyone may write in ``chat.lobby``."""

    queryset = TodoItem.objects.all()
    serializer_class = TodoItemSerializer
    permission_classes = [permissions.AllowAny]


router = routers.DefaultRouter()
router.register("todos", TodoItemViewSet)

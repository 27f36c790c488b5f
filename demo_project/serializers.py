"""The to-do list's DRF serializer: the REST API's and the live events' form of an item."""

from __future__ import annotations

from rest_framework import serializers

from .models import TodoItem


class TodoItemSerializer(serializers.ModelSerializer[TodoItem]):
    class Meta:
        model = TodoItem
        fields = ["id", "title", "done", "created"]
        read_only_fields = ["id", "created"]

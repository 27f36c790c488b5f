from __future__ import annotations

from django.contrib import admin

from .models import TodoItem


@admin.register(TodoItem)
class TodoItemAdmin(admin.ModelAdmin):
    """Edits here reach every page showing the list, as edits on the page do."""

    list_display = ["title", "done", "created"]
    list_editable = ["done"]
    search_fields = ["title"]

"""The demo's shared to-do list: every change reaches every open page (``demo_project.observers``)."""

from __future__ import annotations

from django.db import models


class TodoItem(models.Model):
    """One line of the shared to-do list."""

    title = models.CharField("title", max_length=200)
    done = models.BooleanField("done", default=False)
    created = models.DateTimeField("created", auto_now_add=True)

    class Meta:
        ordering = ["created", "id"]
        verbose_name = "to-do item"

    def __str__(self) -> str:
        return self.title

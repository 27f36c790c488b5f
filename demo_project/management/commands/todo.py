"""``manage.py todo add|done|undo|remove``: edit the shared to-do list; open pages update live."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction

from demo_project.models import TodoItem


class Command(BaseCommand):
    help = "Edit the demo's shared to-do list; every page showing it updates once the change commits."

    def add_arguments(self, parser: CommandParser) -> None:
        actions = parser.add_subparsers(dest="action", required=True)
        actions.add_parser("add", help="add an item").add_argument("title")
        for name, text in (("done", "mark an item done"), ("undo", "mark an item not done"), ("remove", "remove")):
            actions.add_parser(name, help=text).add_argument("id", type=int)

    @transaction.atomic
    def handle(self, *args: object, action: str, **options: object) -> None:
        if action == "add":
            item = TodoItem.objects.create(title=str(options["title"]))
            self.stdout.write(f"added {item.pk}: {item.title}")
            return
        item = TodoItem.objects.select_for_update().filter(pk=options["id"]).first()
        if item is None:
            raise CommandError(f"no to-do item {options['id']}")
        if action == "remove":
            item.delete()
        else:
            item.done = action == "done"
            item.save(update_fields=["done"])
        self.stdout.write(f"{action} {options['id']}: {item.title}")

"""``manage.py wsrpc_observer_topics``: a ``Topic`` row for each topic the model observers publish to."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction

from wsrpc_app.models import Topic
from wsrpc_app.observers import observers


class Command(BaseCommand):
    help = (
        "Create a Topic row for each topic template of the model observers ('orders.{pk}' becomes the "
        "pattern 'orders.*'), so that who may subscribe is then set in the admin. Existing rows are left as they are."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--anonymous-subscribe", action="store_true", help="anyone, logged in or not, may subscribe"
        )
        parser.add_argument("--authenticated-subscribe", action="store_true", help="any logged-in user may subscribe")
        parser.add_argument(
            "--history-size", type=int, default=0, help="events kept for subscribers to recover (default 0: none)"
        )
        parser.add_argument("--dry-run", action="store_true", help="say what would be created, create nothing")

    def handle(
        self,
        *args: object,
        anonymous_subscribe: bool,
        authenticated_subscribe: bool,
        history_size: int,
        dry_run: bool,
        **options: object,
    ) -> None:
        patterns: dict[str, list[str]] = {}
        for observer in observers():
            if observer.topics_of is not None:
                self.stdout.write(f"skipped {observer.label}: a function names its topics; add their rows in the admin")
            for template in observer.templates:
                patterns.setdefault(template.pattern, []).append(observer.label)
        with transaction.atomic():
            for name, labels in patterns.items():
                if Topic.objects.filter(name=name).exists():
                    self.stdout.write(f"exists  {name}")
                    continue
                topic = Topic(
                    name=name,
                    description=f"Changes to {', '.join(dict.fromkeys(labels))}, published by model observers.",
                    anonymous_subscribe=anonymous_subscribe,
                    authenticated_subscribe=authenticated_subscribe,
                    history_size=history_size,
                )
                try:
                    topic.full_clean()
                except ValidationError as exc:
                    problems = "; ".join(f"{field} {' '.join(errors)}" for field, errors in exc.message_dict.items())
                    raise CommandError(f"{name}: {problems}") from None
                if not dry_run:
                    topic.save()
                self.stdout.write(f"{'would create' if dry_run else 'created'} {name}")

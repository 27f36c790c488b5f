"""``manage.py wsrpc_publish TOPIC [DATA]``: publish an event from the command line."""

from __future__ import annotations

import json

from django.core.management.base import BaseCommand, CommandError, CommandParser

from wsrpc_app.core.errors import RpcError
from wsrpc_app.pubsub.publishing import publish


class Command(BaseCommand):
    help = "Publish DATA (JSON; a bare word is taken as a string) to TOPIC, on every process sharing the channel layer."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("topic", help="a concrete topic, e.g. news")
        parser.add_argument("data", nargs="?", default="null", help='JSON, e.g. \'{"text": "hi"}\'')

    def handle(self, *args: object, topic: str, data: str, **options: object) -> None:
        try:
            value = json.loads(data)
        except ValueError:
            value = data
        try:
            publish(topic, value)
        except RpcError as exc:
            raise CommandError(f"{exc.message}: {(exc.data or {}).get('reason', '')}") from None
        self.stdout.write(f"published to {topic}")

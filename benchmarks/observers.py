"""What a model observer costs the thread that commits, inline and in the background.

One process saves an article per transaction, ``--changes`` times per mode,
on a migrated SQLite file and the Redis pub/sub layer (``REDIS_URL``), and
reports the median and p99 time of a transaction on the committing thread:
with no observer, with the test suite's article observer publishing inline
(read the row again, DRF serializer, publish to two topics), and with the
same observer in the background. For the background it also reports how
long the process took to publish everything. It counts the serializer's
renderings too: one per change, whatever the topics.

    .venv/bin/python -m benchmarks.observers --changes 500
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from typing import Any


def _setup(db: str) -> None:
    os.environ["DJANGO_SETTINGS_MODULE"] = "tests.settings"
    os.environ["WSRPC_TEST_DB"] = db
    os.environ["WSRPC_TEST_LAYER"] = "redis_pubsub"
    os.environ["WSRPC_TEST_LAYER_PREFIX"] = f"wsrpc-bench-observers-{uuid.uuid4().hex[:8]}"
    import django

    django.setup()
    from django.core.management import call_command
    from django.test.utils import override_settings

    call_command("migrate", verbosity=0)
    override_settings(ROOT_URLCONF="tests.observed.urls").enable()  # the serializer's hyperlinks


def _measure(changes: int, save: Callable[[int], None]) -> list[float]:
    from django.db import transaction

    timings = []
    for n in range(changes):
        started = time.perf_counter()
        with transaction.atomic():
            save(n)
        timings.append(time.perf_counter() - started)
    return timings


def _line(name: str, timings: list[float]) -> str:
    ordered = sorted(timings)
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    return f"{name:<28} median {statistics.median(timings) * 1e6:8.0f} µs   p99 {p99 * 1e6:8.0f} µs"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--changes", type=int, default=500, help="transactions per mode")
    options = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        _setup(os.path.join(tmp, "db.sqlite3"))
        from tests.observed.models import Article
        from tests.observed.observers import articles
        from tests.observed.serializers import ArticleSerializer
        from wsrpc_app.observers import forget, observe, observers, wait_for_background

        article = Article.objects.create(title="warm-up")

        def save(n: int) -> None:
            article.title = f"title {n}"
            article.save()

        _measure(20, save)  # connections to Redis, caches
        forget(articles)
        quiet = _measure(options.changes, save)
        print(_line("no observer", quiet))

        inline_observer = observe(Article, **_options(articles))
        before = ArticleSerializer.renders
        inline = _measure(options.changes, save)
        renders = (ArticleSerializer.renders - before) / options.changes
        print(_line("observer, inline", inline), f"  renderings per change {renders:.2f}")

        forget(inline_observer)
        observe(Article, **_options(articles), background=True)
        assert [o.background for o in observers() if o.model is Article] == [True]
        started = time.perf_counter()
        background = _measure(options.changes, save)
        committed = time.perf_counter() - started
        assert wait_for_background(60)
        published = time.perf_counter() - started
        print(
            _line("observer, background", background),
            f"  all published {published:.2f} s after the first commit (the commits took {committed:.2f} s)",
        )
    return 0


def _options(observer: Any) -> dict[str, Any]:
    from tests.observed.observers import CONTEXT

    return {
        "topic": "articles",
        "also": "articles.{pk}",
        "serializer": observer.serializer,
        "fields": ["title", "status", "price", "published"],
        "m2m": True,
        "context": CONTEXT,
    }


if __name__ == "__main__":
    sys.exit(main())

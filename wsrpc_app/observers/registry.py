"""The observers in force: those declared in code, and those of ``WSRPC["OBSERVERS"]``.

Settings are read when first needed and again after they change
(``override_settings`` works); an entry that cannot be made into an
observer is left out here and reported by ``manage.py check``
(``wsrpc_app.E014``).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable, Mapping
from typing import Required, TypedDict, Unpack

from django.apps import apps
from django.core.signals import setting_changed
from django.db.models import Model
from django.dispatch import receiver
from django.utils.module_loading import import_string

from ..conf import wsrpc_settings
from ..core.types import JSON
from .observer import ACTIONS, Context, ModelObserver, Serializer, TopicsOf

__all__ = ["ObserverOptions", "build", "from_setting", "add", "remove", "observers", "observers_for", "SETTING_KEYS"]

logger = logging.getLogger("wsrpc")

#: The keys of one ``WSRPC["OBSERVERS"]`` entry: ``observe()``'s arguments, dotted paths for callables.
SETTING_KEYS = frozenset(
    {"model", "topic", "also", "serializer", "fields", "m2m", "actions", "context", "background"}
)


class ObserverOptions(TypedDict, total=False):
    """The options of an observer (:func:`~wsrpc_app.observers.observe` says what each does)."""

    topic: Required[str | Iterable[str] | TopicsOf]
    also: str | Iterable[str]
    serializer: Serializer | None
    fields: Iterable[str] | None
    m2m: bool | Iterable[str]
    actions: Iterable[str]
    context: Context | None
    background: bool


def build(model: type[Model] | str, **options: Unpack[ObserverOptions]) -> ModelObserver:
    """A :class:`ModelObserver` from ``observe()``'s arguments; raises ValueError for a bad one."""
    if isinstance(model, str):
        try:
            model = apps.get_model(model)
        except (LookupError, ValueError) as exc:
            raise ValueError(f"no model {model!r}: {exc}") from None
    topic, also = options["topic"], options.get("also", ())
    if callable(topic):
        if also:
            raise ValueError("give more topics from the topic function, not with also=")
        topics: Iterable[str] | TopicsOf = topic
    else:
        topics = [*_as_list(topic), *_as_list(also)]
    return ModelObserver(
        model,
        topics=topics,
        serializer=options.get("serializer"),
        fields=options.get("fields"),
        m2m=options.get("m2m", False),
        actions=options.get("actions", ACTIONS),
        context=options.get("context"),
        background=options.get("background", False),
    )


def _as_list(value: str | Iterable[str]) -> list[str]:
    return [value] if isinstance(value, str) else list(value)


def from_setting(entry: object) -> ModelObserver:
    """The observer of one ``WSRPC["OBSERVERS"]`` entry; raises ValueError saying what is wrong."""
    if not isinstance(entry, Mapping):
        raise ValueError(f"an entry is a dict of observe()'s arguments, not {entry!r}")
    unknown = sorted(set(entry) - SETTING_KEYS)
    if unknown:
        raise ValueError(f"unknown keys {', '.join(unknown)} (known: {', '.join(sorted(SETTING_KEYS))})")
    if "model" not in entry or "topic" not in entry:
        raise ValueError("an entry needs a model and a topic")
    arguments: dict[str, JSON] = dict(entry)
    for key in ("serializer", "context"):
        if isinstance(arguments.get(key), str):
            try:
                arguments[key] = import_string(arguments[key])
            except ImportError as exc:
                raise ValueError(f"{key} {entry[key]!r} does not import: {exc}") from None
    return build(arguments.pop("model"), **arguments)


class _Registry:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.declared: list[ModelObserver] = []
        self.configured: list[ModelObserver] | None = None
        self.by_model: dict[type[Model], list[ModelObserver]] | None = None

    def settings_observers(self) -> list[ModelObserver]:
        configured = self.configured
        if configured is None:
            configured = []
            entries = getattr(wsrpc_settings, "OBSERVERS", [])
            for index, entry in enumerate(entries if isinstance(entries, list) else []):
                try:
                    configured.append(from_setting(entry))
                except ValueError as exc:
                    logger.error("WSRPC['OBSERVERS'][%d] is left out: %s", index, exc)
            self.configured = configured
        return configured

    def index(self) -> dict[type[Model], list[ModelObserver]]:
        by_model = self.by_model
        if by_model is None:
            by_model = {}
            for observer in [*self.declared, *self.settings_observers()]:
                by_model.setdefault(observer.model, []).append(observer)
            self.by_model = by_model
        return by_model


_registry = _Registry()


def add(observer: ModelObserver) -> None:
    with _registry.lock:
        _registry.declared.append(observer)
        _registry.by_model = None


def remove(observer: ModelObserver) -> None:
    with _registry.lock:
        if observer in _registry.declared:
            _registry.declared.remove(observer)
        _registry.by_model = None


def observers() -> list[ModelObserver]:
    """Every observer in force, those declared in code first."""
    return [*_registry.declared, *_registry.settings_observers()]


def observers_for(model: type[Model]) -> list[ModelObserver]:
    """The observers of ``model`` (exactly that class: a proxy has observers of its own)."""
    return _registry.index().get(model, [])


@receiver(setting_changed)
def _settings_changed(*, setting: str, **kwargs: object) -> None:
    if setting == "WSRPC":
        with _registry.lock:
            _registry.configured = _registry.by_model = None

"""One model observer: which changes it publishes, to which topics, in which form.

A :class:`ModelObserver` decides and encodes; it never publishes by itself
(:mod:`.changes` does, after the transaction commits). An event's data is
``{"action": "created"|"updated"|"deleted", "pk": …, "data": …}``, encoded
once per change, whatever the number of topics and subscribers.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Literal, TypeAlias, get_args

import orjson
from django.db.models import Model
from rest_framework.renderers import JSONRenderer
from rest_framework.serializers import BaseSerializer, ModelSerializer

from ..core import protocol
from ..core.types import JSON
from .topics import TopicTemplate

__all__ = ["ACTIONS", "Action", "Context", "ModelObserver", "Serializer", "TopicsOf"]

Action: TypeAlias = Literal["created", "updated", "deleted"]
ACTIONS: tuple[Action, ...] = get_args(Action)

#: A DRF serializer class, or a function of the instance returning what JSON can carry.
Serializer: TypeAlias = type[BaseSerializer[Model]] | Callable[..., JSON]
#: A function of the instance returning its concrete topics, for topics templates cannot say.
TopicsOf: TypeAlias = Callable[..., Iterable[str]]
#: The serializer context: a dict, or a function of the instance returning one.
Context: TypeAlias = Mapping[str, object] | Callable[..., Mapping[str, object]]

#: orjson's stubs give ``Fragment`` (JSON already encoded, written as is) no constructor.
_fragment: Callable[[bytes], orjson.Fragment] = orjson.Fragment


class ModelObserver:
    """Publishes the changes of ``model``'s rows; made and registered by :func:`~wsrpc_app.observers.observe`.

    Called with a serializer class or function, it takes it as its serializer
    and returns it unchanged, so ``@observe(...)`` decorates one.
    """

    def __init__(
        self,
        model: type[Model],
        *,
        topics: Iterable[str] | TopicsOf,
        serializer: Serializer | None = None,
        fields: Iterable[str] | None = None,
        m2m: bool | Iterable[str] = False,
        actions: Iterable[str] = ACTIONS,
        context: Context | None = None,
        background: bool = False,
    ) -> None:
        if not (isinstance(model, type) and issubclass(model, Model)):
            raise ValueError(f"observe a Django model class, not {model!r}")
        self.model = model
        self.label = model._meta.label
        if callable(topics):
            self.templates: tuple[TopicTemplate, ...] = ()
            self.topics_of: TopicsOf | None = topics
        else:
            self.templates = tuple(TopicTemplate(template) for template in _strings(topics, "topics"))
            self.topics_of = None
            if not self.templates:
                raise ValueError(f"the observer of {self.label} needs at least one topic")
        self.actions = frozenset(_strings(actions, "actions"))
        if not self.actions or not self.actions <= set(ACTIONS):
            raise ValueError(f"actions are some of {', '.join(ACTIONS)}, not {sorted(self.actions)}")
        #: The fields whose ``save(update_fields=...)`` publishes, by name and attname (``owner``, ``owner_id``).
        self.fields = None if fields is None else _field_names(model, frozenset(_strings(fields, "fields")))
        #: The observed many-to-many fields' names, by the model of their table.
        self.m2m_fields = _m2m_fields(model, m2m)
        self.context = context
        if not isinstance(background, bool):
            raise ValueError(f"background is True or False, not {background!r}")
        self.background = background
        #: The concrete fields (attnames) the topic templates read besides the primary key; None when the
        #: topics depend on more (a function, a related object) and a row's earlier topics cannot be kept.
        self.topic_fields = _topic_fields(model, self.templates) if self.topics_of is None else None
        self._serializer: Serializer | None = None
        self.serializer = serializer

    def __repr__(self) -> str:
        topics = [template.template for template in self.templates] or [repr(self.topics_of)]
        return f"<ModelObserver {self.label} → {', '.join(topics)}>"

    # Serializer -------------------------------------------------------------

    @property
    def serializer(self) -> Serializer:
        """The serializer in use: the one given, or a ``ModelSerializer`` of every field."""
        if self._serializer is None:
            self._serializer = _all_fields_serializer(self.model)
        return self._serializer

    @serializer.setter
    def serializer(self, value: Serializer | None) -> None:
        if value is not None and (
            not callable(value) or (isinstance(value, type) and not issubclass(value, BaseSerializer))
        ):
            raise ValueError(f"a serializer is a DRF serializer class or a function, not {value!r}")
        self._serializer = value

    def __call__(self, serializer: Serializer) -> Serializer:
        self.serializer = serializer
        return serializer

    # Decisions ----------------------------------------------------------------

    def publishes_update(self, update_fields: Iterable[str] | None) -> bool:
        """Whether a ``save(update_fields=...)`` touches a field this observer publishes for."""
        return self.fields is None or update_fields is None or not self.fields.isdisjoint(update_fields)

    def topics_for(self, instance: Model) -> list[str]:
        """The concrete topics of ``instance``'s changes, each once."""
        if self.topics_of is not None:
            topics = list(self.topics_of(instance))
        else:
            topics = [template.format(instance) for template in self.templates]
        return list(dict.fromkeys(topics))

    # Encoding -----------------------------------------------------------------

    def encode_data(self, instance: Model) -> bytes:
        """``instance`` as JSON: the DRF serializer's output as the REST API renders it, or the function's."""
        serializer = self.serializer
        if isinstance(serializer, type):  # a DRF serializer class (the setter saw to it)
            context = self.context(instance) if callable(self.context) else (self.context or {})
            return JSONRenderer().render(serializer(instance, context=dict(context)).data) or b"null"
        return protocol.encode(serializer(instance))

    def encode_event(self, action: Action, pk: object, data: bytes) -> orjson.Fragment:
        """The event's data, encoded once for every topic, process and subscriber."""
        return _fragment(protocol.encode({"action": action, "pk": pk, "data": _fragment(data)}))


def _strings(value: str | Iterable[str], what: str) -> list[str]:
    values = [value] if isinstance(value, str) else list(value)
    if not all(isinstance(item, str) for item in values):
        raise ValueError(f"{what} are strings, not {values!r}")
    return values


def _field_names(model: type[Model], names: frozenset[str]) -> frozenset[str]:
    by_name = {}
    for field in model._meta.concrete_fields:
        by_name[field.name] = by_name[field.attname] = frozenset({field.name, field.attname})
    unknown = sorted(names - set(by_name))
    if unknown:
        raise ValueError(f"{model._meta.label} has no field {', '.join(unknown)}")
    return frozenset().union(*(by_name[name] for name in names))


def _topic_fields(model: type[Model], templates: tuple[TopicTemplate, ...]) -> frozenset[str] | None:
    by_name = {}
    for field in model._meta.concrete_fields:
        # owner_id is read from the row; owner would load the related object.
        by_name[field.attname] = field.attname
        if not field.is_relation:
            by_name[field.name] = field.attname
    by_name["pk"] = model._meta.pk.attname if model._meta.pk is not None else "pk"
    names = {field for template in templates for field in template.fields}
    if not names <= set(by_name):
        return None
    return frozenset(by_name[name] for name in names)


def _m2m_fields(model: type[Model], m2m: bool | Iterable[str]) -> dict[type[Model], str]:
    """The observed many-to-many fields' names, by the model of their table."""
    fields: dict[str, type[Model]] = {}
    for field in model._meta.many_to_many:
        through = field.remote_field.through
        if through is not None:
            fields[field.name] = through
    names = set(fields) if m2m is True else set() if m2m is False else set(_strings(m2m, "m2m"))
    unknown = sorted(names - set(fields))
    if unknown:
        raise ValueError(f"{model._meta.label} has no many-to-many field {', '.join(unknown)}")
    return {fields[name]: name for name in sorted(names)}


def _all_fields_serializer(model: type[Model]) -> type[BaseSerializer[Model]]:
    meta = type("Meta", (), {"model": model, "fields": "__all__"})
    return type(f"{model.__name__}ObserverSerializer", (ModelSerializer,), {"Meta": meta})

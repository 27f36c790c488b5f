"""Topic templates: ``"orders.{pk}"`` formatted with an instance, and the pattern that covers them.

A template is a topic whose segments may hold ``str.format`` fields naming
the instance's attributes: ``{pk}``, ``{owner_id}``, ``{owner.username}``.
Its pattern replaces each segment holding a field with ``*``
(``"users.{owner_id}.orders"`` → ``"users.*.orders"``): the ``Topic`` row
that grants it covers every topic the template can make.
"""

from __future__ import annotations

import string
from collections.abc import Iterator, Mapping

from ..core.errors import NoSuchTopic
from ..core.topics import validate_topic

__all__ = ["TopicTemplate"]

_FORMATTER = string.Formatter()


class TopicTemplate:
    """One topic template; raises ValueError when it cannot make a valid topic."""

    __slots__ = ("template", "fields", "pattern")

    def __init__(self, template: str) -> None:
        if not isinstance(template, str):
            raise ValueError(f"a topic template is a str, not {type(template).__name__}")
        try:
            parts = list(_FORMATTER.parse(template))
        except ValueError as exc:
            raise ValueError(f"topic template {template!r}: {exc}") from None
        fields = [field for _literal, field, _spec, _conversion in parts if field is not None]
        if any(not field or field.isdigit() for field in fields):
            raise ValueError(f"topic template {template!r}: name each field ({{pk}}, {{owner_id}})")
        self.template = template
        self.fields = tuple(fields)
        # Each field stands for one value inside a segment: dots in a field ({owner.username}) are
        # attribute access, not segment breaks.
        marked = "".join(literal + ("\0" if field is not None else "") for literal, field, _spec, _conv in parts)
        try:
            validate_topic(marked.replace("\0", "x"))
        except NoSuchTopic as exc:
            reason = (exc.data or {}).get("reason", exc.message)
            raise ValueError(f"topic template {template!r} cannot make a valid topic: {reason}") from None
        self.pattern = ".".join("*" if "\0" in segment else segment for segment in marked.split("."))

    def format(self, instance: object) -> str:
        """The concrete topic for ``instance``; raises NoSuchTopic when its values make none.

        A value fills its segment and no more: one holding a dot would publish
        beyond the template's pattern (``users.{name}`` with ``"a.admin"``).
        """
        topic = validate_topic(self.template.format_map(_Attributes(instance)))
        if topic.count(".") != self.pattern.count("."):
            raise NoSuchTopic(data={"reason": f"a value of {', '.join(self.fields)} holds a dot", "topic": topic})
        return topic

    def __repr__(self) -> str:
        return f"TopicTemplate({self.template!r})"


class _Attributes(Mapping[str, object]):
    """An instance's attributes as format fields; ``pk`` is its primary key."""

    __slots__ = ("_instance",)

    def __init__(self, instance: object) -> None:
        self._instance = instance

    def __getitem__(self, name: str) -> object:
        try:
            return getattr(self._instance, name)
        except AttributeError:
            raise KeyError(name) from None

    def __iter__(self) -> Iterator[str]:
        return iter(())

    def __len__(self) -> int:
        return 0

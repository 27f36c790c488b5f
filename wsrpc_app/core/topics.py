"""Topic names and AMQP-style patterns, with no I/O.

A topic is dot-separated segments of ASCII letters, digits, ``-`` and ``_``
(``sensors.kitchen.temp``), at most 200 characters. A pattern may also use
``*`` for exactly one segment and ``#`` for zero or more (``sensors.*.temp``,
``chat.#``).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable

from .errors import InvalidTopic

__all__ = [
    "MAX_LENGTH",
    "TOPIC_REGEX",
    "PATTERN_REGEX",
    "validate_topic",
    "validate_pattern",
    "is_pattern",
    "matches",
    "covers",
    "overlaps",
    "most_specific",
]

MAX_LENGTH = 200
_SEGMENT = re.compile(r"[A-Za-z0-9_-]+\Z")
#: The same rules as regular expressions of JSON Schema (ECMA 262), for documents describing them.
TOPIC_REGEX = r"^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$"
PATTERN_REGEX = r"^([A-Za-z0-9_-]+|\*|#)(\.([A-Za-z0-9_-]+|\*|#))*$"
_WILDCARDS = ("*", "#")


def is_pattern(name: str) -> bool:
    return "*" in name or "#" in name


def _check(name: object, *, wildcards: bool) -> str:
    if not isinstance(name, str):
        raise InvalidTopic(data={"reason": "a topic is a string"})
    if not name:
        raise InvalidTopic(data={"reason": "a topic cannot be empty"})
    if len(name) > MAX_LENGTH:
        raise InvalidTopic(data={"reason": f"a topic has at most {MAX_LENGTH} characters", "topic": name[:40]})
    for segment in name.split("."):
        if _SEGMENT.match(segment) or (wildcards and segment in _WILDCARDS):
            continue
        if not segment:
            reason = "empty segment (two dots in a row, or a dot at an end)"
        elif not wildcards and segment in _WILDCARDS:
            reason = f"wildcard {segment!r} is not allowed here: publish to a concrete topic"
        else:
            reason = f"segment {segment!r} may hold only letters, digits, '-' and '_'" + (
                ", or be exactly '*' or '#'" if wildcards else ""
            )
        raise InvalidTopic(data={"reason": reason, "topic": name})
    return name


def validate_topic(name: object) -> str:
    """The concrete topic ``name``; raises :class:`InvalidTopic` (-32004) saying what is wrong."""
    return _check(name, wildcards=False)


def validate_pattern(name: object) -> str:
    """A topic or a pattern; raises :class:`InvalidTopic` saying what is wrong."""
    return _check(name, wildcards=True)


def matches(pattern: str, topic: str) -> bool:
    """Whether the concrete ``topic`` is one the ``pattern`` (or exact name) stands for."""
    if pattern == topic:
        return True
    return is_pattern(pattern) and _covers(tuple(pattern.split(".")), tuple(topic.split(".")))


def covers(rule: str, name: str) -> bool:
    """Whether every topic ``name`` (a topic or a pattern) can match is matched by ``rule``.

    A grant on ``rule`` then extends to a subscription to ``name``. Where a
    pattern's ``#`` could stand for no segment at all, coverage is decided as
    if it could, which may refuse a rare pattern, never admit one wrongly.
    """
    return rule == name or _covers(tuple(rule.split(".")), tuple(name.split(".")))


@functools.lru_cache(maxsize=8192)
def _covers(rule: tuple[str, ...], name: tuple[str, ...]) -> bool:
    if not rule:
        return not name
    head = rule[0]
    if head == "#":
        # '#' matches nothing, or swallows the name's first segment and stays.
        return _covers(rule[1:], name) or (bool(name) and _covers(rule, name[1:]))
    if not name or name[0] == "#":
        # A single segment cannot stand for the any-length '#'.
        return False
    if head == "*":
        return _covers(rule[1:], name[1:])
    return head == name[0] and _covers(rule[1:], name[1:])


def overlaps(a: str, b: str) -> bool:
    """Whether some concrete topic matches both ``a`` and ``b`` (topics or patterns)."""
    return a == b or _overlaps(tuple(a.split(".")), tuple(b.split(".")))


@functools.lru_cache(maxsize=8192)
def _overlaps(a: tuple[str, ...], b: tuple[str, ...]) -> bool:
    if not a or not b:
        return all(segment == "#" for segment in a or b)
    if a[0] == "#":
        return _overlaps(a[1:], b) or _overlaps(a, b[1:])
    if b[0] == "#":
        return _overlaps(a, b[1:]) or _overlaps(a[1:], b)
    if a[0] == "*" or b[0] == "*" or a[0] == b[0]:
        return _overlaps(a[1:], b[1:])
    return False


def most_specific(names: Iterable[str]) -> str | None:
    """The most specific of ``names`` (rows that all cover one topic): the one whose settings apply.

    An exact name comes first; then the pattern with the most literal
    segments, then the fewest ``#``, then the fewest ``*``; a remaining tie
    goes to the name that sorts first.
    """
    return min(names, key=_generality, default=None)


def _generality(name: str) -> tuple[int, int, int, int, str]:
    segments = name.split(".")
    hashes = segments.count("#")
    stars = segments.count("*")
    return (int(is_pattern(name)), -(len(segments) - hashes - stars), hashes, stars, name)

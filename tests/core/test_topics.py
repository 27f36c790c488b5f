"""Topic names and AMQP patterns: validation, ``matches``, ``covers``, ``overlaps`` (no I/O)."""

from __future__ import annotations

import pytest

from wsrpc_app.core.topics import MAX_LENGTH, covers, is_pattern, matches, overlaps, validate_pattern, validate_topic
from wsrpc_app.errors import ErrorCode, NoSuchTopic

SEGMENT_REASON = "may hold only letters, digits, '-' and '_'"


def reason_of(function: object, name: object) -> str:
    with pytest.raises(NoSuchTopic) as caught:
        function(name)  # type: ignore[operator]
    assert caught.value.code == ErrorCode.NO_SUCH_TOPIC == -32004
    reason = caught.value.data["reason"]
    assert isinstance(reason, str)
    return reason


# Validation ---------------------------------------------------------------------


@pytest.mark.parametrize("name", ["news", "chat.lobby", "sensors.kitchen.temp", "a-b_c.D9", "x" * MAX_LENGTH, "_.-.0"])
def test_valid_topics(name: str) -> None:
    assert validate_topic(name) == name
    assert validate_pattern(name) == name


@pytest.mark.parametrize("name", ["chat.*", "chat.#", "#", "*", "*.error", "sensors.*.temp", "a.#.b", "#.#"])
def test_valid_patterns(name: str) -> None:
    assert validate_pattern(name) == name
    assert is_pattern(name)


@pytest.mark.parametrize("function", [validate_topic, validate_pattern])
@pytest.mark.parametrize(
    ("name", "reason"),
    [
        (None, "a topic is a string"),
        (42, "a topic is a string"),
        (["chat"], "a topic is a string"),
        ("", "a topic cannot be empty"),
        ("x" * (MAX_LENGTH + 1), f"a topic has at most {MAX_LENGTH} characters"),
        ("chat..lobby", "empty segment (two dots in a row, or a dot at an end)"),
        (".chat", "empty segment (two dots in a row, or a dot at an end)"),
        ("chat.", "empty segment (two dots in a row, or a dot at an end)"),
        (".", "empty segment (two dots in a row, or a dot at an end)"),
    ],
)
def test_invalid_names_say_why(function: object, name: object, reason: str) -> None:
    assert reason_of(function, name) == reason


@pytest.mark.parametrize("function", [validate_topic, validate_pattern])
@pytest.mark.parametrize("name", ["chat.lob by", "chat/lobby", "café", "chat.lobby\n", "chat.lo*", "chat.#x", "a.**"])
def test_segment_with_other_characters_is_refused(function: object, name: str) -> None:
    assert SEGMENT_REASON in reason_of(function, name)


def test_the_pattern_reason_mentions_the_wildcards() -> None:
    assert reason_of(validate_pattern, "chat.lo*") == (
        "segment 'lo*' may hold only letters, digits, '-' and '_', or be exactly '*' or '#'"
    )
    assert reason_of(validate_topic, "chat.lo*") == "segment 'lo*' may hold only letters, digits, '-' and '_'"


@pytest.mark.parametrize(("name", "wildcard"), [("chat.*", "*"), ("chat.#", "#"), ("#", "#"), ("*.error", "*")])
def test_a_concrete_topic_has_no_wildcard(name: str, wildcard: str) -> None:
    assert reason_of(validate_topic, name) == f"wildcard {wildcard!r} is not allowed here: publish to a concrete topic"


def test_the_error_names_the_topic() -> None:
    with pytest.raises(NoSuchTopic) as caught:
        validate_topic("chat..lobby")
    assert caught.value.data["topic"] == "chat..lobby"
    assert caught.value.to_object()["code"] == -32004


def test_the_length_limit_counts_characters_of_the_whole_name() -> None:
    segments = ".".join(["abcd"] * 40)  # 199 characters
    assert len(segments) == 199
    assert validate_topic(segments + "x") == segments + "x"
    assert "at most 200" in reason_of(validate_topic, segments + "xy")
    assert "at most 200" in reason_of(validate_pattern, "#." + "a" * 199)


# matches ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("pattern", "topic", "expected"),
    [
        ("chat.lobby", "chat.lobby", True),
        ("chat.lobby", "chat.lobby2", False),
        ("chat", "chat.lobby", False),
        ("chat.lobby", "chat", False),
        # '#' stands for zero or more segments.
        ("chat.#", "chat", True),
        ("chat.#", "chat.lobby", True),
        ("chat.#", "chat.room.7", True),
        ("chat.#", "chatter", False),
        ("chat.#", "news.chat", False),
        ("#", "a", True),
        ("#", "a.b.c", True),
        ("#.error", "error", True),
        ("#.error", "db.pool.error", True),
        ("#.error", "db.error.details", False),
        ("a.#.b", "a.b", True),
        ("a.#.b", "a.x.y.b", True),
        ("a.#.b", "a.x.c", False),
        # '*' stands for exactly one segment.
        ("chat.*", "chat", False),
        ("chat.*", "chat.lobby", True),
        ("chat.*", "chat.room.7", False),
        ("*", "a", True),
        ("*", "a.b", False),
        ("*.error", "db.error", True),
        ("*.error", "error", False),
        ("*.error", "a.db.error", False),
        ("sensors.*.temp", "sensors.kitchen.temp", True),
        ("sensors.*.temp", "sensors.temp", False),
        ("sensors.*.temp", "sensors.kitchen.hall.temp", False),
        ("a.*.#", "a", False),
        ("a.*.#", "a.b", True),
        ("a.*.#", "a.b.c.d", True),
        ("*.*", "a.b", True),
        ("*.*", "a", False),
    ],
)
def test_matches(pattern: str, topic: str, expected: bool) -> None:
    assert matches(pattern, topic) is expected


def test_an_exact_name_does_not_match_a_pattern_as_its_topic() -> None:
    assert matches("chat.lobby", "chat.#") is False


# covers -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("rule", "name", "expected"),
    [
        ("chat.lobby", "chat.lobby", True),
        ("chat.#", "chat.lobby", True),
        ("chat.#", "chat.x.y", True),
        ("chat.#", "chat", True),
        ("chat.#", "chat.*", True),
        ("chat.#", "chat.#", True),
        ("chat.#", "chat.a.#", True),
        ("chat.#", "chat.*.x", True),
        ("chat.#", "news", False),
        ("chat.#", "*.lobby", False),
        ("chat.#", "#", False),
        ("chat.*", "chat.lobby", True),
        ("chat.*", "chat.*", True),
        ("chat.*", "chat.#", False),  # chat.# also matches chat and chat.a.b
        ("chat.*", "chat.a.b", False),
        ("chat.lobby", "chat.*", False),
        ("chat.lobby", "chat.#", False),
        ("#", "anything.#", True),
        ("#", "*", True),
        ("#", "#", True),
        ("*", "#", False),
        ("*", "*", True),
        ("*.temp", "sensors.*.temp", False),
        ("*.*.temp", "sensors.*.temp", True),
        ("sensors.#", "*.temp", False),
        ("a.*.#", "a.#", False),  # a.# matches a, which a.*.# does not
        ("a.#", "a.*.#", True),
        ("#.error", "db.#.error", True),
        ("#.error", "*.error", True),
        ("*.error", "#.error", False),
    ],
)
def test_covers(rule: str, name: str, expected: bool) -> None:
    assert covers(rule, name) is expected


def test_covers_agrees_with_matches_on_concrete_names() -> None:
    rules = ["chat.#", "chat.*", "#", "*.b", "a.#.b", "a.*.#", "a.b"]
    topics = ["a", "a.b", "a.x.b", "chat", "chat.lobby", "chat.a.b", "b"]
    for rule in rules:
        for topic in topics:
            assert covers(rule, topic) is matches(rule, topic), (rule, topic)


# overlaps -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        ("chat.lobby", "chat.lobby", True),
        ("chat.lobby", "chat.other", False),
        ("chat.*", "chat.#", True),
        ("chat.*", "chat.lobby", True),
        ("chat.*", "news.#", False),
        ("chat.*", "chat", False),
        ("chat.#", "chat", True),  # '#' may stand for nothing
        ("#", "anything.at.all", True),
        ("#", "*", True),
        ("*.b", "a.*", True),  # a.b
        ("a.*", "a", False),
        ("*", "a.b", False),
        ("a.#.c", "a.c", True),
        ("#.c", "a.#", True),  # a.c
        ("*.*", "#.x.y.z", False),  # two segments against at least three
        ("*.*.*", "#.x.y", True),
        ("a.#", "b.#", False),
        ("#.a", "#.b", False),
    ],
)
def test_overlaps_is_symmetric(a: str, b: str, expected: bool) -> None:
    assert overlaps(a, b) is expected
    assert overlaps(b, a) is expected

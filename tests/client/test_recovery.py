"""What a client remembers of a subscription (wsrpc_app.client.recovery): positions, order, exactly once, gaps.

No server and no loop: frames in, what the application gets out.
"""

from __future__ import annotations

from typing import Any

import pytest

from wsrpc_app.client.recovery import Gap, Position, Subscription


def event(offset: int, epoch: str = "e1", topic: str = "room.1", **extra: Any) -> dict[str, Any]:
    return {"topic": topic, "data": offset, "offset": offset, "epoch": epoch, **extra}


def offsets(outcomes: list[Any]) -> list[Any]:
    """Events as their offsets, gaps as themselves."""
    return [o if isinstance(o, Gap) else o["offset"] for o in outcomes]


def subscribed_at(offset: int, epoch: str = "e1", topic: str = "room.1") -> Subscription[Any]:
    sub: Subscription[Any] = Subscription(topic)
    sub.subscribed({"topic": topic, "subscribed": True, "offset": offset, "epoch": epoch}, since=False)
    return sub


# Position ------------------------------------------------------------------------------


def test_a_position_is_read_from_events_results_and_gaps() -> None:
    assert Position.of(event(3)) == Position("e1", 3)
    assert Position.of({"topic": "t", "subscribed": True}) is None
    assert Position.of({"offset": True, "epoch": "e"}) is None  # a bool is not an offset
    assert Position.of({"offset": 1, "epoch": 2}) is None
    assert Position.of(None) is None


def test_a_position_given_by_the_application_is_checked() -> None:
    assert Position.parse({"epoch": "e", "offset": 4}) == Position("e", 4)
    assert Position.parse(Position("e", 4)).to_json() == {"offset": 4, "epoch": "e"}
    with pytest.raises(ValueError, match="a position is"):
        Position.parse({"offset": 4})


# Subscribing -------------------------------------------------------------------------


def test_a_first_subscription_asks_plainly_or_with_rewind() -> None:
    sub: Subscription[Any] = Subscription("room.1")
    assert sub.subscribe_params() == {"topic": "room.1"}
    assert sub.subscribe_params(rewind=1) == {"topic": "room.1", "rewind": 1}


def test_a_renewal_asks_since_the_position() -> None:
    sub = subscribed_at(7)
    assert sub.subscribe_params(rewind=1) == {"topic": "room.1", "since": {"offset": 7, "epoch": "e1"}}


def test_a_pattern_has_no_position_and_is_renewed_plainly() -> None:
    sub: Subscription[Any] = Subscription("room.*", since=Position("e1", 3))
    sub.subscribed({"topic": "room.*", "subscribed": True}, since=False)
    assert sub.event(event(4, subscription="room.*")) == [event(4, subscription="room.*")]
    assert sub.position is None
    assert sub.subscribe_params() == {"topic": "room.*"}


def test_a_topic_without_history_has_no_position() -> None:
    sub: Subscription[Any] = Subscription("plain")
    sub.subscribed({"topic": "plain", "subscribed": True}, since=False)
    assert sub.event({"topic": "plain", "data": 1}) == [{"topic": "plain", "data": 1}]
    assert sub.position is None and sub.subscribe_params() == {"topic": "plain"}


def test_rewound_events_come_first_and_the_position_is_the_topics() -> None:
    sub: Subscription[Any] = Subscription("room.1")
    result = {"topic": "room.1", "offset": 9, "epoch": "e1", "recovered": True, "publications": [event(9)]}
    assert offsets(sub.subscribed(result, since=False)) == [9]
    assert sub.position == Position("e1", 9)


# Recovery ------------------------------------------------------------------------------


def test_recovered_events_go_before_live_ones_held_meanwhile() -> None:
    sub = subscribed_at(3)
    sub.hold()
    assert sub.event(event(6)) == []  # live, arrived before the reply was handled
    result = {"offset": 5, "epoch": "e1", "recovered": True, "publications": [event(4), event(5)]}
    out = sub.subscribed(result, since=True) + sub.release()
    assert offsets(out) == [4, 5, 6]
    assert sub.position == Position("e1", 6)


def test_a_live_event_already_recovered_is_dropped() -> None:
    sub = subscribed_at(3)
    sub.hold()
    sub.event(event(5))
    sub.event(event(6))
    result = {"offset": 5, "epoch": "e1", "recovered": True, "publications": [event(4), event(5)]}
    assert offsets(sub.subscribed(result, since=True) + sub.release()) == [4, 5, 6]


def test_an_unrecovered_renewal_is_a_gap_and_moves_to_the_servers_position() -> None:
    sub = subscribed_at(3)
    sub.hold()
    sub.event(event(1, epoch="e2"))
    out = sub.subscribed({"offset": 0, "epoch": "e2", "recovered": False, "publications": []}, since=True)
    out += sub.release()
    assert out == [Gap("room.1", "not_recovered", Position("e2", 0)), event(1, epoch="e2")]
    assert sub.position == Position("e2", 1)


def test_a_renewal_answered_without_recovery_at_all_is_a_gap() -> None:
    sub = subscribed_at(3)  # e.g. the topic lost its history setting meanwhile
    out = sub.subscribed({"topic": "room.1", "subscribed": True, "recovered": False, "publications": []}, since=True)
    assert out == [Gap("room.1", "not_recovered", None)]
    assert sub.position is None and sub.subscribe_params() == {"topic": "room.1"}


def test_holds_nest() -> None:
    sub = subscribed_at(3)
    sub.hold()
    sub.hold()
    sub.event(event(4))
    assert sub.release() == []
    assert offsets(sub.release()) == [4]
    assert sub.release() == []  # one release too many changes nothing


# Exactly once, in order -----------------------------------------------------------------


def test_an_event_not_past_the_position_is_dropped() -> None:
    sub = subscribed_at(3)
    assert offsets(sub.event(event(4))) == [4]
    assert sub.event(event(4)) == []
    assert sub.event(event(2)) == []
    assert offsets(sub.event(event(5))) == [5]


def test_a_skipped_offset_is_reported_before_the_event() -> None:
    sub = subscribed_at(3)
    out = sub.event(event(7))
    assert out == [Gap("room.1", "gap", Position("e1", 6), (4, 6)), event(7)]


def test_a_new_epoch_without_a_gap_notice_is_reported() -> None:
    sub = subscribed_at(3)
    out = sub.event(event(1, epoch="e2"))
    assert out == [Gap("room.1", "gap", Position("e2", 0)), event(1, epoch="e2")]
    assert sub.position == Position("e2", 1)


def test_events_through_a_pattern_are_not_deduplicated() -> None:
    sub: Subscription[Any] = Subscription("room.#")
    sub.subscribed({"topic": "room.#", "subscribed": True}, since=False)
    through = event(1, subscription="room.#")
    assert sub.event(through) == [through]
    assert sub.event(through) == [through]


# rpc.gap -------------------------------------------------------------------------------------


def test_a_gap_notice_moves_the_position() -> None:
    sub = subscribed_at(3)
    out = sub.gap({"topic": "room.1", "epoch": "e1", "offset": 9, "missed": [4, 9]})
    assert out == [Gap("room.1", "gap", Position("e1", 9), (4, 9))]
    assert offsets(sub.event(event(10))) == [10]


def test_a_gap_notice_after_an_epoch_change_has_no_range() -> None:
    sub = subscribed_at(3)
    out = sub.gap({"topic": "room.1", "epoch": "e2", "offset": 0})
    assert out == [Gap("room.1", "gap", Position("e2", 0), None)]
    assert offsets(sub.event(event(1, epoch="e2"))) == [1]


def test_a_gap_notice_the_subscription_is_already_past_is_dropped() -> None:
    sub = subscribed_at(8)
    assert sub.gap({"topic": "room.1", "epoch": "e1", "offset": 6, "missed": [4, 6]}) == []
    assert sub.position == Position("e1", 8)


def test_a_gap_notice_keeps_its_place_among_held_events() -> None:
    sub = subscribed_at(3)
    sub.hold()
    sub.event(event(4))
    sub.gap({"topic": "room.1", "epoch": "e1", "offset": 8, "missed": [5, 8]})
    sub.event(event(9))
    assert offsets(sub.release()) == [4, Gap("room.1", "gap", Position("e1", 8), (5, 8)), 9]


def test_a_gap_through_a_pattern_names_the_pattern() -> None:
    sub: Subscription[Any] = Subscription("room.*")
    out = sub.gap({"topic": "room.1", "epoch": "e2", "offset": 0, "subscription": "room.*"})
    assert out == [Gap("room.1", "gap", Position("e2", 0), None, "room.*")]
    assert sub.position is None


# A callback added with rewind ----------------------------------------------------------------


def test_rewound_history_keeps_only_what_was_already_handed_on() -> None:
    sub = subscribed_at(5)
    history = {"offset": 6, "epoch": "e1", "publications": [event(4), event(5), event(6)], "recovered": True}
    assert offsets(sub.rewound(history)) == [4, 5]  # 6 is on its way to every callback
    assert sub.rewound({"publications": [event(5, epoch="e0")]}) == []
    assert Subscription[Any]("room.2").rewound(history) == []

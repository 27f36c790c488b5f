"""Putting a topic's events back in offset order, once each: the sequence, without I/O or an event loop."""

from __future__ import annotations

from wsrpc_app.pubsub.sequence import Gap, Sequence


def started(epoch: str = "e", offset: int = 0) -> Sequence[str]:
    """A sequence a subscriber started at a known position."""
    sequence: Sequence[str] = Sequence()
    assert sequence.start(epoch, offset) == []
    return sequence


def test_events_in_order_pass_straight_through() -> None:
    sequence = started()
    assert sequence.offer("e", 1, "a") == ["a"]
    assert sequence.offer("e", 2, "b") == ["b"]
    assert sequence.hole is None


def test_a_sequence_started_by_an_event_settles_then_releases_from_the_lowest() -> None:
    sequence: Sequence[str] = Sequence()
    assert sequence.offer("e", 42, "b") == [] and sequence.settling
    assert sequence.offer("e", 41, "a") == [], "an event in flight with it, overtaken"
    assert sequence.offer("e", 44, "d") == []
    assert sequence.settle() == ["a", "b"]
    assert sequence.hole == (43, 43)
    assert sequence.offer("e", 43, "c") == ["c", "d"]
    assert sequence.offer("e", 40, "before") == [], "once settled, what came before is dropped"


def test_an_early_event_waits_for_the_one_before_it() -> None:
    sequence = started()
    sequence.offer("e", 1, "a")
    assert sequence.offer("e", 3, "c") == []
    assert sequence.hole == (2, 2)
    assert sequence.offer("e", 2, "b") == ["b", "c"]
    assert sequence.hole is None


def test_repeats_and_events_already_released_are_dropped() -> None:
    sequence = started()
    sequence.offer("e", 1, "a")
    sequence.offer("e", 3, "c")
    assert sequence.offer("e", 1, "a again") == []
    assert sequence.offer("e", 3, "c again") == []
    assert sequence.offer("e", 2, "b") == ["b", "c"]


def test_a_hole_filled_from_the_store_releases_in_order() -> None:
    sequence = started()
    sequence.offer("e", 1, "a")
    sequence.offer("e", 4, "d")
    assert sequence.hole == (2, 3)
    assert sequence.fill([(2, "b"), (3, "c")], through=3) == ["b", "c", "d"]


def test_what_the_store_no_longer_has_is_a_gap_before_the_events_that_follow() -> None:
    sequence = started()
    sequence.offer("e", 1, "a")
    sequence.offer("e", 5, "e")
    assert sequence.fill([(3, "c")], through=4) == [Gap("e", 2, (2, 2)), "c", Gap("e", 4, (4, 4)), "e"]
    assert sequence.last == 5


def test_filling_one_hole_leaves_a_later_one_waiting() -> None:
    sequence = started()
    sequence.offer("e", 1, "a")
    sequence.offer("e", 3, "c")
    sequence.offer("e", 5, "e")
    assert sequence.fill([(2, "b")], through=2) == ["b", "c"]
    assert sequence.hole == (4, 4)


def test_a_new_epoch_is_a_gap_then_starts_over() -> None:
    sequence = started("old", 6)
    sequence.offer("old", 7, "a")
    assert sequence.offer("new", 1, "b") == [Gap("new", 0, None), "b"]
    assert sequence.offer("old", 8, "late") == [], "an event of an epoch left behind is dropped"
    assert sequence.offer("new", 2, "c") == ["c"]


def test_a_new_epoch_starting_past_one_waits_for_its_first_events() -> None:
    sequence = started("old", 6)
    sequence.offer("old", 7, "a")
    assert sequence.offer("new", 3, "c") == [Gap("new", 0, None)]
    assert sequence.hole == (1, 2)


def test_a_subscriber_reading_the_store_starts_the_sequence_or_reveals_a_new_epoch() -> None:
    sequence: Sequence[str] = Sequence()
    assert sequence.start("e", 10) == []
    assert sequence.offer("e", 10, "in flight, already counted") == []
    assert sequence.offer("e", 11, "k") == ["k"]
    assert sequence.start("e", 13) == [], "events up to 13 exist: they are on their way"
    assert sequence.hole == (12, 13)
    assert sequence.start("other", 2) == [Gap("other", 2, None)]
    assert sequence.hole is None and sequence.last == 2


def test_skipping_with_nothing_missing_releases_nothing() -> None:
    sequence = started()
    sequence.offer("e", 1, "a")
    assert sequence.skip(1) == []

"""How one transaction's changes fold to one publish per row, with no database."""

from __future__ import annotations

import pytest

from tests.observed.observers import articles
from wsrpc_app.observers.changes import Change, fold


def changes(*steps: tuple[str, int]) -> list[Change]:
    return [Change(articles, action, pk) for action, pk in steps]  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("actions", "folded"),
    [
        (["created", "updated", "updated"], "created"),
        (["updated", "updated"], "updated"),
        (["updated", "deleted"], "deleted"),
        (["created", "deleted"], None),
        (["created", "updated", "deleted"], None),
        (["deleted", "created"], "updated"),
        (["deleted"], "deleted"),
    ],
)
def test_one_rows_actions_fold_to_one(actions: list[str], folded: str | None) -> None:
    result = fold(changes(*[(action, 1) for action in actions]))
    assert [action for action, _change, _before in result] == ([folded] if folded else [])


def test_the_last_change_of_a_row_is_kept() -> None:
    steps = changes(("created", 1), ("updated", 1))
    [(action, change, before)] = fold(steps)
    assert (action, change, before) == ("created", steps[-1], None)


def test_rows_come_in_the_order_each_last_changed() -> None:
    result = fold(changes(("updated", 1), ("updated", 2), ("updated", 1), ("created", 3)))
    assert [change.pk for _action, change, _before in result] == [2, 1, 3]


def test_a_row_keeps_the_topics_it_had_before_its_first_change() -> None:
    first = Change(articles, "updated", 1, before=["editors.1.articles"])
    second = Change(articles, "updated", 1, before=["editors.2.articles"])
    assert fold([first, second]) == [("updated", second, ["editors.1.articles"])]

"""The one tally behind rejection sampling's and CoTACS's majority votes."""

from __future__ import annotations

from grading.votes import most_given, tally


def same_number(answer: str, other: str) -> bool:
    return float(answer) == float(other)


def test_answers_group_under_the_equivalence_first_given_stands_for_each() -> None:
    counts = tally(["2.0", "3", "2", "3.00", "2"], same_number)
    assert counts == [("2.0", 3), ("3", 2)]
    assert most_given(counts) == (["2.0"], 3)


def test_a_tie_returns_every_leader_in_first_given_order_and_no_answers_none() -> None:
    assert most_given(tally(["b", "a", "a", "b", "c"], str.__eq__)) == (["b", "a"], 2)
    assert most_given(tally([], str.__eq__)) == ([], 0)


def test_unhashable_answers_count_by_the_given_equivalence() -> None:
    counts = tally([[1, 2], [1, 2], [2, 1]], lambda a, b: repr(a) == repr(b))
    assert counts == [([1, 2], 2), ([2, 1], 1)]

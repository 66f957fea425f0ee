"""Counting answers under an equivalence: the one tally behind every majority vote here.

Rejection sampling groups answers the way grading compares them (the answer matcher); CoTACS
groups emulated values by their Python literal. Both ask the same question: which answers are
the same, and how many times was each given."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TypeVar

Answer = TypeVar("Answer")


def tally(
    answers: Iterable[Answer], same: Callable[[Answer, Answer], bool]
) -> list[tuple[Answer, int]]:
    """Each distinct answer (the first of its group stands for it) with how often it was given,
    in the order first given; ``same`` decides which answers are one."""
    groups: list[list[Answer]] = []
    for answer in answers:
        group = next((g for g in groups if same(answer, g[0])), None)
        if group is None:
            groups.append([answer])
        else:
            group.append(answer)
    return [(group[0], len(group)) for group in groups]


def most_given(counts: list[tuple[Answer, int]]) -> tuple[list[Answer], int]:
    """The answers given most often (several on a tie, none without answers) and their count."""
    top = max((count for _, count in counts), default=0)
    return [answer for answer, count in counts if count == top and top > 0], top

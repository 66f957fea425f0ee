"""The one number rule (``datamodules.numbers``): a number standing alone in text, and when two
numbers are the same, as grading and the GSM8K converter both decide it."""

from __future__ import annotations

import math
from fractions import Fraction

import pytest

from datamodules.numbers import STANDALONE, close
from grading.answers import AnswerMatcher


def test_a_standalone_number_is_not_part_of_a_word_a_version_or_an_exponent() -> None:
    text = "x16 apples cost $30. in v2.0, 1e5 or 3.5 each; 1,080 in all"
    assert STANDALONE.findall(text) == ["30", "3.5", "1,080"]


@pytest.mark.parametrize(
    ("a", "b", "same"),
    [
        (100.0, 100.009, True),  # within 1e-4 of the larger
        (100.0, 100.02, False),
        (0.0, 1e-9, False),  # relative to the larger: no absolute floor near zero
        (math.inf, math.inf, True),
        (math.inf, 5.0, False),  # an infinite difference is never close
        (math.nan, math.nan, False),
    ],
)
def test_close_is_relative_to_the_larger(a: float, b: float, same: bool) -> None:
    assert close(a, b, 1e-4) is same


def test_close_is_exact_for_fractions() -> None:
    third = Fraction(1, 3)
    assert close(third, third + Fraction(1, 10**7), 1e-6)
    assert not close(third, third + Fraction(1, 10**6), 1e-6)


@pytest.mark.parametrize(("pred", "gold"), [("2.00015", "2"), ("2.0003", "2"), ("0.5", "0.50004")])
def test_the_matcher_compares_numbers_by_the_same_rule(pred: str, gold: str) -> None:
    expected = close(float(pred), float(gold), 1e-4)
    assert AnswerMatcher(rel_tol=1e-4)(pred, gold).correct is expected

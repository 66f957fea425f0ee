"""Answer matching rules: one or more hand-written cases per rule, right and wrong."""

from __future__ import annotations

import pickle

import pytest

from grading.answers import AnswerMatcher, MatchResult

EQUAL = [
    # numbers: commas, currency, units, trailing .0, signs, scientific notation
    ("$1,234", "1234"),
    ("1234.0", "1234"),
    ("\\$18.90", "18.9"),
    ("€5", "5"),
    ("18 dollars", "18"),
    ("65.0{/h}", "65"),
    ("9", "9 (apples)"),
    ("5 m/s", "5"),
    ("−5", "-5"),
    ("1e3", "1000"),
    ("10{,}000", "10000"),
    ("30^\\circ", "30"),
    # relative tolerance 1e-4 (SimulEq golds are rounded)
    ("0.666666", "0.6667"),
    ("2.285714", "2.2857"),
    # percent written on one side
    ("25%", "0.25"),
    ("25\\%", "25"),
    # fractions
    ("\\frac{1}{2}", "0.5"),
    ("-\\dfrac{3}{4}", "-0.75"),
    ("3/4", "0.75"),
    # presentation: \boxed, \text, bold, math delimiters
    ("\\boxed{1234}", "1234"),
    ("\\text{13}", "13"),
    ("**18**", "18"),
    ("$\\frac{1}{2}$", "\\frac12"),
    # tuples, sets, intervals element-wise
    ("(1,2)", "(1, 2)"),
    ("\\{2, 1\\}", "\\{1,2\\}"),
    ("[1, 2]", "[1,2]"),
    ("3, 4", "(3, 4)"),
    # one variable assigned a number
    ("x=5", "5"),
    ("n_1 = 5", "5.0"),
    # symbolic (math_verify in the helper)
    ("y = 2x + 1", "2x+1"),
    ("x - 2 = 0", "x = 2"),
    ("y = x", "x = y"),
    ("(x+1)^2", "x^2+2x+1"),
    ("\\frac{1}{\\sqrt{2}}", "\\frac{\\sqrt{2}}{2}"),
    ("x \\in (1,2]", "(1,2]"),
    ("\\{1, x\\}", "\\{x, 1\\}"),
    ("sqrt(2)/2", "\\frac{\\sqrt{2}}{2}"),
    ("x**2 + 2*x + 1", "(x+1)^2"),
    # plain words
    ("(B)", "B"),
    ("yes", "Yes"),
    ("3:30 pm", "3:30 p.m."),
    ("\\text{Evelyn}", "Evelyn"),
]

DIFFERENT = [
    ("1235", "1234"),
    ("0.25", "25"),
    ("0.67", "0.6667"),
    ("18", "-18"),
    ("1,2", "12"),
    ("(2, 1)", "(1, 2)"),
    ("(1, 2)", "(1, 2, 3)"),
    ("(1,2]", "(1,2)"),
    ("5 x", "5"),
    ("5(2)", "5"),
    ("x = 137, y = 388", "137"),
    ("x^2", "x^3"),
    ("0 = 0", "x = 2"),  # both sides simplify to 0: not an answer
    ("x - x = 0", "5"),
    ("A", "B"),
    ("Mrs. Hilt", "Sara"),
    ("4:5", "5:4"),
]


@pytest.mark.parametrize(("prediction", "gold"), EQUAL)
def test_equal_answers_match(matcher: AnswerMatcher, prediction: str, gold: str) -> None:
    result = matcher(prediction, gold)
    assert result.correct, result
    assert not result.timed_out


@pytest.mark.parametrize(("prediction", "gold"), DIFFERENT)
def test_different_answers_do_not_match(matcher: AnswerMatcher, prediction: str, gold: str) -> None:
    result = matcher(prediction, gold)
    assert not result.correct, result
    assert not result.timed_out


@pytest.mark.parametrize(
    ("prediction", "gold", "reason"),
    [
        ("1,234", "1234", "numeric match"),
        ("(1, 2)", "(1,2)", "elementwise match"),
        ("(B)", "B", "string match"),
        ("Sara", "John", "string mismatch"),
        ("x = 5", "5", "numeric match"),
        ("(x+1)^2", "x^2+2x+1", "symbolic match"),
        (None, "5", "no prediction"),
        ("  ", "5", "no prediction"),
        ("5", "", "no gold answer"),
        ("5" * 20_000, "5", "answer too long"),
    ],
)
def test_reason_names_the_deciding_rule(
    matcher: AnswerMatcher, prediction: str | None, gold: str, reason: str
) -> None:
    assert matcher(prediction, gold).reason == reason


def test_percent_leniency_accepts_gold_times_or_over_100() -> None:
    strict, lenient = AnswerMatcher(), AnswerMatcher(percent_leniency=True)
    assert not strict("25", "0.25").correct
    assert lenient("25", "0.25").correct
    assert lenient("0.0025", "0.25").correct
    assert not lenient("2.5", "0.25").correct


def test_relative_tolerance_is_configurable() -> None:
    assert AnswerMatcher(rel_tol=1e-2)("101.0", "100").correct
    assert not AnswerMatcher(rel_tol=1e-3)("101.0", "100").correct
    assert not AnswerMatcher(rel_tol=0.0)("100.0001", "100").correct
    assert AnswerMatcher(rel_tol=0.0)("100.0", "100").correct


def test_whole_numbers_are_compared_exactly(matcher: AnswerMatcher) -> None:
    assert not matcher("70001", "70000").correct  # within 1e-4, but an off-by-one answer
    assert not matcher("$70,001", "70000").correct
    assert matcher("70000.0", "70000").correct
    assert matcher("70000.000001", "70000").correct


def test_match_result_is_frozen() -> None:
    result = MatchResult(correct=True, timed_out=False, reason="numeric match")
    with pytest.raises(AttributeError):
        result.correct = False  # type: ignore[misc]


def test_matcher_is_picklable_and_validates_its_arguments() -> None:
    matcher = pickle.loads(pickle.dumps(AnswerMatcher(rel_tol=1e-3, percent_leniency=True)))
    assert (matcher.rel_tol, matcher.percent_leniency, matcher.timeout_s) == (1e-3, True, 3.0)
    with pytest.raises(ValueError, match="rel_tol"):
        AnswerMatcher(rel_tol=-1)
    with pytest.raises(ValueError, match="timeout_s"):
        AnswerMatcher(timeout_s=0)

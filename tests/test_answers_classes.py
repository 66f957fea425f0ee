"""Free-form answers, class by class: a response's final answer extracted and matched end to end,
on the labelled responses of ``grading.labelled_responses``."""

from __future__ import annotations

import pytest

from grading.answers import AnswerMatcher, extract_text_answer
from grading.labelled_responses import CLASSES

CASES_BY_CLASS = [
    pytest.param(response, gold, correct, id=f"{name}-{index}")
    for name, cases in CLASSES.items()
    for index, (response, gold, correct) in enumerate(cases)
]


@pytest.mark.parametrize(("response", "gold", "correct"), CASES_BY_CLASS)
def test_response_is_graded(
    matcher: AnswerMatcher, response: str, gold: str, correct: bool
) -> None:
    answer = extract_text_answer(response)
    result = matcher(answer, gold)
    assert result.correct == correct, (answer, result)
    assert not result.timed_out


@pytest.mark.parametrize("name", CLASSES)
def test_every_class_has_fifteen_labelled_cases(name: str) -> None:
    assert len(CLASSES[name]) >= 15


@pytest.mark.parametrize(
    ("response", "expected"),
    [
        ("Final Answer: The largest $n$ is 34. I hope it is correct.", "34"),
        ("The final answer is $10,455$.", "$10,455$"),
        ("so the total is 10,\\!455", "10,\\!455"),
        ("Therefore n < 7.", "n < 7"),
        ("Hence $x \\geq 5$", "x \\geq 5"),
        ("Therefore f(x) > 3", None),
        ("Therefore, the answers are $\\boxed{-2}$ and $\\boxed{1}$.", "-2, 1"),
        ("The answer is:\n\\[\n\\begin{pmatrix} 1 \\\\\n2 \\end{pmatrix}\n\\]\nok", None),
    ],
)
def test_extracted_span(response: str, expected: str | None) -> None:
    answer = extract_text_answer(response)
    if expected is None and "pmatrix" in response:  # the whole environment, across lines
        assert answer is not None and answer.endswith("\\]") and "2 \\end{pmatrix}" in answer
    else:
        assert answer == expected

"""Grading CoGEX emulations: answer values, the per-task metrics, and the real-execution
agreement check (in the sandbox) of programs that happen to be fully defined."""

from __future__ import annotations

import pytest

from datamodules.formats.cogex import Emulation, ParseFailure
from grading.agreement import check_agreement, fully_defined
from grading.emulation import EmulationVerdict, answer_value, answers_match
from metrics.emulation import EmulationMetrics
from sandbox import SandboxOptions, SandboxPool

DEFINED = (
    "def f(text):\n    words = text.split()\n    return {'words': words, 'answer': len(words)}"
)
PSEUDO = "def f(text):\n    words = split_words(text)\n    return {'answer': count_items(words)}"


@pytest.mark.parametrize(
    ("predicted", "gold", "correct"),
    [
        (4, "4", True),
        (4.0, "4", True),
        ("4", "4", True),  # a direct answer is text
        (True, "True", True),
        (True, "1", False),  # a flag is never a number
        (1, "True", False),
        (["a", "b"], "['a', 'b']", True),
        (["b", "a"], "['a', 'b']", False),
        ("positive", "positive", True),
        ("Positive.", "positive", True),  # the matcher's plain-word rule
        ("negative", "positive", False),
        (None, "positive", False),
    ],
)
def test_answers_match_by_value(matcher, predicted, gold: str, correct: bool) -> None:
    assert answers_match(predicted, gold, matcher) is correct


def test_answer_values_are_literals_or_text() -> None:
    assert answer_value(" ['a', 1] ") == ["a", 1]
    assert answer_value("eht tac") == "eht tac"
    assert answer_value("__import__('os')") == "__import__('os')"


def test_metrics_per_task_and_overall() -> None:
    good, failure = Emulation("p", "f('a')", {"answer": 1}), ParseFailure("no_call", "")
    metric = EmulationMetrics(["sort", "count"])
    metric.update(
        [
            EmulationVerdict(good, True),
            EmulationVerdict(good, False, agreed=True),
            EmulationVerdict(failure, False),
            EmulationVerdict(good, True, agreed=False),
        ],
        ["sort", "sort", "sort", "count"],
    )
    results = metric.compute()
    assert results["sort"] == pytest.approx(
        {
            "emulation_acc": 1 / 3,
            "parse_failure_rate": 1 / 3,
            "fully_defined_rate": 1 / 3,
            "execution_agreement": 1.0,
            "samples": 3,
        }
    )
    assert results["count"]["execution_agreement"] == 0.0
    assert results["all"]["emulation_acc"] == 0.5 and results["all"]["samples"] == 4
    metric.reset()
    metric.update([EmulationVerdict(good, True)], ["count"])
    assert "execution_agreement" not in metric.compute()["all"]  # nothing ran
    with pytest.raises(ValueError, match="unknown datasets"):
        metric.update([EmulationVerdict(good, True)], ["other"])


def test_fully_defined_means_every_name_read_is_bound_or_builtin() -> None:
    assert fully_defined(DEFINED, "f('a b')")
    assert not fully_defined(PSEUDO, "f('a b')")
    assert not fully_defined(DEFINED, "g('a b')")
    assert not fully_defined("def f(:\n", "f()")
    helpers = "import math\n\ndef g(n):\n    return [math.sqrt(i) for i in range(n)]\n"
    assert fully_defined(helpers + "def f(n):\n    return {'answer': g(n)}", "f(3)")
    guarded = "def f(x):\n    try:\n        return {'answer': 1 / x}\n    except Exception as e:\n"
    assert fully_defined(guarded + "        return {'answer': str(e)}", "f(0)")


@pytest.fixture(scope="module")
def pool():
    with SandboxPool(SandboxOptions(workers=1, wall_time_s=3.0)) as sandbox:
        yield sandbox


def test_fully_defined_programs_run_in_the_sandbox_and_are_compared(pool) -> None:
    faithful = Emulation(DEFINED, "f('a b c')", {"words": ["a", "b", "c"], "answer": 3})
    unfaithful = Emulation(DEFINED, "f('a b c')", {"words": ["a", "b", "c"], "answer": 4})
    crashing = Emulation("def f(text):\n    return 1 / 0", "f('a')", {"answer": 0})
    pseudo = Emulation(PSEUDO, "f('a b')", {"answer": 2})
    readings = [faithful, unfaithful, pseudo, ParseFailure("no_call", ""), crashing]
    assert check_agreement(readings, pool.run_many) == [True, False, None, None, False]


def test_no_sandbox_is_asked_for_when_nothing_can_run() -> None:
    def refuse(scripts: list[str]) -> list:
        raise AssertionError("nothing should run")

    assert check_agreement([Emulation(PSEUDO, "f('a')", {"answer": 1})], refuse) == [None]

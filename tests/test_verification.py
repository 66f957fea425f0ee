"""Grading runs the generated program in the sandbox and matches what it printed."""

from __future__ import annotations

import pytest

from datamodules.formats import HTLFormat
from generation.engine import Rollout, run_programs
from metrics.answers import AnswerMatcher
from metrics.verification import SolutionVerifier
from sandbox import SandboxConfig, SandboxPool


@pytest.fixture(scope="module")
def verifier():
    with SandboxPool(SandboxConfig(workers=2, wall_time_s=2.0)) as pool:
        htl = HTLFormat()
        grader = SolutionVerifier(htl, AnswerMatcher())

        def verify(texts: list[str], golds: list[str]):
            rollouts = [Rollout(0, text, [], []) for text in texts]
            run_programs(htl, pool, rollouts)
            return grader.verify(rollouts, golds)

        yield verify


def test_program_answer_decides_execution_verified_accuracy(verifier) -> None:
    generations = [
        "12 + 5 = 17. The answer is 17.\n<Code>\nx = 12 + 5\nprint(x)",  # both right
        "12 + 5 = 18. The answer is 18.\n<Code>\nx = 12 + 5\nprint(x)",  # words wrong, code right
        "12 + 5 = 17. The answer is 17.\n<Code>\nx = 12 - 5\nprint(x)",  # code-translation error
        "12 + 5 = 17. The answer is 17.\n<Code>\nprint(1 / 0)",  # crash
        "12 + 5 = 17. The answer is 17.",  # no program
        "<Code>\nwhile True: pass",  # timeout
    ]
    verdicts = verifier(generations, ["17"] * len(generations))
    assert [v.correct for v in verdicts] == [True, True, False, False, False, False]
    assert [v.text_correct for v in verdicts] == [True, False, True, True, True, False]
    assert [v.outcome for v in verdicts] == ["ok", "ok", "ok", "error", "no_program", "timeout"]
    assert verdicts[2].program_answer == "7"
    assert "ZeroDivisionError" in verdicts[3].output


def test_the_answer_is_the_printed_value_not_the_source(verifier) -> None:
    # A program that contains the gold number but prints something else is wrong.
    (verdict,) = verifier(["<Code>\nanswer = 17\nprint(answer + 1)"], ["17"])
    assert not verdict.correct and verdict.program_answer == "18"

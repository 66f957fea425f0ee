"""Grading runs the generated program in the sandbox and matches what it printed."""

from __future__ import annotations

import json

import pytest

from datamodules.formats import HTLFormat, LCEFormat
from generation.engine import Rollout, run_programs
from grading.answers import AnswerMatcher, MatchResult
from grading.verification import SolutionVerifier
from sandbox import ExecutionResult, Outcome, SandboxOptions, SandboxPool


@pytest.fixture(scope="module")
def verifier():
    with SandboxPool(SandboxOptions(workers=2, wall_time_s=2.0)) as pool:
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


def ran(output: str, outcome: Outcome = Outcome.OK, error: str | None = None) -> ExecutionResult:
    return ExecutionResult(outcome, output, error)


def rollout(text: str, *runs: ExecutionResult, prompt: int = 0, tokens: int = 5) -> Rollout:
    return Rollout(prompt, text, list(range(tokens)), [True] * tokens, list(runs))


class TimingOutMatcher(AnswerMatcher):
    """Every comparison hits the time bound (as sympy does on ``9**9**9**9``)."""

    def __call__(self, prediction: str | None, gold: str) -> MatchResult:
        return MatchResult(False, True, "timeout")


def test_verdict_separates_reasoning_program_and_final_answers() -> None:
    grader = SolutionVerifier(HTLFormat(), AnswerMatcher())
    (right_words,) = grader.verify(
        [rollout("12 + 5 = 17. The answer is 17.\n<Code>\nprint(12 - 5)", ran("7\n"))], ["17"]
    )
    assert right_words.text_correct and not right_words.program_correct
    assert not right_words.correct and right_words.translation_error
    assert right_words.final_answer == "7" and right_words.stage == "solution"
    assert right_words.reasons == ("reasoning: numeric match", "program: numeric mismatch")
    assert right_words.generated_tokens == 5


def test_failed_runs_are_flagged_with_their_reason() -> None:
    grader = SolutionVerifier(HTLFormat(), AnswerMatcher())
    crashed, timed_out, silent, missing = grader.verify(
        [
            rollout("<Code>\n1/0", ran("Traceback", Outcome.ERROR, "ZeroDivisionError")),
            rollout("<Code>\nwhile True: pass", ran("", Outcome.TIMEOUT, "wall time")),
            rollout("<Code>\nx = 17", ran("")),
            rollout("The answer is 17."),
        ],
        ["17"],
    )
    assert crashed.execution_error and not crashed.timed_out
    assert crashed.reasons[1] == "program: error (ZeroDivisionError)"
    assert timed_out.timed_out and not timed_out.execution_error
    assert silent.outcome == "ok" and silent.program_answer is None
    assert missing.outcome == "no_program" and missing.text_correct
    for verdict in (crashed, timed_out, silent, missing):  # nothing to fall back on yet
        assert verdict.stage == "none" and verdict.final_answer is None and not verdict.correct


def test_golds_are_looked_up_by_prompt_index() -> None:
    grader = SolutionVerifier(HTLFormat(), AnswerMatcher())
    rollouts = [rollout("<Code>\nprint(3)", ran("3"), prompt=p) for p in (0, 0, 1, 1)]
    verdicts = grader.verify(rollouts, ["3", "4"])  # two samples per problem
    assert [v.correct for v in verdicts] == [True, True, False, False]


def test_a_conclusion_after_the_code_is_the_final_answer() -> None:
    # LCE: the model reads the execution output and states its answer in words afterwards.
    grader = SolutionVerifier(LCEFormat(), AnswerMatcher())
    text = (
        "<|text|>Add them.<|endofblock|><|code|>print(12 + 5)<|endofblock|>"
        "<|execution|>17<|endofblock|><|text|>So the answer is 17.<|endofblock|>"
    )
    (verdict,) = grader.verify([rollout(text, ran("17\n"))], ["17"])
    assert verdict.final_answer == "17" and verdict.correct
    (unsure,) = grader.verify([rollout(text.replace("17.", "18."), ran("17\n"))], ["17"])
    assert unsure.program_correct and not unsure.correct and unsure.final_answer == "18"


def test_matcher_timeouts_are_recorded() -> None:
    grader = SolutionVerifier(HTLFormat(), TimingOutMatcher())
    (verdict,) = grader.verify(
        [rollout("The answer is 9**9**9**9.\n<Code>\nprint(1)", ran("1"))], ["x"]
    )
    assert verdict.matcher_timed_out and not verdict.correct


def test_fallback_takes_the_answer_of_its_stage() -> None:
    grader = SolutionVerifier(HTLFormat(), AnswerMatcher())
    (first,) = grader.verify([rollout("The answer is 16.", tokens=4)], ["17"])
    (words,) = grader.verify([rollout("12 + 5 = 17. The answer is 17.", tokens=6)], ["17"])
    merged = first.with_fallback("words", words)
    assert merged.correct and merged.stage == "words" and merged.final_answer == "17"
    assert merged.generated_tokens == 10
    assert not merged.text_correct  # reasoning-only accuracy stays the first solution's
    assert merged.reasons[-1] == "words fallback: program: no_program"
    record = merged.record()
    assert json.loads(json.dumps(record))["stage"] == "words"
    assert {"translation_error", "execution_error", "timed_out", "reasons"} <= set(record)

"""Rewards for rollouts: HTL's error-assessment table, or any function the user names.

A reward function takes ``(sample, rollout, executions)`` and returns a float, in the spirit of
veRL's ``compute_score``: ``sample`` is the problem (question and gold ``answer``), ``rollout`` the
generation (``text``, ``token_ids``, ``finish_reason`` ...), ``executions`` what its code printed,
in order. A config names one by import path (``reward_function: my_rewards.exact_answer``).
"""

from __future__ import annotations

import importlib
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from enum import Enum

from checks import InputError
from datamodules.formats import SolutionFormat
from datamodules.sample import Sample
from generation.engine import Rollout
from grading.answers import AnswerMatcher
from grading.verification import SolutionVerifier
from sandbox import ExecutionResult

RewardFunction = Callable[[Sample, Rollout, Sequence[ExecutionResult]], float]


class RewardCase(str, Enum):
    """HTL's cases, in the order they are checked (RESEARCH.md §1)."""

    NO_ANSWER = "no_answer"  # neither the reasoning nor the program gives an answer
    ONE_MISSING = "one_missing"  # exactly one of them gives none
    REASONING_ONLY = "reasoning_only_correct"  # reasoning right, program wrong
    PROGRAM_ONLY = "program_only_correct"  # reasoning wrong, program right
    BOTH_CORRECT = "both_correct"
    BOTH_WRONG = "both_wrong"


@dataclass
class ErrorAssessmentTable:
    """The reward of each case (HTL's values by default)."""

    no_answer: float = -1.0
    one_missing: float = -0.5
    reasoning_only_correct: float = 0.1
    program_only_correct: float = 0.5
    both_correct: float = 1.0
    both_wrong: float = 0.0

    def __getitem__(self, case: RewardCase) -> float:
        return getattr(self, case.value)


def classify(
    reasoning_answer: str | None,
    program_answer: str | None,
    reasoning_correct: bool,
    program_correct: bool,
) -> RewardCase:
    """The case of one rollout, checked in HTL's order."""
    if reasoning_answer is None and program_answer is None:
        return RewardCase.NO_ANSWER
    if reasoning_answer is None or program_answer is None:
        return RewardCase.ONE_MISSING
    if reasoning_correct and program_correct:
        return RewardCase.BOTH_CORRECT
    if reasoning_correct:
        return RewardCase.REASONING_ONLY
    if program_correct:
        return RewardCase.PROGRAM_ONLY
    return RewardCase.BOTH_WRONG


class ErrorAssessmentReward:
    """HTL's reward: the reasoning's stated answer and the program's printed answer, each graded
    against the gold, looked up in the table.

    A rollout cut by the token budget counts as giving no answer at all: that is how the table
    discourages repetition loops and never-ending programs (HTL). A crash, a timeout or output
    without a number is no program answer."""

    def __init__(
        self,
        format: SolutionFormat,
        matcher: AnswerMatcher,
        table: ErrorAssessmentTable | None = None,
    ) -> None:
        self.verifier = SolutionVerifier(format, matcher)  # the same grading as evaluation
        self.table = table or ErrorAssessmentTable()

    def assess(
        self, sample: Sample, rollout: Rollout, executions: Sequence[ExecutionResult]
    ) -> RewardCase:
        if rollout.finish_reason == "token_budget":
            return RewardCase.NO_ANSWER
        verdict = self.verifier.verify_one(
            replace(rollout, executions=list(executions)), sample.answer
        )
        return classify(
            verdict.text_answer,
            verdict.program_answer,
            verdict.text_correct,
            verdict.program_correct,
        )

    def __call__(
        self, sample: Sample, rollout: Rollout, executions: Sequence[ExecutionResult]
    ) -> float:
        return self.table[self.assess(sample, rollout, executions)]


@dataclass(frozen=True)
class ScoredRollouts:
    """One score per rollout, and how many fell in each table case (empty for custom rewards)."""

    scores: list[float]
    cases: Counter[RewardCase]


def score_rollouts(
    reward: RewardFunction, samples: Sequence[Sample], rollouts: Sequence[Rollout]
) -> ScoredRollouts:
    """Scores rollouts against the samples they answer (``rollout.prompt_index``)."""
    scores, cases = [], Counter()
    for rollout in rollouts:
        sample = samples[rollout.prompt_index]
        if isinstance(reward, ErrorAssessmentReward):
            case = reward.assess(sample, rollout, rollout.executions)
            cases[case] += 1
            scores.append(reward.table[case])
        else:
            scores.append(float(reward(sample, rollout, rollout.executions)))
    return ScoredRollouts(scores, cases)


def load_reward_function(path: str) -> RewardFunction:
    """The callable named ``package.module.function`` (or ``package.module:function``)."""
    module_name, _, attribute = path.replace(":", ".").rpartition(".")
    if not module_name:
        raise InputError(f"reward_function {path!r}: expected 'package.module.function'")
    try:
        function = getattr(importlib.import_module(module_name), attribute)
    except (ImportError, AttributeError) as error:
        raise InputError(f"reward_function {path!r} cannot be imported: {error}") from error
    if not callable(function):
        raise InputError(f"reward_function {path!r} is not callable")
    return function


def reward_for(
    format: SolutionFormat,
    matcher: AnswerMatcher,
    table: ErrorAssessmentTable | None = None,
    function: str | None = None,
) -> RewardFunction:
    """The function named by import path ``function`` when given, else HTL's reward (with
    ``table``'s values) graded by ``matcher`` as evaluation grades."""
    if function:
        return load_reward_function(function)
    return ErrorAssessmentReward(format, matcher, table)

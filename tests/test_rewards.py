"""HTL's error-assessment reward, case by case, and user reward functions named by import path."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from datamodules.formats import HTLFormat
from datamodules.sample import Sample
from generation.engine import Rollout
from grading.answers import AnswerMatcher
from rl.rewards import (
    ErrorAssessmentReward,
    ErrorAssessmentTable,
    RewardCase,
    load_reward_function,
    score_rollouts,
)
from sandbox import ExecutionResult, Outcome

GOLD = Sample(id="p0", dataset="toy", question="What is 12 + 5?", answer="17")
RIGHT_WORDS, WRONG_WORDS, NO_WORDS = "12 + 5 = 17. The answer is 17.", "The answer is 18.", ""
PROGRAM = "\n<Code>\nprint(12 + 5)"


def printed(output: str) -> list[ExecutionResult]:
    return [ExecutionResult(Outcome.OK, output)]


CRASH = [ExecutionResult(Outcome.ERROR, "ZeroDivisionError", error="ZeroDivisionError")]
TIMEOUT = [ExecutionResult(Outcome.TIMEOUT, "", error="wall time")]


def rollout(text: str, executions: list[ExecutionResult], finish: str = "eos") -> Rollout:
    return Rollout(0, text, [], [], executions=executions, finish_reason=finish)


@pytest.fixture(scope="module")
def table_reward() -> ErrorAssessmentReward:
    return ErrorAssessmentReward(HTLFormat(), AnswerMatcher())


@pytest.mark.parametrize(
    ("text", "executions", "case", "reward"),
    [
        (NO_WORDS + PROGRAM, CRASH, RewardCase.NO_ANSWER, -1.0),
        (NO_WORDS, [], RewardCase.NO_ANSWER, -1.0),
        ("Let me think." + PROGRAM, TIMEOUT, RewardCase.NO_ANSWER, -1.0),
        (RIGHT_WORDS + PROGRAM, CRASH, RewardCase.ONE_MISSING, -0.5),
        (RIGHT_WORDS, [], RewardCase.ONE_MISSING, -0.5),  # no program at all
        (NO_WORDS + PROGRAM, printed("17\n"), RewardCase.ONE_MISSING, -0.5),
        (RIGHT_WORDS + PROGRAM, printed(""), RewardCase.ONE_MISSING, -0.5),
        (RIGHT_WORDS + PROGRAM, printed("7\n"), RewardCase.REASONING_ONLY, 0.1),
        (WRONG_WORDS + PROGRAM, printed("17\n"), RewardCase.PROGRAM_ONLY, 0.5),
        (RIGHT_WORDS + PROGRAM, printed("17\n"), RewardCase.BOTH_CORRECT, 1.0),
        (WRONG_WORDS + PROGRAM, printed("7\n"), RewardCase.BOTH_WRONG, 0.0),
    ],
)
def test_every_case_of_the_table(table_reward, text, executions, case, reward) -> None:
    generation = rollout(text, executions)
    assert table_reward.assess(GOLD, generation, executions) is case
    assert table_reward(GOLD, generation, executions) == reward


def test_the_program_answer_is_its_last_run(table_reward) -> None:
    runs = [*printed("17\n"), *CRASH]
    assert table_reward.assess(GOLD, rollout(RIGHT_WORDS + PROGRAM, runs), runs) is (
        RewardCase.ONE_MISSING
    )


def test_a_rollout_cut_by_the_token_budget_gives_no_answer(table_reward) -> None:
    runs = printed("17\n")
    cut = rollout(RIGHT_WORDS + PROGRAM, runs, finish="token_budget")
    assert table_reward.assess(GOLD, cut, runs) is RewardCase.NO_ANSWER


def test_table_values_come_from_the_config() -> None:
    table = ErrorAssessmentTable(both_correct=2.0, no_answer=-3.0)
    reward = ErrorAssessmentReward(HTLFormat(), AnswerMatcher(), table)
    runs = printed("17\n")
    assert reward(GOLD, rollout(RIGHT_WORDS + PROGRAM, runs), runs) == 2.0
    assert reward(GOLD, rollout(NO_WORDS, []), []) == -3.0


def test_scores_follow_the_prompt_index_and_count_cases(table_reward) -> None:
    other = Sample(id="p1", dataset="toy", question="What is 2 + 2?", answer="4")
    runs = printed("17\n")
    rollouts = [
        Rollout(0, RIGHT_WORDS + PROGRAM, [], [], executions=runs),
        Rollout(1, RIGHT_WORDS + PROGRAM, [], [], executions=runs),  # wrong for 2 + 2
        Rollout(1, NO_WORDS, [], []),
    ]
    scored = score_rollouts(table_reward, [GOLD, other], rollouts)
    assert scored.scores == [1.0, 0.0, -1.0]
    assert scored.cases == {
        RewardCase.BOTH_CORRECT: 1,
        RewardCase.BOTH_WRONG: 1,
        RewardCase.NO_ANSWER: 1,
    }


def printed_the_gold(
    sample: Sample, generation: Rollout, executions: Sequence[ExecutionResult]
) -> float:
    """A user reward: 1 when the last run printed exactly the gold answer."""
    return float(bool(executions) and executions[-1].output.strip() == sample.answer)


def test_a_custom_reward_function_is_loaded_by_import_path() -> None:
    reward = load_reward_function("tests.test_rewards.printed_the_gold")
    assert load_reward_function("tests.test_rewards:printed_the_gold") is reward
    rollouts = [rollout(NO_WORDS + PROGRAM, printed("17\n")), rollout(RIGHT_WORDS, [])]
    scored = score_rollouts(reward, [GOLD], rollouts)
    assert scored.scores == [1.0, 0.0]
    assert not scored.cases  # only the table has cases


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("printed_the_gold", "expected 'package.module.function'"),
        ("tests.no_such_module.f", "cannot be imported"),
        ("tests.test_rewards.no_such_function", "cannot be imported"),
        ("tests.test_rewards.GOLD", "not callable"),
    ],
)
def test_bad_reward_paths_say_what_is_wrong(path: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        load_reward_function(path)

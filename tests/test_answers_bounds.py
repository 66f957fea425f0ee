"""The matcher's hard time bound: adversarial answers, non-main threads, forks, a dead helper."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time

import pytest

from grading import symbolic
from grading.answers import AnswerMatcher, MatchResult

TIMEOUT_S = 0.25
# What a comparison may take beyond its timeout: the helper's grace for noticing, killing and
# replying, plus scheduling noise on a loaded 2-core machine.
BOUND_S = TIMEOUT_S + symbolic.GRACE_S + 0.5
HANGS = "2^{10^{10}}"  # sympy evaluates this power in C, where no signal can interrupt it

ADVERSARIAL = [
    "9**9**9**9",
    "9^{9^{9^{9}}}",
    HANGS,
    "10^{10^{10}}!",
    "\\frac{",
    "\\boxed{{{",
    "}}}{{{",
    "\\left(\\right.",
    "٣٤",
    "🙂 = 3",
    "\x00\x01",
    "",
    "1" * 1_000_000,
    "x" * 1_000_000,
    "(" * 500_000,
    "\\frac{1}{" * 100,
    "(" * 400 + "1" + ")" * 400,
]


@pytest.fixture(scope="module")
def matcher() -> AnswerMatcher:
    matcher = AnswerMatcher(timeout_s=TIMEOUT_S)
    matcher.warm_up()
    return matcher


def timed(matcher: AnswerMatcher, prediction: str, gold: str) -> tuple[MatchResult, float]:
    start = time.perf_counter()
    result = matcher(prediction, gold)
    return result, time.perf_counter() - start


@pytest.mark.slow  # a wall-clock bound: the fast subset stays load-proof
def test_a_hanging_comparison_times_out_counts_wrong_and_the_next_one_works(
    matcher: AnswerMatcher,
) -> None:
    result, elapsed = timed(matcher, HANGS, "3")
    assert result == MatchResult(correct=False, timed_out=True, reason="timeout")
    assert TIMEOUT_S <= elapsed < BOUND_S
    result, elapsed = timed(matcher, "y = 2x + 1", "2x+1")  # the judge was replaced at once
    assert result.reason == "symbolic match" and elapsed < BOUND_S


@pytest.mark.slow
@pytest.mark.parametrize("answer", ADVERSARIAL, ids=range(len(ADVERSARIAL)))
def test_adversarial_answers_return_within_the_bound(matcher: AnswerMatcher, answer: str) -> None:
    for prediction, gold in ((answer, "3"), ("3", answer)):
        result, elapsed = timed(matcher, prediction, gold)
        assert elapsed < BOUND_S, (prediction[:40], gold[:40], result)
        assert not result.correct


@pytest.mark.slow  # a wall-clock bound: the fast subset stays load-proof
def test_bound_holds_in_a_non_main_thread(matcher: AnswerMatcher) -> None:
    outcome: dict[str, object] = {}

    def work() -> None:
        matcher.warm_up()  # this thread's own helper; its start is not part of the bound
        outcome["hang"] = timed(matcher, HANGS, "3")
        outcome["equal"] = timed(matcher, "\\frac{1}{\\sqrt{2}}", "\\frac{\\sqrt{2}}{2}")

    thread = threading.Thread(target=work)
    thread.start()
    thread.join(timeout=60)
    hang, hang_time = outcome["hang"]
    equal, equal_time = outcome["equal"]
    assert hang.timed_out and hang_time < BOUND_S
    assert equal.correct and equal_time < BOUND_S


@pytest.mark.slow
def test_a_killed_helper_is_replaced(matcher: AnswerMatcher) -> None:
    helper = symbolic._local.helper
    os.killpg(helper.process.pid, 9)
    helper.process.wait()
    assert matcher("(x+1)^2", "x^2+2x+1").reason == "symbolic match"
    assert symbolic._local.helper is not helper


@pytest.mark.slow
def test_a_forked_child_gets_its_own_helper_and_leaves_the_parents_alone(
    matcher: AnswerMatcher,
) -> None:
    parent_helper = symbolic._local.helper
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # child: must not reuse (or, on exit, kill) the parent's helper
        os.close(read_end)
        verdict = matcher("(x+1)^2", "x^2+2x+1").correct
        verdict = verdict and symbolic._local.helper is not parent_helper
        os.write(write_end, b"1" if verdict else b"0")
        os._exit(0)
    os.close(write_end)
    with os.fdopen(read_end, "rb") as reader:
        assert reader.read() == b"1"
    os.waitpid(pid, 0)
    assert parent_helper.alive
    assert matcher("\\frac{1}{\\sqrt{2}}", "\\frac{\\sqrt{2}}{2}").reason == "symbolic match"


@pytest.mark.slow
def test_sympy_never_loads_in_the_calling_process() -> None:
    code = (
        "import sys\n"
        "from grading.answers import AnswerMatcher\n"
        "assert AnswerMatcher()('(x+1)^2', 'x^2+2x+1').correct\n"
        "print('sympy' in sys.modules, 'math_verify' in sys.modules)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert result.stdout.split() == ["False", "False"]

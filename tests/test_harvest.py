"""Keep and reject decisions of the harvests, on hand-made candidates."""

from __future__ import annotations

import pytest

from datamodules.sample import Block, Sample
from harvest.generations import Candidate, NewProblems, VerifiedSolutions, similar

PROBLEM = Sample("p1", "toy", "Ann has 3 apples and buys 4 more. How many?", (), "7")


def candidate(
    program: str,
    answer: str | None = "7",
    outcome: str = "ok",
    tokens: int = 10,
    words: str = "Add them.",
) -> Candidate:
    blocks = (Block("text", words), Block("code", program))
    return Candidate(blocks, answer, answer, outcome, tokens)


def decide(harvest, candidates, problem=PROBLEM, matcher=None):  # type: ignore[no-untyped-def]
    from grading.answers import AnswerMatcher

    return harvest.select(problem, candidates, matcher or AnswerMatcher())


def test_right_answers_are_kept_and_every_other_gets_its_reason() -> None:
    candidates = [
        candidate("print(3 + 4)"),
        candidate("print(3 - 4)", answer="-1"),
        candidate("print(3 +", answer=None, outcome="error"),
        candidate("while True: pass", answer=None, outcome="timeout"),
        candidate("x = 3 + 4", answer=None),
        candidate("", answer="7", outcome="no_program", words="The answer is 7."),
        candidate("print(7.0)", answer="7.0"),
    ]
    decisions = decide(VerifiedSolutions(max_similarity=None), candidates)
    assert decisions.reasons == (
        "kept",
        "wrong_answer",
        "error",
        "timeout",
        "no_answer",
        "no_program",
        "kept",
    )
    assert [s.id for s in decisions.kept] == ["p1#0", "p1#6"]
    first = decisions.kept[0]
    assert (first.question, first.answer, first.dataset) == (PROBLEM.question, "7", "toy")
    assert first.blocks == candidates[0].blocks


def test_words_alone_count_only_when_execution_is_not_required() -> None:
    words_only = candidate("", answer="7", outcome="no_program", words="The answer is 7.")
    lenient = decide(VerifiedSolutions(require_execution=False), [words_only])
    assert lenient.reasons == ("kept",)


def test_at_most_k_per_problem_shortest_or_longest_first() -> None:
    candidates = [
        candidate("a = 3\nb = 4\nprint(a + b)", tokens=30),
        candidate("print(3 + 4)", tokens=8),
        candidate("total = sum([3, 4])\nprint(total)", tokens=20),
    ]
    shortest = decide(VerifiedSolutions(k=2, max_similarity=None, prefer="shortest"), candidates)
    assert shortest.reasons == ("beyond_k", "kept", "kept")
    longest = decide(VerifiedSolutions(k=1, max_similarity=None, prefer="longest"), candidates)
    assert longest.reasons == ("kept", "beyond_k", "beyond_k")
    first = decide(VerifiedSolutions(k=1, max_similarity=None), candidates)
    assert first.reasons == ("kept", "beyond_k", "beyond_k")


def test_near_duplicates_are_dropped_but_different_solutions_stay() -> None:
    candidates = [
        candidate("apples = 3 + 4\nprint(apples)"),
        candidate("apples = 3 + 4\nprint(apples) "),  # the same but for a space
        candidate("apples = 3 + 4\n\nprint(apples)"),
        candidate("print(sum([3, 4]))", words="Sum the list of both amounts."),
    ]
    decisions = decide(VerifiedSolutions(max_similarity=0.9), candidates)
    assert decisions.reasons == ("kept", "near_duplicate", "near_duplicate", "kept")
    exact_only = decide(VerifiedSolutions(max_similarity=1.0), candidates[:2])
    assert exact_only.reasons == ("kept", "near_duplicate")  # whitespace is folded first
    assert similar("abcdef", "abcdeg", 0.8) and not similar("abcdef", "uvwxyz", 0.2)


def test_behaviours_can_be_preferred_or_required() -> None:
    plain = candidate("print(3 + 4)", words="Add them.")
    checked = candidate(
        "total = 3 + 4\nassert total - 4 == 3\nprint(total)",
        words="Add them, then let's verify by subtracting.",
    )
    prefer = VerifiedSolutions(k=1, max_similarity=None, behaviours=["verification"])
    assert decide(prefer, [plain, checked]).reasons == ("beyond_k", "kept")
    require = VerifiedSolutions(
        max_similarity=None, behaviours=["verification"], behaviour_policy="require"
    )
    assert decide(require, [plain, checked]).reasons == ("lacks_behaviours", "kept")
    wrong_but_checked = candidate(checked.blocks[1].content, answer="8", words="Let's verify.")
    assert decide(require, [wrong_but_checked]).reasons == ("wrong_answer",)


def test_without_a_gold_the_majority_answer_decides() -> None:
    unanswered = Sample("new", "interpolated", "A new problem?", (), "")
    votes = [
        candidate("print(7)"),
        candidate("print(7.0)", answer="7.0"),
        candidate("print(8)", "8"),
    ]
    decisions = decide(
        VerifiedSolutions(reference="majority", max_similarity=None), votes, unanswered
    )
    assert decisions.reasons == ("kept", "kept", "wrong_answer")
    assert {s.answer for s in decisions.kept} == {"7"}
    tie = [candidate("print(7)"), candidate("print(8)", "8")]
    assert decide(VerifiedSolutions(reference="majority"), tie, unanswered).reasons == (
        "no_majority",
        "no_majority",
    )
    crashed = [candidate("print(7)"), candidate("print(7)", outcome="error")]  # a crash has no vote
    assert decide(VerifiedSolutions(reference="majority"), crashed, unanswered).reasons == (
        "no_majority",
        "no_majority",
    )
    assert decide(VerifiedSolutions(), votes, unanswered).reasons == ("no_gold_answer",) * 3


def test_self_distillation_needs_reasoning_program_and_gold_to_agree() -> None:
    reasoning = (Block("text", "3 + 4 = 7 apples.\nThe answer is 7."),)
    problem = Sample("g1", "gsm8k", PROBLEM.question, reasoning, "7")
    distill = VerifiedSolutions(k=1, agree_with_reasoning=True)
    program = candidate("print(3 + 4)")
    assert decide(distill, [program], problem).reasons == ("kept",)
    assert decide(distill, [candidate("print(3 * 4)", "12")], problem).reasons == ("wrong_answer",)
    wrong_reasoning = Sample(
        "g2", "gsm8k", PROBLEM.question, (Block("text", "The answer is 8."),), "7"
    )
    assert decide(distill, [program], wrong_reasoning).reasons == ("reasoning_disagrees_with_gold",)
    no_reasoning = Sample("g3", "gsm8k", PROBLEM.question, (), "7")
    assert decide(distill, [program], no_reasoning).reasons == ("reasoning_disagrees_with_gold",)


def test_a_program_that_writes_the_answer_down_is_not_kept() -> None:
    strict, lenient = VerifiedSolutions(reject_copied_answers=True), VerifiedSolutions()
    copies = [
        candidate("total = 7\nprint(total)"),
        candidate("print(f'Ann has {7.0} apples')"),
        candidate("def f():\n    return 3 + 4\nprint('Ann has 7.')"),
    ]
    computes = [candidate("print(3 + 4)"), candidate("apples = 3\nprint(apples + 4)")]
    assert decide(strict, copies).reasons == ("answer_copied",) * 3
    assert decide(strict, computes).reasons[0] == "kept"
    assert decide(lenient, copies).reasons[0] == "kept"  # off by default, as HTL's filter
    # a number that only contains the answer's digits is not the answer
    assert decide(strict, [candidate("x17 = 3\nprint(x17 + 4)")]).reasons == ("kept",)
    # when the question itself gives the answer's number, writing it is no copy
    given = Sample("p2", "toy", "Ann has 7 apples and eats none. How many?", (), "7")
    assert decide(strict, [candidate("apples = 7\nprint(apples)")], given).reasons == ("kept",)
    # only a plain-number answer can be copied as a number
    fraction = Sample("p3", "toy", "Half of one?", (), "\\frac{1}{2}")
    kept = decide(strict, [candidate("print(1 / 2)", "\\frac{1}{2}")], fraction).reasons
    assert kept == ("kept",)


def test_settings_out_of_range_are_refused() -> None:
    with pytest.raises(ValueError, match="k must be >= 1"):
        VerifiedSolutions(k=0)
    with pytest.raises(ValueError, match="max_similarity"):
        NewProblems(max_similarity=1.5)
    with pytest.raises(ValueError, match="prefer must be"):
        VerifiedSolutions(prefer="random")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="unknown behaviours"):
        VerifiedSolutions(behaviours=["planning"])


def test_new_problems_must_be_new_and_distinct() -> None:
    pair = Sample(
        "a+b",
        "interpolation",
        "Problem 1 (easier):\nAnn has 3 apples and buys 4 more. How many?\n\n"
        "Problem 2 (harder):\nFind all x with x^2 = 16.",
    )

    def problem(text: str) -> Candidate:
        return Candidate((Block("text", text),) if text else (), None, None, "no_program", 5)

    drafts = [
        problem(
            "Ann buys 3 boxes of 4 apples and eats x^2 of them, where x = 2. How many are left?"
        ),
        problem(""),
        problem("Ann has 3 apples and buys 4 more. How many?"),
        problem(
            "Ann buys 3 boxes of 4 apples and eats x^2 of them, where x = 2. How many are left? "
        ),
        problem("A square has area 36. Its side grows by 2. What is the new area?"),
    ]
    decisions = decide(NewProblems(k=1), drafts, pair)
    assert decisions.reasons == (
        "kept",
        "no_problem",
        "copies_a_source",
        "near_duplicate",
        "beyond_k",
    )
    (kept,) = decisions.kept
    assert kept.id == "a+b#0" and kept.answer == "" and kept.question.startswith("Ann buys 3 boxes")

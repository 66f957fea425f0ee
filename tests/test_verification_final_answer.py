"""Which answer execution-verified accuracy grades in formats that conclude in words (LCE,
markdown): ToRA's rule between the program's printed value and the closing words, and solutions
that answer in words without running code.

Cases are ``(generation, printed, gold, final, correct)``: ``printed`` is the last run's output
(None: no code ran), ``final`` the answer graded. SVAMP rows are from
``../shared/data/trajectories/mathcoder-cl-7b_svamp.jsonl``."""

from __future__ import annotations

import pytest

from datamodules.formats import HTLFormat, LCEFormat, MarkdownFormat
from generation.engine import Rollout
from grading.answers import AnswerMatcher
from grading.verification import SolutionVerifier
from sandbox import ExecutionResult, Outcome


def lce(*blocks: tuple[str, str]) -> str:
    return "".join(f"<|{kind}|>{content}<|endofblock|>" for kind, content in blocks)


def markdown(before: str, code: str, output: str, after: str) -> str:
    return f"{before}\n```python\n{code}\n```\n```output\n{output}\n```\n{after}"


def ran_lce(words: str, printed: str, *closing: str) -> str:
    """An LCE solution: words, a code block, its output, then the closing text blocks."""
    head = lce(("text", words), ("code", "print(x)"), ("execution", printed))
    return head + lce(*(("text", text) for text in closing))


PROGRAM_VS_TEXT = [
    # the case: a concluding sentence that commits to nothing; the program's 5 decides
    (
        ran_lce("Count.", "5", "5 cars drove through the traffic jam in the first 15 minutes."),
        "5",
        "5",
        "5",
        True,
    ),
    (
        ran_lce("Count.", "5", "5 cars drove through in the first 15 minutes."),
        "5",
        "15",
        "5",
        False,
    ),
    # SVAMP row 765 (real): the last block states only the value, which commits
    (
        ran_lce(
            "Divide.",
            "0.6631578947368421",
            "The size of each group of bananas is \\(29\\) and the size of each group of "
            "oranges is approximately \\(0.663\\).",
            "29",
        ),
        "0.6631578947368421",
        "29",
        "29",
        True,
    ),
    # SVAMP row 0 (real): a box in the closing sentence, then the bare value
    (
        ran_lce(
            "Subtract.",
            "51",
            "The final cost to buy each pack of DVDs after the discount is \\( \\boxed{51} \\) "
            "dollars.",
            "51",
        ),
        "51",
        "51",
        "51",
        True,
    ),
    # SVAMP row 35 (real shape): the model loops and is cut off; the printed -8 is graded
    (
        ran_lce(
            "Compute.",
            "-8",
            "So, the correct amount left is $1, not $-9$.\n\nLet's calculate it again, "
            "considering that Dan is $1 short of paying off the debt.",
        ),
        "-8",
        "1",
        "-8",
        False,
    ),
    (ran_lce("Add.", "17", "So the answer is 18."), "17", "17", "18", False),  # words commit
    (ran_lce("Add.", "17", "The answer is 17."), "17", "17", "17", True),
    (ran_lce("Add.", "17", "Hence \\boxed{17} apples in all."), "17", "17", "17", True),
    (
        ran_lce("Add.", "16.999999999", "There are 17 apples."),
        "16.999999999",
        "17",
        "16.999999999",
        True,
    ),
    (ran_lce("Add.", "17", "There are 17 apples, 3 of them red."), "17", "17", "17", True),
    (ran_lce("Add.", "", "So there are 17 apples in 3 baskets."), "", "3", "3", True),
    (
        ran_lce("Add.", "Traceback\nNameError: name 'x' is not defined", "Thus 17."),
        "",
        "17",
        "17",
        True,
    ),
    (
        ran_lce("Solve.", "{x: 6, y: 4}", "Final Answer: The final answer is 4."),
        "{x: 6, y: 4}",
        "4",
        "4",
        True,
    ),
    (
        ran_lce("Solve.", "(6, 4)", "So Tom has 6 and Ann has 4 marbles."),
        "(6, 4)",
        "6, 4",
        "(6, 4)",
        True,
    ),
    (ran_lce("Solve.", "6", "#### 6"), "6", "6", "6", True),
    (
        markdown("Add them.", "print(12 + 5)", "17", "So 17 apples remain after 3 days."),
        "17",
        "17",
        "17",
        True,
    ),
    (
        markdown("Add them.", "print(12 + 5)", "17", "The answer is $\\boxed{18}$."),
        "17",
        "17",
        "18",
        False,
    ),
    (markdown("Add them.", "print(12 + 5)", "17", ""), "17", "17", "17", True),
]

WORDS_ONLY = [
    (lce(("text", "12 + 5 = 17. The answer is 17.")), None, "17", "17", True),
    (lce(("text", "12 + 5 = 17. The answer is 17.")), None, "18", "17", False),
    (lce(("text", "Adding, 12 + 5 = 17 apples.")), None, "17", "17", True),
    (lce(("text", "So the total is \\boxed{17}.")), None, "17", "17", True),
    (lce(("text", "We add the two."), ("text", "17")), None, "17", "17", True),
    # SVAMP row 987 (real): no code ran; graded on its words, which are wrong
    (
        lce(
            ("text", "So, the tree initially had \\(\\boxed{30}\\) ripe apples."),
            ("text", "30"),
        ),
        None,
        "5",
        "30",
        False,
    ),
    (
        lce(("text", "Final Answer: The final answer is $\\frac{1}{2}$. I hope it is correct.")),
        None,
        "0.5",
        "$\\frac{1}{2}$",
        True,
    ),
    (lce(("text", "The function is \\boxed{\\text{odd}}.")), None, "odd", "\\text{odd}", True),
    (lce(("text", "Thus $x \\geq 5$.")), None, "[5, \\infty)", "x \\geq 5", True),
    (lce(("text", "The total is $1{,}234$ dollars.")), None, "1234", "1{,}234", True),
    ("Each basket holds 4 apples, so 3 baskets hold 12 apples.", None, "12", "12", True),
    ("The answer is $\\boxed{12}$.", None, "12", "12", True),
    ("The answer is $\\boxed{12}$.", None, "13", "12", False),
    ("We get $x = 3$ and so **x = 3**.", None, "3", "3", True),
    ("The roots are $\\boxed{-2}$ and $\\boxed{1}$.", None, "1, -2", "-2, 1", True),
    ("There are no numbers here.", None, "4", None, False),
]


def verdict(fmt: object, text: str, printed: str | None, gold: str):
    runs = [] if printed is None else [ExecutionResult(Outcome.OK, printed)]
    grader = SolutionVerifier(fmt, AnswerMatcher())  # type: ignore[arg-type]
    return grader.verify_one(Rollout(0, text, [1], [True], runs), gold)


def format_of(text: str) -> object:
    return LCEFormat() if text.startswith("<|") else MarkdownFormat()


@pytest.mark.parametrize(("text", "printed", "gold", "final", "correct"), PROGRAM_VS_TEXT)
def test_closing_words_decide_only_when_they_commit(
    text: str, printed: str, gold: str, final: str, correct: bool
) -> None:
    result = verdict(format_of(text), text, printed, gold)
    assert (result.final_answer, result.correct) == (final, correct), result.reasons


@pytest.mark.parametrize(("text", "printed", "gold", "final", "correct"), WORDS_ONLY)
def test_solutions_without_code_are_graded_on_their_words(
    text: str, printed: None, gold: str, final: str | None, correct: bool
) -> None:
    result = verdict(format_of(text), text, printed, gold)
    assert (result.final_answer, result.correct) == (final, correct), result.reasons
    assert result.outcome == "no_program"
    assert result.stage == ("solution" if final is not None else "none")


def test_htl_without_a_program_is_still_wrong() -> None:
    # HTL's accuracy is execution-verified: its words are graded only by the words fallback.
    result = verdict(HTLFormat(), "12 + 5 = 17. The answer is 17.", None, "17")
    assert result.text_correct and not result.correct and result.final_answer is None


@pytest.mark.parametrize("cases", [PROGRAM_VS_TEXT, WORDS_ONLY])
def test_fifteen_labelled_cases(cases: list) -> None:
    assert len(cases) >= 15

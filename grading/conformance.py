"""Conformance with another grader's labels: labelled (gold, response, expected) cases graded
the way evaluation grades words, and whether each verdict equals the label.

math-verify's own labelled test cases (``tests/data/math_verify/cases.jsonl``) are the peer suite:
the tests assert an agreement floor over them and ``benchmarks/fidelity/grading_conformance.py``
reports it per source file. A gold there may be a bare answer or a whole worked solution, so both
sides go through :func:`extract_text_answer`, as a response does.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from grading.answers import AnswerMatcher, MatchResult, extract_text_answer

MATH_VERIFY_CASES = Path(__file__).resolve().parents[1] / "tests/data/math_verify/cases.jsonl"


@dataclass(frozen=True)
class LabelledCase:
    """One labelled pair; ``source`` is the file the label comes from."""

    id: str
    source: str
    gold: str
    response: str
    expected: bool


@dataclass(frozen=True)
class GradedCase:
    """A case with the answers read from both sides and the matcher's verdict on them."""

    case: LabelledCase
    gold_answer: str
    answer: str | None
    result: MatchResult

    @property
    def agrees(self) -> bool:
        return self.result.correct == self.case.expected


def load_cases(path: Path = MATH_VERIFY_CASES) -> list[LabelledCase]:
    """The labelled cases of a JSON-lines file (fields ``id``, ``file``, ``gold``, ``pred``,
    ``expected``)."""
    rows = (json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line)
    return [
        LabelledCase(row["id"], row["file"], row["gold"], row["pred"], row["expected"])
        for row in rows
    ]


def grade_case(case: LabelledCase, matcher: AnswerMatcher) -> GradedCase:
    """The verdict on one case: the response's answer against the gold's (a gold with no answer
    to read, such as ``\\\\text{Evelyn}``, is compared whole)."""
    gold_answer = extract_text_answer(case.gold) or case.gold
    answer = extract_text_answer(case.response)
    return GradedCase(case, gold_answer, answer, matcher(answer, gold_answer))


def agreement(verdicts: Iterable[tuple[str, bool]]) -> dict[str, tuple[int, int]]:
    """``(agreeing, cases)`` per source file, and over all of them under ``"all"``, from
    ``(source, agrees)`` pairs."""
    counts: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for source, agrees in verdicts:
        for key in (source, "all"):
            counts[key][0] += agrees
            counts[key][1] += 1
    return {key: (agreeing, total) for key, (agreeing, total) in sorted(counts.items())}

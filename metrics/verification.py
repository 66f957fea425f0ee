"""Grading rollouts: the printed answer of their last code run is checked against the gold."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from datamodules.formats import SolutionFormat
from generation.engine import Rollout
from metrics.answers import AnswerMatcher, extract_program_answer, extract_text_answer


@dataclass(frozen=True)
class Verdict:
    """What one generation earned; ``correct`` is execution-verified accuracy."""

    program_answer: str | None
    text_answer: str | None
    correct: bool
    text_correct: bool
    outcome: str  # the sandbox's outcome, or "no_program"
    output: str


class SolutionVerifier:
    """Extracts the reasoning's answer with the format and the program's from its last run, and
    matches both against the gold."""

    def __init__(self, format: SolutionFormat, matcher: AnswerMatcher) -> None:
        self.format, self.matcher = format, matcher

    def verify(self, rollouts: Sequence[Rollout], golds: Sequence[str]) -> list[Verdict]:
        verdicts = []
        for rollout, gold in zip(rollouts, golds):
            blocks = self.format.parse(rollout.text)
            reasoning = "\n".join(block.content for block in blocks if block.kind == "text")
            text_answer = extract_text_answer(reasoning) if reasoning else None
            result = rollout.executions[-1] if rollout.executions else None
            program_answer = extract_program_answer(result.output) if result and result.ok else None
            verdicts.append(
                Verdict(
                    program_answer=program_answer,
                    text_answer=text_answer,
                    correct=program_answer is not None
                    and self.matcher(program_answer, gold).correct,
                    text_correct=text_answer is not None
                    and self.matcher(text_answer, gold).correct,
                    outcome=result.outcome.value if result else "no_program",
                    output=result.output if result else "",
                )
            )
        return verdicts

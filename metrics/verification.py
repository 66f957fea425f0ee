"""Grading generations by running them: the program's printed answer is checked against the gold."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from datamodules.formats import SolutionFormat
from metrics.answers import AnswerMatcher, extract_program_answer, extract_text_answer
from sandbox import SandboxPool


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
    """Parses generations with the format, runs their code in the sandbox, and matches answers."""

    def __init__(
        self, format: SolutionFormat, sandbox: SandboxPool, matcher: AnswerMatcher
    ) -> None:
        self.format, self.sandbox, self.matcher = format, sandbox, matcher

    def verify(self, generations: Sequence[str], golds: Sequence[str]) -> list[Verdict]:
        parsed = [self.format.parse(generation) for generation in generations]
        programs = ["\n".join(b.content for b in blocks if b.kind == "code") for blocks in parsed]
        to_run = [index for index, program in enumerate(programs) if program.strip()]
        results = dict(zip(to_run, self.sandbox.run_many([programs[i] for i in to_run])))
        verdicts = []
        for index, (blocks, gold) in enumerate(zip(parsed, golds)):
            reasoning = "\n".join(block.content for block in blocks if block.kind == "text")
            text_answer = extract_text_answer(reasoning) if reasoning else None
            result = results.get(index)
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

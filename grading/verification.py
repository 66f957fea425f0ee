"""Grading rollouts: the printed answer of their last code run is checked against the gold.

One :class:`Verdict` per rollout carries everything the evaluation metrics count (the three
accuracies, code-translation errors, execution errors and timeouts, matcher timeouts, tokens) and
the reasons behind it, so a per-sample record can explain every number in the table.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace
from typing import TYPE_CHECKING, Any, Literal, Protocol

from grading.answers import AnswerMatcher, extract_program_answer, extract_text_answer

if TYPE_CHECKING:  # types only: grading needs neither torch nor transformers
    from datamodules.formats import SolutionFormat
    from datamodules.sample import Block
    from sandbox.result import ExecutionResult

# Which attempt gave the final answer: the solution asked for with the format's own prompt, the
# HTL cascade's program-only or words-only re-prompt, or none of them.
Stage = Literal["solution", "program", "words", "none"]
# Sandbox outcomes that mean the program itself failed (``unavailable`` is the sandbox's fault).
EXECUTION_ERRORS = frozenset({"error", "memory", "killed"})


class Response(Protocol):
    """What grading reads of one generated solution (``generation.engine.Rollout`` is one):
    grading sits below generation, so it names the fields it needs instead of the class."""

    @property
    def prompt_index(self) -> int: ...

    @property
    def text(self) -> str: ...

    @property
    def executions(self) -> Sequence[ExecutionResult]: ...

    @property
    def num_generated_tokens(self) -> int: ...


@dataclass(frozen=True)
class Verdict:
    """What one generation earned.

    ``correct`` is execution-verified accuracy: the final answer, i.e. what the program printed
    (for formats that conclude in words after running code, that conclusion when it commits to
    an answer, and the words when no code ran), or the answer of the fallback stage named by
    ``stage``. ``text_correct`` and ``program_correct`` grade the
    reasoning and the program of the first solution separately, whatever the cascade did.
    """

    text_answer: str | None
    program_answer: str | None
    correct: bool
    text_correct: bool
    outcome: str  # the first solution's last sandbox outcome, or "no_program"
    output: str
    program_correct: bool = False
    final_answer: str | None = None
    stage: Stage = "none"
    matcher_timed_out: bool = False
    generated_tokens: int = 0
    reasons: tuple[str, ...] = ()

    @property
    def execution_error(self) -> bool:
        return self.outcome in EXECUTION_ERRORS

    @property
    def timed_out(self) -> bool:
        return self.outcome == "timeout"

    @property
    def translation_error(self) -> bool:
        """HTL's code-translation error: the reasoning was right, its program was not."""
        return self.text_correct and not self.program_correct

    def with_fallback(self, stage: Literal["program", "words"], fallback: Verdict) -> Verdict:
        """This verdict with the final answer taken from a cascade stage's verdict: the program's
        printed value, or the words' stated answer."""
        if stage == "words":
            answer, matched = fallback.text_answer, fallback.text_correct
        else:
            answer, matched = fallback.program_answer, fallback.program_correct
        return replace(
            self,
            final_answer=answer,
            correct=answer is not None and matched,
            stage=stage if answer is not None else self.stage,
            matcher_timed_out=self.matcher_timed_out or fallback.matcher_timed_out,
            generated_tokens=self.generated_tokens + fallback.generated_tokens,
            reasons=self.reasons
            + tuple(f"{stage} fallback: {reason}" for reason in fallback.reasons),
        )

    def record(self) -> dict[str, Any]:
        """JSON-ready fields, the derived flags included."""
        return asdict(self) | {
            "execution_error": self.execution_error,
            "timed_out": self.timed_out,
            "translation_error": self.translation_error,
        }


def closing_words(blocks: Sequence[Block]) -> list[str]:
    """The text blocks after the last code block (all of them when there is no code): where a
    format that runs code as it goes concludes."""
    code_positions = [index for index, block in enumerate(blocks) if block.kind == "code"]
    start = code_positions[-1] + 1 if code_positions else 0
    return [block.content for block in blocks[start:] if block.kind == "text"]


class SolutionVerifier:
    """Extracts the reasoning's answer with the format and the program's from its last run, and
    matches both against the gold."""

    def __init__(self, format: SolutionFormat, matcher: AnswerMatcher) -> None:
        self.format, self.matcher = format, matcher

    def verify(self, rollouts: Sequence[Response], golds: Sequence[str]) -> list[Verdict]:
        """One verdict per rollout; ``golds`` are per prompt (``rollout.prompt_index``)."""
        return [self.verify_one(rollout, golds[rollout.prompt_index]) for rollout in rollouts]

    def _final_answer(self, blocks: Sequence[Block], program_answer: str | None) -> str | None:
        """The answer that execution-verified accuracy grades.

        HTL: the program's printed value. Formats that run code as they go and conclude in words
        (LCE, markdown) follow ToRA's rule: the words after the last code block decide when they
        commit to an answer (a box, "the answer is", a bare value), else the program's printed
        value, else the last number of those words; a solution that never ran code is graded
        on its words. Text blocks are read last first: the last one that commits decides
        (MathCoder closes with a block holding only the asked value, after boxing every unknown).
        """
        if self.format.execution_delimiters is None:
            return program_answer
        words = closing_words(blocks)
        has_code = any(block.kind == "code" for block in blocks)
        for block in reversed(words):
            committed = extract_text_answer(block, fallback=False)
            if committed is not None:
                return committed
        if has_code and program_answer is not None:
            return program_answer
        return extract_text_answer("\n".join(words)) if words else program_answer

    def verify_one(self, rollout: Response, gold: str) -> Verdict:
        blocks = self.format.parse(rollout.text)
        reasoning = "\n".join(block.content for block in blocks if block.kind == "text")
        text_answer = extract_text_answer(reasoning) if reasoning else None
        result = rollout.executions[-1] if rollout.executions else None
        outcome = result.outcome.value if result else "no_program"
        program_answer = extract_program_answer(result.output) if result and result.ok else None
        text_match, program_match = (
            self.matcher(text_answer, gold),
            self.matcher(program_answer, gold),
        )
        final_answer = self._final_answer(blocks, program_answer)
        final_match = (
            program_match if final_answer == program_answer else self.matcher(final_answer, gold)
        )
        program_reason = program_match.reason
        if result is None or not result.ok:
            program_reason = outcome + (f" ({result.error})" if result and result.error else "")
        return Verdict(
            text_answer=text_answer,
            program_answer=program_answer,
            correct=final_match.correct,
            text_correct=text_match.correct,
            outcome=outcome,
            output=result.output if result else "",
            program_correct=program_match.correct,
            final_answer=final_answer,
            stage="solution" if final_answer is not None else "none",
            matcher_timed_out=any(m.timed_out for m in (text_match, program_match, final_match)),
            generated_tokens=rollout.num_generated_tokens,
            reasons=(f"reasoning: {text_match.reason}", f"program: {program_reason}"),
        )

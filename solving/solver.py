"""Solving evaluation problems, with HTL's fallback cascade as an option.

HTL evaluated its models so that a solution without an answer still gets a second and a third
chance: when the reasoning-then-program solution has no runnable program or its program prints
no answer, the same problem is asked again for a program alone (PoT); when that gives nothing
either, for an answer in words alone (CoT). Only the problems still unanswered are re-prompted, as
one left-padded batch per stage, through the same generation engine.

It sits above both ``generation`` and ``grading`` because it grades each attempt to decide the
next: the engine below it only generates and runs code, and grading never generates.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import torch
from transformers import PreTrainedModel, PreTrainedTokenizerBase

from checks import InputError
from datamodules.formats import HTLFormat, SolutionFormat
from datamodules.pipeline.encoding import collate_prompts, encode_many
from generation.engine import GenerationEngine, Rollout
from grading.answers import AnswerMatcher
from grading.verification import SolutionVerifier, Verdict
from sandbox import SandboxPool

AttemptStage = Literal["solution", "program", "words"]


@dataclass(frozen=True)
class Attempt:
    """One generation for a problem: the stage that asked for it, the prompt, what came back."""

    stage: AttemptStage
    prompt: str
    rollout: Rollout

    def record(self) -> dict[str, Any]:
        return {
            "stage": self.stage,
            "prompt": self.prompt,
            "generation": self.rollout.text,
            "executions": [result.to_wire() for result in self.rollout.executions],
            "finish_reason": self.rollout.finish_reason,
        }


@dataclass(frozen=True)
class Solution:
    """One rollout of one problem: its attempts in order and the verdict on them all."""

    attempts: tuple[Attempt, ...]
    verdict: Verdict

    @property
    def prompt_index(self) -> int:
        return self.attempts[0].rollout.prompt_index

    @property
    def generation(self) -> str:
        return self.attempts[0].rollout.text

    def record(self) -> dict[str, Any]:
        """The first attempt's prompt, generation and runs, the fallbacks, and the verdict."""
        first, *fallbacks = self.attempts
        return {
            **{key: value for key, value in first.record().items() if key != "stage"},
            "fallbacks": [attempt.record() for attempt in fallbacks],
            **self.verdict.record(),
        }


class Solver:
    """Generates solutions for an evaluation batch and grades them.

    Args:
        engine: generates and runs the code (the cascade's re-prompts use one sample each).
        format: the solution format of the first attempt.
        matcher: compares answers with the golds.
        cascade: HTL's fallback cascade (HTL format only).
    """

    def __init__(
        self,
        engine: GenerationEngine,
        format: SolutionFormat,
        matcher: AnswerMatcher,
        cascade: bool = False,
    ) -> None:
        if cascade and not isinstance(format, HTLFormat):
            raise InputError(
                f"the fallback cascade needs the HTL format, got {type(format).__name__}"
            )
        self.engine, self.format, self.matcher = engine, format, matcher
        self.fallbacks: tuple[tuple[AttemptStage, SolutionFormat], ...] = ()
        if cascade:
            self.fallbacks = (("program", format.program_only()), ("words", format.words_only()))
        self.fallback_engine = engine.with_options(num_samples=1)  # one per re-prompt

    def solve(
        self,
        model: PreTrainedModel,
        tokenizer: PreTrainedTokenizerBase,
        sandbox: SandboxPool,
        batch: Mapping[str, Any],
    ) -> list[Solution]:
        """``num_samples`` solutions per problem of ``batch`` (an evaluation batch: left-padded
        ``prompt_input_ids`` / ``prompt_attention_mask`` and the ``problems``), prompt-major."""
        input_ids, attention_mask = batch["prompt_input_ids"], batch["prompt_attention_mask"]
        rollouts = self.engine.rollout(
            model, tokenizer, self.format, sandbox, input_ids, attention_mask
        )
        golds = [problem.answer for problem in batch["problems"]]
        verdicts = SolutionVerifier(self.format, self.matcher).verify(rollouts, golds)
        prompts = _decode_prompts(tokenizer, input_ids, attention_mask)
        solutions = [
            Solution((Attempt("solution", prompts[rollout.prompt_index], rollout),), verdict)
            for rollout, verdict in zip(rollouts, verdicts)
        ]
        for stage, format in self.fallbacks:
            pending = [
                i for i, solution in enumerate(solutions) if solution.verdict.stage == "none"
            ]
            if pending:
                self._fall_back(model, tokenizer, sandbox, batch, solutions, pending, stage, format)
        return solutions

    def _fall_back(
        self,
        model: PreTrainedModel,
        tokenizer: PreTrainedTokenizerBase,
        sandbox: SandboxPool,
        batch: Mapping[str, Any],
        solutions: list[Solution],
        pending: Sequence[int],
        stage: AttemptStage,
        format: SolutionFormat,
    ) -> None:
        """Re-asks the ``pending`` solutions' problems in ``format``; updates them in place."""
        problems = [solutions[index].prompt_index for index in pending]
        samples = [batch["problems"][p] for p in problems]
        encoded = encode_many([format.prompt(sample) for sample in samples], tokenizer)
        prompts = collate_prompts(
            [sequence.input_ids for sequence in encoded], tokenizer.pad_token_id
        )
        device = batch["prompt_input_ids"].device
        input_ids = prompts["input_ids"].to(device)
        attention_mask = prompts["attention_mask"].to(device)
        rollouts = self.fallback_engine.rollout(
            model, tokenizer, format, sandbox, input_ids, attention_mask
        )
        golds = [sample.answer for sample in samples]
        verdicts = SolutionVerifier(format, self.matcher).verify(rollouts, golds)
        texts = _decode_prompts(tokenizer, input_ids, attention_mask)
        for index, rollout, verdict in zip(pending, rollouts, verdicts):
            solution = solutions[index]
            attempt = Attempt(stage, texts[rollout.prompt_index], rollout)
            solutions[index] = Solution(
                (*solution.attempts, attempt), solution.verdict.with_fallback(stage, verdict)
            )


def _decode_prompts(
    tokenizer: PreTrainedTokenizerBase, input_ids: torch.Tensor, attention_mask: torch.Tensor
) -> list[str]:
    """The prompts as the model saw them, padding left out and special tokens kept."""
    return [
        tokenizer.decode(ids[mask.bool()].tolist(), skip_special_tokens=False)
        for ids, mask in zip(input_ids, attention_mask)
    ]

"""Batched generation for validation, test, predict and PPO rollouts.

``rollout`` is the one entry point: it generates, runs each solution's code in the sandbox and
returns ``Rollout`` records that carry both the text (for grading) and the token ids with a mask
of which tokens the model wrote (for the policy loss: execution output is not the model's).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import torch
from transformers import PreTrainedModel, PreTrainedTokenizerBase

from datamodules.formats import SolutionFormat
from sandbox import ExecutionResult, SandboxPool

FinishReason = Literal["eos", "block_limit", "token_budget"]


@dataclass
class GenerationOptions:
    """Decoding settings (greedy by default, as HTL and MathCoder evaluate)."""

    max_new_tokens: int = 256
    do_sample: bool = False
    temperature: float = 1.0
    top_p: float = 1.0
    top_k: int = 0
    num_samples: int = 1
    seed: int = 0


@dataclass
class Rollout:
    """One generated solution: what the model wrote, what its code printed, which tokens are its.

    ``token_ids`` is the whole response after the prompt (the model's tokens, EOS included when
    it stopped there, plus any execution blocks the engine inserted); ``generated_mask`` is True
    for the model's tokens. ``text`` is ``token_ids`` decoded with special tokens kept, EOS left
    out. ``executions`` are the code runs in order (HTL: the one program).
    """

    prompt_index: int
    text: str
    token_ids: list[int]
    generated_mask: list[bool]
    executions: list[ExecutionResult] = field(default_factory=list)
    finish_reason: FinishReason = "eos"

    @property
    def num_generated_tokens(self) -> int:
        return sum(self.generated_mask)


class GenerationEngine:
    def __init__(self, options: GenerationOptions | None = None) -> None:
        self.options = options or GenerationOptions()

    @torch.no_grad()
    def rollout(
        self,
        model: PreTrainedModel,
        tokenizer: PreTrainedTokenizerBase,
        format: SolutionFormat,
        sandbox: SandboxPool,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor,
    ) -> list[Rollout]:
        """``num_samples`` rollouts per left-padded prompt, prompt-major
        (rollout ``i`` answers prompt ``i // num_samples``)."""
        options = self.options
        sampling = {}
        if options.do_sample:
            torch.manual_seed(options.seed)
            sampling = {
                "temperature": options.temperature,
                "top_p": options.top_p,
                "top_k": options.top_k,
            }
        output = model.generate(
            input_ids=input_ids,
            attention_mask=attention_mask,
            max_new_tokens=options.max_new_tokens,
            do_sample=options.do_sample,
            num_return_sequences=options.num_samples,
            eos_token_id=tokenizer.eos_token_id,
            pad_token_id=tokenizer.pad_token_id,
            **sampling,
        )
        rollouts = []
        for index, row in enumerate(output[:, input_ids.shape[1] :].tolist()):
            stopped = tokenizer.eos_token_id in row
            if stopped:
                row = row[: row.index(tokenizer.eos_token_id) + 1]
            text = tokenizer.decode(row[:-1] if stopped else row, skip_special_tokens=False)
            rollouts.append(
                Rollout(
                    prompt_index=index // options.num_samples,
                    text=text,
                    token_ids=row,
                    generated_mask=[True] * len(row),
                    finish_reason="eos" if stopped else "token_budget",
                )
            )
        run_programs(format, sandbox, rollouts)
        return rollouts


def run_programs(format: SolutionFormat, sandbox: SandboxPool, rollouts: list[Rollout]) -> None:
    """One-round formats (HTL) run their whole program once generation has ended."""
    programs = [
        "\n".join(b.content for b in format.parse(r.text) if b.kind == "code") for r in rollouts
    ]
    to_run = [index for index, program in enumerate(programs) if program.strip()]
    for index, result in zip(to_run, sandbox.run_many([programs[i] for i in to_run])):
        rollouts[index].executions.append(result)

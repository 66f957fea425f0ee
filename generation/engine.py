"""Batched generation for validation, test and predict.

One round: the model continues each prompt until EOS or the token budget. Formats with execution
rounds (LCE, markdown fences) get a multi-round engine behind the same ``generate`` call.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from transformers import PreTrainedModel, PreTrainedTokenizerBase


@dataclass
class GenerationOptions:
    """Decoding settings (greedy by default, as HTL and MathCoder evaluate)."""

    max_new_tokens: int = 256
    do_sample: bool = False
    temperature: float = 1.0
    top_p: float = 1.0
    top_k: int = 0
    seed: int = 0


class GenerationEngine:
    def __init__(self, options: GenerationOptions | None = None) -> None:
        self.options = options or GenerationOptions()

    @torch.no_grad()
    def generate(
        self,
        model: PreTrainedModel,
        tokenizer: PreTrainedTokenizerBase,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor,
    ) -> list[str]:
        """Continuations of left-padded prompts, decoded with special tokens kept (formats parse
        their markers) and cut at the first EOS."""
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
            eos_token_id=tokenizer.eos_token_id,
            pad_token_id=tokenizer.pad_token_id,
            **sampling,
        )
        continuations = []
        for row in output[:, input_ids.shape[1] :].tolist():
            if tokenizer.eos_token_id in row:
                row = row[: row.index(tokenizer.eos_token_id)]
            continuations.append(tokenizer.decode(row, skip_special_tokens=False))
        return continuations

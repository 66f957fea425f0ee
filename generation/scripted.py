"""A logits processor that makes any model write a script: exact rounds for tests and benchmarks.

The real model still runs every forward pass (so costs are real); only its choice of token is
overridden. Each prompt has a script, the tokens the model is to write in order; the engine's
inserted tokens (execution output, forcing phrases) are skipped over when lining the sequence
up with its script, so a script must not continue with a token that the insertion before it
contains (start segments with a marker, e.g. ``<|code|>``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch
from transformers import LogitsProcessor


class ScriptedLogits(LogitsProcessor):
    """Forces each row's next token from the script of its prompt; EOS once the script is done.

    Args:
        scripts: prompt token ids (without padding) -> the tokens to write after it.
        pad_id: the padding id (never part of a prompt or a script).
        eos_id: written when a script is used up.
    """

    def __init__(
        self, scripts: Mapping[tuple[int, ...], Sequence[int]], pad_id: int, eos_id: int
    ) -> None:
        self.scripts = {tuple(prompt): list(script) for prompt, script in scripts.items()}
        self.pad_id, self.eos_id = pad_id, eos_id
        # Each row's place in its script after the previous step, keyed by the row's tokens:
        # a row that grew by one token moves on from there instead of being lined up again.
        self._places: dict[tuple[int, ...], tuple[tuple[int, ...], int]] = {}

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor) -> torch.FloatTensor:
        forced = torch.full_like(scores, float("-inf"))
        places = {}
        for row, ids in enumerate(input_ids.tolist()):
            tokens = tuple(t for t in ids if t != self.pad_id)
            prompt, position = self._place(tokens)
            places[tokens] = prompt, position
            script = self.scripts[prompt]
            forced[row, script[position] if position < len(script) else self.eos_id] = 0.0
        self._places = places
        return forced

    def _place(self, tokens: tuple[int, ...]) -> tuple[tuple[int, ...], int]:
        """The row's prompt and how much of its script it has written."""
        if tokens[:-1] in self._places:
            prompt, position = self._places[tokens[:-1]]
            script = self.scripts[prompt]
            matched = position < len(script) and tokens[-1] == script[position]
            return prompt, position + matched
        prompt = max((p for p in self.scripts if tokens[: len(p)] == p), key=len, default=None)
        if prompt is None:
            raise ValueError(f"no script for a sequence starting {list(tokens[:12])}")
        script, position = self.scripts[prompt], 0
        for token in tokens[len(prompt) :]:
            if position < len(script) and token == script[position]:
                position += 1
        return prompt, position

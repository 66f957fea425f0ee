"""Where a generation round ends, per sequence: at a format marker, at EOS, or at its budget.

Markers that are special tokens are matched by id (exact and free); other markers (markdown's
fences) by HF's ``StopStringCriteria``, which finds them across token boundaries.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from transformers import PreTrainedTokenizerBase, StoppingCriteria, StopStringCriteria

from checks import InputError
from datamodules.formats import SolutionFormat


@dataclass(frozen=True)
class StopMarkers:
    """A format's markers resolved against a tokenizer.

    ``end_ids`` finish the answer (EOS and the format's end markers); ``stop_ids`` and
    ``stop_strings`` end a round (``stop_ids`` includes ``end_ids``).
    """

    end_ids: tuple[int, ...]
    stop_ids: tuple[int, ...]
    stop_strings: tuple[str, ...]

    @classmethod
    def resolve(cls, format: SolutionFormat, tokenizer: PreTrainedTokenizerBase) -> StopMarkers:
        if tokenizer.eos_token_id is None:
            raise InputError("the tokenizer has no EOS token; generation could never end")
        special = set(tokenizer.all_special_tokens)
        for marker in format.end_strings:
            if marker not in special:
                raise ValueError(
                    f"{type(format).__name__}.end_strings: {marker!r} is not a special token "
                    "of the tokenizer (add the format's special_tokens first)"
                )
        end_ids = (tokenizer.eos_token_id, *tokenizer.convert_tokens_to_ids(format.end_strings))
        token_stops = [marker for marker in format.stop_strings if marker in special]
        return cls(
            end_ids=tuple(end_ids),
            stop_ids=tuple(
                dict.fromkeys(end_ids + tuple(tokenizer.convert_tokens_to_ids(token_stops)))
            ),
            stop_strings=tuple(m for m in format.stop_strings if m not in special),
        )


class RoundEnd(StoppingCriteria):
    """Stops each sequence of one ``generate`` call at a marker or at its own token budget, and
    records where, so the caller never has to guess a row's end from padding.

    ``ended_at[i]`` is row i's length when it stopped (0 while running); ``at_marker[i]`` tells
    whether a marker (rather than the budget) stopped it.
    """

    def __init__(
        self,
        start: int,
        budgets: torch.Tensor,
        markers: StopMarkers,
        tokenizer: PreTrainedTokenizerBase,
    ) -> None:
        self.start = start
        self.budgets = budgets
        self.stop_ids = torch.tensor(markers.stop_ids, device=budgets.device)
        self.strings = (
            StopStringCriteria(tokenizer, list(markers.stop_strings))
            if markers.stop_strings
            else None
        )
        self.ended_at = torch.zeros_like(budgets)
        self.at_marker = torch.zeros_like(budgets, dtype=torch.bool)

    def __call__(
        self, input_ids: torch.LongTensor, scores: torch.FloatTensor | None, **kwargs: object
    ) -> torch.BoolTensor:
        at_marker = torch.isin(input_ids[:, -1], self.stop_ids)
        if self.strings is not None:
            at_marker |= self.strings(input_ids, scores)
        over_budget = input_ids.shape[1] - self.start >= self.budgets
        newly = (self.ended_at == 0) & (at_marker | over_budget)
        self.ended_at[newly] = input_ids.shape[1]
        self.at_marker |= newly & at_marker
        return self.ended_at > 0

    def new_lengths(self, total_length: int) -> list[int]:
        """Tokens each row generated in this call (rows still running at the end used all)."""
        ended = torch.where(self.ended_at > 0, self.ended_at, total_length)
        return (ended - self.start).tolist()


class Interruption(StoppingCriteria):
    """Runs ``check`` after every decoding step, so a stop request can end a batch mid-way.

    Lightning looks at SIGTERM only between batches, and one batch of a real model's generation
    can take minutes; ``check`` raises to abandon the batch (nothing half-generated is graded).
    """

    def __init__(self, check: Callable[[], None]) -> None:
        self.check = check

    def __call__(
        self, input_ids: torch.LongTensor, scores: torch.FloatTensor | None, **kwargs: object
    ) -> torch.BoolTensor:
        self.check()
        return torch.zeros(input_ids.shape[0], dtype=torch.bool, device=input_ids.device)

"""The seam between the multi-round engine and whatever decodes tokens.

The engine owns the rounds (stop at a marker, run the program, append the execution tokens,
go on); a backend owns the decoding: it continues token sequences until a stop marker or a
per-row budget. ``transformers`` decodes with the policy itself (``model.generate``, KV cache
kept across rounds); ``vllm`` with an in-process vLLM engine that holds a copy of its weights
(continuous batching, prefix caching). Token ids go from round to round as generated: nothing
is decoded and re-encoded between rounds.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

import torch
from transformers import LogitsProcessor, PreTrainedModel, PreTrainedTokenizerBase

from generation.stopping import StopMarkers

if TYPE_CHECKING:
    from generation.engine import GenerationOptions


@dataclass
class Decoded:
    """What one row generated in a round: its new tokens, whether a stop marker (rather than
    the budget) ended them, and each token's log-probability under the decoder (None when the
    backend does not report them)."""

    tokens: list[int]
    at_marker: bool
    logprobs: list[float] | None = None


class Decoding(Protocol):
    """One rollout's sequences on a backend. ``rows[i]`` names the trajectory that the i-th
    active sequence belongs to; finished ones leave through ``advance``."""

    rows: list[int]

    def step(self, budgets: Sequence[int]) -> list[Decoded]:
        """One round for every active row, each within its own token budget."""

    def advance(self, keep: Sequence[int], chunks: Sequence[list[int]]) -> None:
        """Keep the rows at positions ``keep``; each drops its last token (the marker that
        ended its round) and continues with its chunk (the marker again, then the execution
        block; or the budget-forcing phrase instead of an end marker)."""

    def idle(self) -> None:
        """Join the other ranks' round when this rank has no rows left."""


@dataclass(frozen=True)
class DecodingRequest:
    """Everything a backend needs to start a rollout's decoding."""

    model: PreTrainedModel
    tokenizer: PreTrainedTokenizerBase
    markers: StopMarkers
    options: GenerationOptions
    input_ids: torch.Tensor  # left-padded prompts, one row per trajectory
    attention_mask: torch.Tensor
    pad_id: int
    logits_processors: Sequence[LogitsProcessor] = ()
    interrupt: Callable[[], None] | None = None


class DecodingBackend(ABC):
    """Builds a ``Decoding`` per rollout; may keep state across rollouts (vLLM's engine)."""

    @abstractmethod
    def start(self, request: DecodingRequest) -> Decoding:
        """The decoding of one rollout's trajectories."""

    def sync_weights(self, model: PreTrainedModel) -> None:  # noqa: B027 (optional hook)
        """The policy's weights changed (an optimizer step): decode with the new ones from the
        next rollout on. A backend that decodes with the policy itself has nothing to do."""

    def close(self) -> None:  # noqa: B027 (optional hook)
        """Release what the backend holds (processes, memory)."""


def build_backend(options: GenerationOptions) -> DecodingBackend:
    """The backend ``options.backend`` names."""
    if options.backend == "transformers":
        from generation.transformers_backend import TransformersBackend

        return TransformersBackend(options.dtype)
    from generation.vllm_backend import VLLMBackend

    return VLLMBackend(options.vllm)

"""Decoding with the policy itself, through transformers' ``generate``.

Each round continues every active row with one ``generate`` call; the KV cache is kept across
rounds (``ActiveBatch``), so a round feeds only the new tokens. Under FSDP every rank makes
the same calls (``generation.distributed``). ``dtype`` decodes with a cast copy of the policy
(bfloat16 on CPUs with AVX-512 bf16), refreshed whenever the weights change.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence

import torch
from transformers import LogitsProcessorList, PreTrainedModel, StoppingCriteriaList

from generation.backend import Decoded, DecodingBackend, DecodingRequest
from generation.batch import ActiveBatch
from generation.distributed import idle_round, ranks_must_sync
from generation.stopping import Interruption, RoundEnd


class TransformersBackend(DecodingBackend):
    """``model.generate`` over an ``ActiveBatch``; see the module docstring.

    Args:
        dtype: decode in this dtype (``"bfloat16"``) with a cast copy of the policy; None
            decodes with the policy as it is.
    """

    def __init__(self, dtype: str | None = None) -> None:
        self.dtype = getattr(torch, dtype) if dtype else None
        self._cast: tuple[int, PreTrainedModel] | None = None  # (id of the policy, its copy)

    def start(self, request: DecodingRequest) -> _GenerateDecoding:
        return _GenerateDecoding(request, self._decoder(request.model))

    def sync_weights(self, model: PreTrainedModel) -> None:
        self._cast = None

    def _decoder(self, model: PreTrainedModel) -> PreTrainedModel:
        """The policy, or its copy in ``dtype`` (made once per weights version)."""
        if self.dtype is None or model.dtype == self.dtype:
            return model
        if self._cast is None or self._cast[0] != id(model):
            self._cast = (id(model), copy.deepcopy(model).to(self.dtype).eval())
        return self._cast[1]


class _GenerateDecoding:
    """One rollout's rows as a left-padded token matrix with its KV cache."""

    def __init__(self, request: DecodingRequest, model: PreTrainedModel) -> None:
        self.request, self.model = request, model
        self.batch = ActiveBatch(request.input_ids, request.attention_mask, request.pad_id)
        self.interruption = [Interruption(request.interrupt)] if request.interrupt else []

    @property
    def rows(self) -> list[int]:
        return self.batch.rows

    def step(self, budgets: Sequence[int]) -> list[Decoded]:
        request, batch, options = self.request, self.batch, self.request.options
        limits = torch.tensor(list(budgets), device=batch.ids.device)
        round_end = RoundEnd(batch.width, limits, request.markers, request.tokenizer)
        sampling = (
            {"temperature": options.temperature, "top_p": options.top_p, "top_k": options.top_k}
            if options.do_sample
            else {}
        )
        output = self.model.generate(
            input_ids=batch.ids,
            attention_mask=batch.mask,
            past_key_values=batch.cache,
            max_new_tokens=int(limits.max()),
            do_sample=options.do_sample,
            **sampling,
            eos_token_id=list(request.markers.stop_ids),
            pad_token_id=request.pad_id,
            stopping_criteria=StoppingCriteriaList([*self.interruption, round_end]),
            logits_processor=LogitsProcessorList(request.logits_processors),
            return_dict_in_generate=True,
            synced_gpus=ranks_must_sync(),
        )
        lengths = round_end.new_lengths(output.sequences.shape[1])
        new_tokens = batch.take(output.sequences, output.past_key_values, lengths)
        return [Decoded(t, m) for t, m in zip(new_tokens, round_end.at_marker.tolist())]

    def advance(self, keep: Sequence[int], chunks: Sequence[list[int]]) -> None:
        self.batch.advance(keep, chunks)
        if not self.request.options.reuse_cache and self.batch:
            self.batch.compact()

    def idle(self) -> None:
        idle_round(self.model, self.request.pad_id, self.batch.ids.device)

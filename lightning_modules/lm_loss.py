"""The training loss of a causal LM, optionally without ever holding the whole batch's logits.

With Gemma 3's 262k-entry vocabulary the logits of a batch of 8 x 512 tokens are 4.3 GB in fp32,
and cross-entropy keeps as much again for its backward: they, not the 270M parameters, set the
memory. The chunked loss runs the backbone once, keeps only the positions that carry a label (the
prompt is never scored), and applies the LM head and cross-entropy ``chunk_tokens`` positions at a
time under activation checkpointing, so one chunk's logits live at a time; backward recomputes
them. The result is transformers' own loss (the mean over labelled tokens), as the tests check.
"""

from __future__ import annotations

from collections.abc import Mapping

import torch
from torch import Tensor
from torch.utils.checkpoint import checkpoint
from transformers import PreTrainedModel

IGNORE_INDEX = -100


def causal_lm_loss(
    model: PreTrainedModel,
    batch: Mapping[str, Tensor],
    attention_mask: Tensor | dict[str, Tensor],
    chunk_tokens: int | None,
) -> Tensor:
    """The mean next-token cross-entropy over ``batch["labels"]``: the model's own forward when
    ``chunk_tokens`` is None, else the chunked computation above."""
    inputs = {
        "input_ids": batch["input_ids"],
        "attention_mask": attention_mask,
        "position_ids": batch.get("position_ids"),  # packed rows restart them per sample
    }
    if chunk_tokens is None:
        return model(**inputs, labels=batch["labels"]).loss
    hidden = model.get_decoder()(**inputs).last_hidden_state
    targets = torch.nn.functional.pad(batch["labels"], (0, 1), value=IGNORE_INDEX)[:, 1:]
    scored = targets != IGNORE_INDEX
    hidden, targets = hidden[scored], targets[scored]
    head = model.get_output_embeddings()
    softcap = getattr(model.config, "final_logit_softcapping", None)
    total = hidden.new_zeros(())
    for states, labels in zip(hidden.split(chunk_tokens), targets.split(chunk_tokens)):
        total = total + checkpoint(chunk_loss, head, softcap, states, labels, use_reentrant=False)
    return total / targets.numel()


def chunk_loss(
    head: torch.nn.Module, softcap: float | None, states: Tensor, labels: Tensor
) -> Tensor:
    """The summed cross-entropy of one chunk, with the head applied as the model applies it
    (Gemma 2's final soft-capping included)."""
    logits = head(states).float()
    if softcap is not None:
        logits = torch.tanh(logits / softcap) * softcap
    return torch.nn.functional.cross_entropy(logits, labels, reduction="sum")

"""Keeping ranks in step while generating with a sharded model (FSDP2).

A sharded model gathers each layer's weights from all ranks in every forward pass, so every
rank must make the same forward passes: within one ``generate`` call HF's ``synced_gpus`` keeps
finished ranks stepping until all are done; across rounds, every rank makes one ``generate``
call per round until no rank has sequences left, with a dummy one when it has none itself.
"""

from __future__ import annotations

import torch
import torch.distributed as dist
from transformers import PreTrainedModel


def ranks_must_sync() -> bool:
    """True when other ranks take part in this model's forward passes."""
    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


def any_rank(flag: bool, device: torch.device) -> bool:
    """``flag`` or-ed over all ranks (just ``flag`` when running alone)."""
    if not ranks_must_sync():
        return flag
    value = torch.tensor([int(flag)], device=device)
    dist.all_reduce(value, op=dist.ReduceOp.MAX)
    return bool(value.item())


def idle_round(model: PreTrainedModel, token_id: int, device: torch.device) -> None:
    """Join the other ranks' round with a one-token dummy sequence: ``synced_gpus`` keeps this
    rank stepping (and its shards gathered) until every rank's round is over."""
    dummy = torch.full((1, 1), token_id, dtype=torch.long, device=device)
    model.generate(
        input_ids=dummy,
        attention_mask=torch.ones_like(dummy),
        max_new_tokens=1,
        do_sample=False,
        pad_token_id=token_id,
        synced_gpus=True,
    )

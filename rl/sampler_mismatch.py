"""The gap between the sampler's and the trainer's probabilities of the same tokens.

A fast sampler (vLLM, bf16 kernels) and the trainer (fp32, another attention kernel) assign
slightly different probabilities to the same tokens, so the rollouts are a little off-policy
even before the first update. The trainer still recomputes the old log-probs itself (the PPO
ratio stays exact); these functions measure the gap and offer its truncated importance-sampling
correction (Yao et al. 2025), a per-token weight ``min(π_trainer / π_sampler, cap)``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import Tensor

from generation.engine import Rollout


def sampler_logprobs(rollouts: Sequence[Rollout], like: Tensor) -> Tensor | None:
    """The sampler's log-prob of each response token, laid out as ``like`` (rollout-major,
    responses left-aligned): NaN where unknown (inserted tokens, padding). None when no rollout
    carries them (the transformers backend)."""
    if all(rollout.sampled_logprobs is None for rollout in rollouts):
        return None
    table = torch.full(like.shape, math.nan, dtype=torch.float32)
    for row, rollout in enumerate(rollouts):
        values = rollout.sampled_logprobs or []
        table[row, : len(values)] = torch.tensor(values, dtype=torch.float32)
    return table.to(like.device)


def logprob_gap(trainer: Tensor, sampler: Tensor, mask: Tensor) -> dict[str, float]:
    """Largest and mean ``|log π_trainer - log π_sampler|`` over the masked tokens both know."""
    known = mask & sampler.isfinite()
    gap = (trainer.float() - sampler).abs()[known]
    if gap.numel() == 0:
        return {}
    return {
        "sampler/logprob_gap_max": gap.max().item(),
        "sampler/logprob_gap_mean": gap.mean().item(),
    }


def truncated_importance_weights(trainer: Tensor, sampler: Tensor, cap: float) -> Tensor:
    """``min(exp(log π_trainer - log π_sampler), cap)`` per token; 1 where the sampler's
    log-prob is unknown. No gradient flows through it."""
    ratio = torch.exp(trainer.detach().float() - sampler).clamp(max=cap)
    return torch.where(sampler.isfinite(), ratio, torch.ones_like(ratio))

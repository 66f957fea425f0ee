"""PPO's clipped surrogate losses (Schulman et al. 2017) and the entropy, over masked tokens."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from rl.masked import masked_mean


@dataclass(frozen=True)
class PolicyLoss:
    """The loss to minimise and what to log about it.

    ``clip_fraction``: share of tokens whose gradient the clip removed; ``approx_kl``: the
    estimate ``mean((log π_new - log π_old)² / 2)`` used for the target-KL early stop."""

    loss: Tensor
    clip_fraction: Tensor
    approx_kl: Tensor


@dataclass(frozen=True)
class ValueLoss:
    loss: Tensor
    clip_fraction: Tensor


def clipped_policy_loss(
    logprobs: Tensor, old_logprobs: Tensor, advantages: Tensor, mask: Tensor, clip_range: float
) -> PolicyLoss:
    """``max(-A·r, -A·clip(r, 1-ε, 1+ε))`` with ``r = π_new / π_old``, averaged over tokens."""
    log_ratio = logprobs - old_logprobs
    ratio = torch.exp(log_ratio)
    unclipped = -advantages * ratio
    clipped = -advantages * torch.clamp(ratio, 1.0 - clip_range, 1.0 + clip_range)
    return PolicyLoss(
        loss=masked_mean(torch.maximum(unclipped, clipped), mask),
        clip_fraction=masked_mean((clipped > unclipped).float(), mask),
        approx_kl=masked_mean(0.5 * log_ratio.detach() ** 2, mask),
    )


def clipped_value_loss(
    values: Tensor, old_values: Tensor, returns: Tensor, mask: Tensor, clip_range: float
) -> ValueLoss:
    """``½·max((V - R)², (V_clip - R)²)`` with ``V_clip`` kept within ``clip_range`` of the
    rollout-time value, so one batch cannot move the critic far."""
    clipped_values = old_values + torch.clamp(values - old_values, -clip_range, clip_range)
    unclipped_error = (values - returns) ** 2
    clipped_error = (clipped_values - returns) ** 2
    return ValueLoss(
        loss=0.5 * masked_mean(torch.maximum(unclipped_error, clipped_error), mask),
        clip_fraction=masked_mean((clipped_error > unclipped_error).float(), mask),
    )


def entropy_from_logits(logits: Tensor) -> Tensor:
    """Entropy of each position's next-token distribution, (B, T, V) → (B, T)."""
    log_probs = torch.log_softmax(logits.float(), dim=-1)
    return -(log_probs.exp() * log_probs).sum(-1)

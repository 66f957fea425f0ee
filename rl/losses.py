"""PPO's clipped surrogate losses (Schulman et al. 2017) and the entropy, over masked tokens.

The policy loss is a weighted sum of token losses; ``loss_weights`` says how tokens are
aggregated (``PPOOptions.loss_type``), so micro-batches of one minibatch add up exactly."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from rl.masked import masked_mean
from rl.options import LossType


@dataclass(frozen=True)
class PolicyLoss:
    """The loss to minimise and what to log about it.

    ``clip_fraction``: share of tokens whose gradient the clip removed; ``approx_kl``: the
    estimate ``mean((log π_new - log π_old)² / 2)`` used for the target-KL early stop;
    ``ratio_min`` / ``ratio_max``: the extremes of ``π_new / π_old`` (1 where no token is
    weighed). The statistics are over the tokens with a positive weight."""

    loss: Tensor
    clip_fraction: Tensor
    approx_kl: Tensor
    ratio_min: Tensor
    ratio_max: Tensor


@dataclass(frozen=True)
class ValueLoss:
    loss: Tensor
    clip_fraction: Tensor


def loss_weights(mask: Tensor, loss_type: LossType, max_length: int) -> Tensor:
    """Per-token weights that turn token losses into the minibatch's loss (``Σ w·ℓ``).

    ``dapo``: ``1 / (loss tokens)``, a token-level mean; ``grpo``: ``1 / (|y_i| · sequences)``,
    the mean of per-sequence means (sequences without a loss token do not count);
    ``dr_grpo``: ``1 / (max_length · rows)``, a constant, so no sequence is length-normalised.
    """
    weights = mask.float()
    if loss_type == "dapo":
        return weights / weights.sum().clamp(min=1.0)
    if loss_type == "grpo":
        lengths = weights.sum(1, keepdim=True)
        sequences = (lengths > 0).sum().clamp(min=1)
        return weights / lengths.clamp(min=1.0) / sequences
    if loss_type == "dr_grpo":
        return weights / (max_length * mask.shape[0])
    raise ValueError(f"unknown loss_type {loss_type!r}")


def clipped_policy_loss(
    logprobs: Tensor,
    old_logprobs: Tensor,
    advantages: Tensor,
    weights: Tensor,
    epsilon: float,
    epsilon_high: float | None = None,
) -> PolicyLoss:
    """``Σ w·max(-A·r, -A·clip(r, 1-ε, 1+ε_high))`` with ``r = π_new / π_old`` and the token
    weights ``w`` of :func:`loss_weights`; ``ε_high`` defaults to ``ε`` (symmetric clip)."""
    mask = weights > 0
    log_ratio = logprobs - old_logprobs
    ratio = torch.exp(log_ratio)
    high = epsilon if epsilon_high is None else epsilon_high
    unclipped = -advantages * ratio
    clipped = -advantages * torch.clamp(ratio, 1.0 - epsilon, 1.0 + high)
    token_losses = torch.where(mask, torch.maximum(unclipped, clipped), 0.0)  # NaN-safe
    weighed = ratio.detach()[mask]
    one = ratio.new_tensor(1.0)
    return PolicyLoss(
        loss=(token_losses * weights).sum(),
        clip_fraction=masked_mean((clipped > unclipped).float(), mask),
        approx_kl=masked_mean(0.5 * log_ratio.detach() ** 2, mask),
        ratio_min=weighed.min() if weighed.numel() else one,
        ratio_max=weighed.max() if weighed.numel() else one,
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

"""Advantage estimators: GAE with a critic, and the critic-free GRPO and RLOO group baselines.

Time steps are the model's own tokens (``action_mask``). Execution output inserted by the
engine and padding are not actions: GAE skips over them, so the value after a code block's last
token is bootstrapped from the model's next token, as if the execution were part of the state.
"""

from __future__ import annotations

import torch
from torch import Tensor

from rl.options import PPOOptions


def gae(
    rewards: Tensor, values: Tensor, action_mask: Tensor, gamma: float, lam: float
) -> tuple[Tensor, Tensor]:
    """Generalised advantage estimation (Schulman et al. 2016) over masked tokens.

    All tensors are (B, T). Returns ``(advantages, returns)``, zero where ``action_mask`` is
    False; ``returns = advantages + values`` are the value targets. The episode ends after the
    last action (no bootstrap beyond it)."""
    mask = action_mask.bool()
    advantages = torch.zeros_like(rewards)
    running = torch.zeros_like(rewards[:, 0])
    next_value = torch.zeros_like(rewards[:, 0])
    for t in reversed(range(rewards.shape[1])):  # a recursion in time: no vectorised form
        delta = rewards[:, t] + gamma * next_value - values[:, t]
        candidate = delta + gamma * lam * running
        acting = mask[:, t]
        advantages[:, t] = torch.where(acting, candidate, 0.0)
        running = torch.where(acting, candidate, running)
        next_value = torch.where(acting, values[:, t], next_value)
    returns = (advantages + values) * mask
    return advantages, returns


def grouped(scores: Tensor, group_size: int) -> Tensor:
    """(B,) → (B / group_size, group_size): rollouts are prompt-major, one row per prompt."""
    if group_size < 2 or scores.numel() % group_size:
        raise ValueError(
            f"group baselines need >= 2 samples per prompt and whole groups; got {scores.numel()} "
            f"rollouts in groups of {group_size}"
        )
    return scores.view(-1, group_size)


def group_normalized_advantages(
    scores: Tensor, group_size: int, scale: bool = True, eps: float = 1e-6
) -> Tensor:
    """GRPO (Shao et al. 2024): each rollout's score minus its prompt's mean, over the group's
    standard deviation when ``scale`` (without: Dr. GRPO, arXiv 2503.20783). A group whose
    samples all scored alike teaches nothing (all zeros)."""
    groups = grouped(scores, group_size)
    centred = groups - groups.mean(1, keepdim=True)
    if scale:
        centred = centred / (groups.std(1, keepdim=True) + eps)
    return centred.view(-1)


def leave_one_out_advantages(scores: Tensor, group_size: int) -> Tensor:
    """RLOO (Ahmadian et al. 2024): each score minus the mean of the other samples of its
    prompt, an unbiased baseline that needs no critic."""
    groups = grouped(scores, group_size)
    others = (groups.sum(1, keepdim=True) - groups) / (group_size - 1)
    return (groups - others).view(-1)


def estimate_advantages(
    options: PPOOptions,
    rewards: Tensor,
    values: Tensor | None,
    action_mask: Tensor,
    group_size: int,
) -> tuple[Tensor, Tensor | None]:
    """Per-token advantages of ``options.advantage``'s estimator, and the value targets (GAE
    only). ``grpo`` and ``rloo`` baseline each sequence's return (its summed rewards) within its
    prompt's group and give that advantage to every action of the sequence."""
    if options.advantage == "gae":
        if values is None:
            raise ValueError("advantage 'gae' needs the critic's values")
        return gae(rewards, values, action_mask, options.gamma, options.lam)
    if options.advantage == "grpo":
        sequences = group_normalized_advantages(rewards.sum(1), group_size, options.scale_rewards)
    else:
        sequences = leave_one_out_advantages(rewards.sum(1), group_size)
    return torch.where(action_mask, sequences[:, None], 0.0), None

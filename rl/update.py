"""The update step: ``epochs`` passes of shuffled minibatches over one batch of experience, each
minibatch's clipped losses backpropagated in micro-batches, one optimizer step per minibatch,
and a stop once the policy has moved past the target KL.

The training loop is reached through :class:`Optimization` (backward, the clipped optimizer and
schedule step, reductions over ranks), so the same code runs under Lightning's manual
optimization and, in tests, with a plain optimizer.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Protocol

import torch
from torch import Tensor

from rl.experience import Experience
from rl.losses import clipped_policy_loss, clipped_value_loss, loss_weights
from rl.masked import masked_mean
from rl.options import PPOOptions
from rl.policy import Policy

Reduction = Literal["sum", "mean"]


class Optimization(Protocol):
    """What the update asks of the training loop."""

    def backward(self, loss: Tensor) -> None: ...

    def step(self, max_grad_norm: float | None) -> None:
        """Clips the global gradient norm (None: no clipping), steps the optimizer, zeroes the
        gradients and steps the learning-rate schedule."""

    def reduce(self, value: float, op: Reduction) -> float:
        """``value`` summed or averaged over the ranks (itself on one)."""


@dataclass(frozen=True)
class PPOUpdate:
    """Args: options: the update settings (epochs, minibatches, clipping, loss weights ...);
    max_new_tokens: the rollouts' token budget (``dr_grpo``'s constant)."""

    options: PPOOptions
    max_new_tokens: int

    def __call__(
        self, policy: Policy, experience: Experience, optimization: Optimization
    ) -> dict[str, float]:
        """Trains ``policy`` on ``experience``; returns the summary of the steps taken. Nothing
        to learn on any rank (every rollout filtered out): no step, which would still move the
        weights by Adam's momentum."""
        options = self.options
        if optimization.reduce(experience.loss_mask.sum().item(), "sum") == 0.0:
            return {"updates": 0.0, "early_stopped": 0.0}
        minibatch = options.minibatch_size or len(experience)
        history: list[tuple[int, dict[str, float]]] = []
        for epoch in range(1, options.epochs + 1):
            order = torch.randperm(len(experience), device=experience.advantages.device)
            for rows in order.split(minibatch):
                stats = self.minibatch_step(policy, experience.select(rows), optimization)
                optimization.step(options.max_grad_norm)
                history.append((epoch, stats))
                if self.past_target_kl(stats["approx_kl"], optimization):
                    return summarize(history, early_stopped=True)
        return summarize(history, early_stopped=False)

    def past_target_kl(self, approx_kl: float, optimization: Optimization) -> bool:
        """Whether the policy moved more than 1.5 × ``target_kl`` from the rollout policy,
        judged on the mean over ranks so that all ranks stop together (DDP, FSDP)."""
        if self.options.target_kl is None:
            return False
        return optimization.reduce(approx_kl, "mean") > 1.5 * self.options.target_kl

    def minibatch_step(
        self, policy: Policy, minibatch: Experience, optimization: Optimization
    ) -> dict[str, float]:
        """Backward of the minibatch's loss in micro-batches: the policy loss with the token
        weights of ``loss_type`` over the whole minibatch, the value loss and the entropy as
        token means, each micro-batch weighed by its share of the tokens (so the result is the
        same as one pass over the whole minibatch). Rows without a loss token are skipped."""
        options = self.options
        size = options.micro_batch_size or len(minibatch)
        weights = loss_weights(minibatch.loss_mask, options.loss_type, self.max_new_tokens)
        if minibatch.sampler_weights is not None:
            weights = weights * minibatch.sampler_weights
        total_tokens = minibatch.loss_mask.sum().clamp(min=1)
        sums: dict[str, float] = {"policy_loss": 0.0}
        extremes: dict[str, list[float]] = {"ratio_min": [], "ratio_max": []}
        # Rows a filter left out (dynamic sampling, truncation ...) weigh nothing in any loss:
        # they are not run at all, which is where most of a weak policy's batch goes.
        active = minibatch.loss_mask.any(1).nonzero().squeeze(1)
        for rows in active.split(size):
            part = minibatch.select(rows)
            mask = part.loss_mask
            logprobs, values, entropy = policy.outputs(
                part.batch,
                focus=True,
                values=True,
                entropy=True,
                entropy_grad=bool(options.entropy_coef),
            )
            policy_loss = clipped_policy_loss(
                logprobs,
                part.old_logprobs,
                part.advantages,
                weights[rows],
                options.epsilon,
                options.epsilon_high,
            )
            share = mask.sum() / total_tokens
            entropy_mean = masked_mean(entropy, mask)
            loss = policy_loss.loss - share * options.entropy_coef * entropy_mean
            stats = {
                "clip_fraction": policy_loss.clip_fraction,
                "approx_kl": policy_loss.approx_kl,
                "entropy": entropy_mean,
            }
            if values is not None:
                value = clipped_value_loss(
                    values, part.old_values, part.returns, mask, options.clip_range_value
                )
                loss = loss + share * options.value_loss_coef * value.loss
                stats |= {"value_loss": value.loss, "value_clip_fraction": value.clip_fraction}
            optimization.backward(loss)
            sums["policy_loss"] += float(policy_loss.loss.detach())
            for name, number in stats.items():
                sums[name] = sums.get(name, 0.0) + float(number.detach() * share)
            if mask.any():
                extremes["ratio_min"].append(float(policy_loss.ratio_min))
                extremes["ratio_max"].append(float(policy_loss.ratio_max))
        return sums | {
            "ratio_min": min(extremes["ratio_min"], default=1.0),
            "ratio_max": max(extremes["ratio_max"], default=1.0),
        }


def summarize(history: list[tuple[int, dict[str, float]]], early_stopped: bool) -> dict[str, float]:
    """The batch's optimizer steps (each with its epoch, from 1): means over them, the ratio's
    extremes over all of them, the approximate KL and clip fraction of each epoch (a policy
    running away shows as a rise from epoch to epoch), the step count and whether the KL stop
    fired."""
    steps = [stats for _, stats in history]
    extremes = {"ratio_min": min, "ratio_max": max}
    summary = {
        name: extremes[name](s[name] for s in steps)
        if name in extremes
        else sum(s[name] for s in steps) / len(steps)
        for name in steps[0]
    }
    for epoch in sorted({epoch for epoch, _ in history}):
        of_epoch = [stats for number, stats in history if number == epoch]
        for name in ("approx_kl", "clip_fraction"):
            summary[f"epoch_{epoch}/{name}"] = sum(s[name] for s in of_epoch) / len(of_epoch)
    return summary | {"updates": float(len(history)), "early_stopped": float(early_stopped)}

"""Scored rollouts become experience: the rollout policy's log-probabilities and values frozen,
the KL penalty and the shaped scores as per-token rewards, the advantages, the filters' loss mask
and the sampler's importance weights, with what to log about each.

KL: per-token ``-β·KL(policy || reference)`` is part of the reward (k1 or k3 estimator). For
``grpo``/``rloo`` the sequence's return (score minus its summed KL penalty) is what the group
baseline normalises.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

from checks import InputError
from datamodules.formats import SolutionFormat
from generation.engine import Rollout
from rl.advantages import estimate_advantages
from rl.diagnostics import advantage_diagnostics
from rl.experience import Experience, RolloutBatch, assemble_rollouts, token_rewards
from rl.filters import left_out
from rl.kl import kl_penalty
from rl.masked import explained_variance, masked_mean, masked_whiten
from rl.options import PPOOptions
from rl.policy import FrozenOutputs, Policy
from rl.rewards import ScoredRollouts
from rl.sampler_mismatch import logprob_gap, sampler_logprobs, truncated_importance_weights
from rl.shaping import overlong_penalty


@dataclass(frozen=True)
class ExperienceMaker:
    """Turns one batch of scored rollouts into :class:`Experience`.

    Args:
        options: the PPO settings (estimator, filters, shaping, KL estimator, sampler cap).
        format: the solution format (the void-turn filter parses rollouts with it).
        group_size: rollouts per prompt (``rollout.num_samples``); group baselines and dynamic
            sampling compare the samples of one prompt, so they need at least 2.
        max_new_tokens: the rollouts' token budget (overlong shaping).
        pad_token_id: the tokenizer's padding id.
        focus_start_token_id: the token that opens a program (HTL's ``<Code>``), from which
            response tokens are focus queries; None: no focus queries.
    """

    options: PPOOptions
    format: SolutionFormat
    group_size: int
    max_new_tokens: int
    pad_token_id: int
    focus_start_token_id: int | None = None

    def __post_init__(self) -> None:
        grouping = "dynamic_sampling" if self.options.dynamic_sampling else None
        if self.options.advantage != "gae":
            grouping = f"advantage {self.options.advantage!r}"
        if grouping is not None and self.group_size < 2:
            raise InputError(
                f"{grouping} compares samples of the same prompt: set rollout.num_samples >= 2"
            )

    @torch.no_grad()
    def __call__(
        self,
        policy: Policy,
        batch: Mapping[str, Any],
        rollouts: Sequence[Rollout],
        scored: ScoredRollouts,
        kl_coef: float,
    ) -> tuple[Experience, dict[str, float]]:
        """The experience of ``rollouts`` (sampled from ``batch``'s prompts) and what to log
        about it (KL per sequence, shaping, filters, advantages, critic, sampler gap)."""
        options = self.options
        rollout_batch = assemble_rollouts(
            batch["prompt_input_ids"],
            batch["prompt_attention_mask"],
            rollouts,
            self.pad_token_id,
            batch.get("prompt_focus_keys"),
            self.focus_start_token_id,
        )
        penalty = overlong_penalty(
            rollout_batch.response_mask.sum(1), self.max_new_tokens, options.soft_punish_cache
        )
        scores = torch.tensor(scored.scores, device=penalty.device) + penalty
        out, diagnostics = left_out(options, self.format, rollouts, scores, self.group_size)
        # A group the filters left out whole weighs nothing anywhere: its rows are not run.
        needed = ~out.view(-1, self.group_size).all(1).repeat_interleave(self.group_size)
        logprobs, ref_logprobs, values = self.frozen(policy, rollout_batch, needed)
        mask = rollout_batch.action_mask
        kl = kl_penalty(logprobs, ref_logprobs, options.kl_estimator)
        diagnostics["reward/overlong_penalty"] = penalty.mean().item()
        loss_mask = mask & ~out[:, None]
        rewards = token_rewards(scores, kl, mask, kl_coef)
        advantages, returns = estimate_advantages(options, rewards, values, mask, self.group_size)
        if returns is not None:
            diagnostics["value/explained_variance"] = explained_variance(values, returns, loss_mask)
            diagnostics["value/mean"] = masked_mean(values, loss_mask).item()
        if options.whiten_advantages:
            advantages = masked_whiten(advantages, loss_mask)
        diagnostics |= advantage_diagnostics(advantages, loss_mask)
        sequence_kl = torch.where(mask, kl, 0.0).sum(1)[needed]
        diagnostics["ppo/kl"] = sequence_kl.mean().item() if needed.any() else 0.0
        sampled = sampler_logprobs(rollouts, logprobs)
        weights = None
        if sampled is not None:
            diagnostics |= logprob_gap(logprobs, sampled, mask & needed[:, None])
            if options.sampler_is_cap is not None:
                weights = truncated_importance_weights(logprobs, sampled, options.sampler_is_cap)
        experience = Experience(
            rollout_batch, logprobs, values, advantages, returns, loss_mask, weights
        )
        return experience, diagnostics

    def frozen(self, policy: Policy, batch: RolloutBatch, needed: Tensor) -> FrozenOutputs:
        """:meth:`Policy.frozen` over the ``needed`` rows in micro-batches (of the update's
        size); zeros in the other rows."""
        options = self.options
        size = options.micro_batch_size or options.minibatch_size or len(batch)
        rows = needed.nonzero().squeeze(1)
        parts = [(part, policy.frozen(batch.select(part))) for part in rows.split(size)]
        zeros = torch.zeros(batch.action_mask.shape, device=batch.input_ids.device)
        logprobs, ref_logprobs = zeros.clone(), zeros.clone()
        values = zeros.clone() if policy.value_head is not None else None
        for part, outputs in parts:
            logprobs[part], ref_logprobs[part] = outputs.logprobs, outputs.ref_logprobs
            if values is not None:
                values[part] = outputs.values
        return FrozenOutputs(logprobs, ref_logprobs, values)

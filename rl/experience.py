"""Rollouts as training tensors: prompt and response side by side, with what each token is.

Prompts arrive left-padded (generation needs it), responses are right-padded here, so every
row reads ``[pad … prompt | response … pad]`` and response token ``j`` of every row sits at
column ``prompt_length + j``. Which tokens are padding comes from the lengths, never from
comparing ids with the pad id, so a tokenizer whose pad is its EOS is handled the same way.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import Tensor

from generation.engine import Rollout


@dataclass(frozen=True)
class RolloutBatch:
    """``input_ids``, ``attention_mask``, ``position_ids``, focus tags: (B, P + R);
    ``action_mask``: (B, R), True for the tokens the model chose (EOS included, execution output
    and padding excluded); ``response_mask``: (B, R), every real response token."""

    input_ids: Tensor
    attention_mask: Tensor
    position_ids: Tensor
    action_mask: Tensor
    response_mask: Tensor
    focus_queries: Tensor
    focus_keys: Tensor
    prompt_length: int

    def __len__(self) -> int:
        return self.input_ids.shape[0]

    def select(self, rows: Tensor) -> RolloutBatch:
        """The rows ``rows`` (a minibatch)."""
        tensors = {
            name: getattr(self, name)[rows]
            for name in (
                "input_ids",
                "attention_mask",
                "position_ids",
                "action_mask",
                "response_mask",
                "focus_queries",
                "focus_keys",
            )
        }
        return RolloutBatch(**tensors, prompt_length=self.prompt_length)


def assemble_rollouts(
    prompt_ids: Tensor,
    prompt_mask: Tensor,
    rollouts: Sequence[Rollout],
    pad_token_id: int,
    prompt_focus_keys: Tensor | None = None,
    focus_start_token_id: int | None = None,
) -> RolloutBatch:
    """One row per rollout (prompt ``rollout.prompt_index`` + its response).

    ``prompt_focus_keys`` marks the question tokens focus attention may hide; program tokens
    (focus queries) run from the first ``focus_start_token_id`` the model wrote (HTL's
    ``<Code>``) to the end of the response."""
    device = prompt_ids.device
    rows = torch.tensor([rollout.prompt_index for rollout in rollouts], device=device)
    length = max(1, *(len(rollout.token_ids) for rollout in rollouts))
    response = torch.full((len(rollouts), length), pad_token_id, dtype=torch.long)
    response_mask = torch.zeros((len(rollouts), length), dtype=torch.bool)
    action_mask = torch.zeros((len(rollouts), length), dtype=torch.bool)
    for row, rollout in enumerate(rollouts):
        size = len(rollout.token_ids)
        response[row, :size] = torch.tensor(rollout.token_ids, dtype=torch.long)
        response_mask[row, :size] = True
        action_mask[row, :size] = torch.tensor(rollout.generated_mask, dtype=torch.bool)
    response, response_mask, action_mask = (
        t.to(device) for t in (response, response_mask, action_mask)
    )
    attention_mask = torch.cat([prompt_mask[rows].bool(), response_mask], dim=1).long()
    position_ids = (attention_mask.cumsum(-1) - 1).clamp(min=0)
    no_tags = torch.zeros_like(response_mask)
    keys = prompt_focus_keys[rows].bool() if prompt_focus_keys is not None else None
    queries = no_tags
    if focus_start_token_id is not None:
        queries = ((response == focus_start_token_id) & action_mask).cumsum(-1).gt(
            0
        ) & response_mask
    prompt_no_tags = torch.zeros_like(prompt_mask[rows], dtype=torch.bool)
    return RolloutBatch(
        input_ids=torch.cat([prompt_ids[rows], response], dim=1),
        attention_mask=attention_mask,
        position_ids=position_ids,
        action_mask=action_mask,
        response_mask=response_mask,
        focus_queries=torch.cat([prompt_no_tags, queries], dim=1),
        focus_keys=torch.cat([keys if keys is not None else prompt_no_tags, no_tags], dim=1),
        prompt_length=prompt_ids.shape[1],
    )


def token_rewards(scores: Tensor, kl: Tensor, action_mask: Tensor, kl_coef: float) -> Tensor:
    """Per-token rewards: ``-β·KL`` on every action, plus the rollout's score on its last one."""
    rewards = torch.where(action_mask, -kl_coef * kl, 0.0)
    positions = torch.arange(action_mask.shape[1], device=action_mask.device)
    last = torch.where(action_mask, positions, -1).max(dim=1).values
    acted = last >= 0
    rewards[acted.nonzero().squeeze(1), last[acted]] += scores[acted].to(rewards.dtype)
    return rewards


@dataclass(frozen=True)
class Experience:
    """A scored rollout batch, frozen before the updates: what the rollout policy assigned to its
    own tokens (``old_logprobs``), the critic's ``values`` (GAE only), the targets, the
    tokens the losses see (``loss_mask``: the actions of the rollouts no filter left out), and
    the per-token importance weights that correct for the sampler (``sampler_weights``; None:
    off)."""

    batch: RolloutBatch
    old_logprobs: Tensor
    old_values: Tensor | None
    advantages: Tensor
    returns: Tensor | None
    loss_mask: Tensor
    sampler_weights: Tensor | None = None

    def __len__(self) -> int:
        return len(self.batch)

    def select(self, rows: Tensor) -> Experience:
        def pick(tensor: Tensor | None) -> Tensor | None:
            return None if tensor is None else tensor[rows]

        return Experience(
            batch=self.batch.select(rows),
            old_logprobs=self.old_logprobs[rows],
            old_values=pick(self.old_values),
            advantages=self.advantages[rows],
            returns=pick(self.returns),
            loss_mask=self.loss_mask[rows],
            sampler_weights=pick(self.sampler_weights),
        )

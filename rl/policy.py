"""The networks PPO reads, and what it reads from them: per response token, the log-probability
of the token taken, the critic's value of the state before it, the entropy it was drawn from.

Plain ``torch.nn`` modules held by whoever trains them (the Lightning module registers them, so
checkpoints and FSDP see them); this object only says how rollout batches go through them.

Design choices, and what they cost:

* Value function (``advantage: gae``): a linear head on the policy's last hidden state, as
  TRL's value-head models that HTL used. It costs ``hidden_size + 1`` parameters and no extra
  forward pass; the price is that the value loss also moves the shared trunk (weighed by
  ``value_loss_coef``). A separate critic would double the model memory. ``grpo`` and ``rloo``
  need no critic at all.
* Reference policy: with LoRA, the same network with the adapters disabled (no extra memory);
  fully fine-tuned, a frozen copy of the starting weights (one more model in memory and in
  checkpoints, so that a resumed run keeps the right reference).
* Dropout is switched off in every module: PPO's ratio must compare the same function twice.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from typing import NamedTuple

import torch
from torch import Tensor

from rl.experience import RolloutBatch
from rl.losses import entropy_from_logits

# The attention mask of a batch's update passes, from its tags (focus attention, or the plain
# padding mask); gets ``attention_mask``, ``focus_queries`` and ``focus_keys``.
AttentionMask = Callable[[Mapping[str, Tensor]], Tensor]


class ResponseOutputs(NamedTuple):
    """Each (B, R): ``values`` only when asked and there is a critic, ``entropy`` when asked."""

    logprobs: Tensor
    values: Tensor | None
    entropy: Tensor | None


class FrozenOutputs(NamedTuple):
    """What the rollout policy, the reference and the critic assign before any update."""

    logprobs: Tensor
    ref_logprobs: Tensor
    values: Tensor | None


@dataclass(frozen=True)
class Policy:
    """The policy, its reference and its critic.

    Args:
        model: the trained causal LM.
        reference: a frozen copy of the starting weights; None when ``model`` is a peft model,
            whose disabled adapters are the reference (no extra memory).
        value_head: a linear head on the last hidden state (GAE); None without a critic.
        temperature: the rollouts' sampling temperature (1 when greedy), so that log-probs are
            those of the distribution the tokens were drawn from.
        focus: the attention mask of the update passes (focus attention); None: padding only.
    """

    model: torch.nn.Module
    reference: torch.nn.Module | None = None
    value_head: torch.nn.Module | None = None
    temperature: float = 1.0
    focus: AttentionMask | None = None

    def outputs(
        self,
        batch: RolloutBatch,
        focus: bool = False,
        values: bool = False,
        entropy: bool = False,
        entropy_grad: bool = True,
        model: torch.nn.Module | None = None,
    ) -> ResponseOutputs:
        """One forward pass of ``model`` (the policy by default); ``focus`` applies the update
        passes' mask; ``entropy_grad`` False spares the graph of an entropy only logged."""
        model = model if model is not None else self.model
        wants_values = values and self.value_head is not None
        mask = batch.attention_mask
        if focus and self.focus is not None:
            tags = {
                "attention_mask": mask,
                "focus_queries": batch.focus_queries,
                "focus_keys": batch.focus_keys,
            }
            mask = self.focus(tags)
        output = model(
            input_ids=batch.input_ids,
            attention_mask=mask,
            position_ids=batch.position_ids,
            output_hidden_states=wants_values,
            logits_to_keep=batch.action_mask.shape[1] + 1,  # the last prompt token on
            use_cache=False,
        )
        logits = output.logits[:, :-1].float() / self.temperature
        taken = batch.input_ids[:, batch.prompt_length :]
        logprobs = logits.gather(-1, taken.unsqueeze(-1)).squeeze(-1) - logits.logsumexp(-1)
        state_values = None
        if wants_values:
            states = output.hidden_states[-1][:, batch.prompt_length - 1 : -1]
            state_values = self.value_head(states.to(self.value_head.weight.dtype)).squeeze(-1)
        entropies = None
        if entropy:
            with nullcontext() if entropy_grad else torch.no_grad():
                entropies = entropy_from_logits(logits)
        return ResponseOutputs(logprobs, state_values, entropies)

    @torch.no_grad()
    def frozen(self, batch: RolloutBatch) -> FrozenOutputs:
        """Dense log-probabilities of the policy and the reference, and the values."""
        logprobs, values, _ = self.outputs(batch, values=True)
        if self.reference is not None:
            ref_logprobs = self.outputs(batch, model=self.reference).logprobs
        else:
            with self.model.disable_adapter():
                ref_logprobs = self.outputs(batch).logprobs
        return FrozenOutputs(logprobs, ref_logprobs, values)


def value_head(hidden_size: int) -> torch.nn.Linear:
    """A critic on the policy's last hidden state, starting at zero everywhere."""
    head = torch.nn.Linear(hidden_size, 1)
    torch.nn.init.zeros_(head.weight)
    torch.nn.init.zeros_(head.bias)
    return head


def disable_dropout(module: torch.nn.Module) -> None:
    """PPO's ratio must compare the same function twice: no dropout anywhere in ``module``."""
    for submodule in module.modules():
        if isinstance(submodule, torch.nn.Dropout):
            submodule.p = 0.0


@contextmanager
def evaluation_mode(module: torch.nn.Module) -> Iterator[None]:
    """``module`` in eval mode for the block (generation caches keys even with gradient
    checkpointing on), then back in the mode it was in."""
    was_training = module.training
    module.eval()
    try:
        yield
    finally:
        module.train(was_training)

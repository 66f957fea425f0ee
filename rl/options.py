"""PPO settings, as a dataclass so LightningCLI fills it from YAML (``model.init_args.ppo``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from checks import require_at_least
from rl.kl import KLEstimator

Advantage = Literal["gae", "grpo", "rloo"]
ADVANTAGES: tuple[Advantage, ...] = ("gae", "grpo", "rloo")


@dataclass
class PPOOptions:
    """How each rollout batch is turned into updates. Defaults follow HTL's RL stage (TRL PPO).

    Args:
        advantage: ``gae`` (value head, GAE), or critic-free ``grpo`` (score normalised within
            the samples of a prompt) or ``rloo`` (leave-one-out baseline); the last two need
            ``rollout.num_samples >= 2``.
        epochs: passes over each rollout batch.
        minibatch_size: rollouts per optimizer step (None: the whole batch, one step per epoch).
        micro_batch_size: rollouts per forward/backward, accumulated into one step (None: the
            minibatch); lowers memory, not the result.
        clip_range: ε of the clipped policy ratio.
        clip_range_value: how far the value may move from its rollout-time estimate.
        value_loss_coef: weight of the value loss (GAE only).
        entropy_coef: weight of the entropy bonus (0: none).
        gamma: discount per model token.
        lam: GAE's λ.
        whiten_advantages: normalise advantages over the batch's tokens.
        kl_estimator: ``k1`` (log ratio) or ``k3`` (non-negative, lower variance).
        kl_coef: initial KL coefficient β.
        adaptive_kl: adapt β towards ``kl_target`` (nats per sequence) over ``kl_horizon``.
        kl_target: the adaptive controller's target KL per sequence.
        kl_horizon: rollouts over which the controller closes the gap.
        target_kl: stop this batch's remaining updates once a minibatch's approximate KL from
            the rollout policy exceeds 1.5 × this (None: never).
        max_grad_norm: clip the global gradient norm of each step (None: no clipping).
    """

    advantage: Advantage = "gae"
    epochs: int = 4
    minibatch_size: int | None = None
    micro_batch_size: int | None = None
    clip_range: float = 0.2
    clip_range_value: float = 0.2
    value_loss_coef: float = 0.1
    entropy_coef: float = 0.0
    gamma: float = 1.0
    lam: float = 0.95
    whiten_advantages: bool = True
    kl_estimator: KLEstimator = "k1"
    kl_coef: float = 0.01
    adaptive_kl: bool = True
    kl_target: float = 6.0
    kl_horizon: int = 10000
    target_kl: float | None = 0.1
    max_grad_norm: float | None = 1.0

    def __post_init__(self) -> None:
        if self.advantage not in ADVANTAGES:
            raise ValueError(f"advantage must be one of {ADVANTAGES}, got {self.advantage!r}")
        if self.kl_estimator not in ("k1", "k3"):
            raise ValueError(f"kl_estimator must be 'k1' or 'k3', got {self.kl_estimator!r}")
        require_at_least(
            self, 1, ("epochs", "minibatch_size", "micro_batch_size", "kl_horizon"), "ppo"
        )
        if self.clip_range <= 0.0 or self.clip_range_value <= 0.0:
            raise ValueError("clip_range and clip_range_value must be positive")
        if not (0.0 <= self.gamma <= 1.0 and 0.0 <= self.lam <= 1.0):
            raise ValueError(f"gamma and lam must be in [0, 1], got {self.gamma}, {self.lam}")

"""PPO settings, as a dataclass so LightningCLI fills it from YAML (``model.init_args.ppo``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from checks import InputError, require_at_least
from rl.kl import KLController, KLEstimator

Advantage = Literal["gae", "grpo", "rloo"]
ADVANTAGES: tuple[Advantage, ...] = ("gae", "grpo", "rloo")
LossType = Literal["grpo", "dapo", "dr_grpo"]
LOSS_TYPES: tuple[LossType, ...] = ("grpo", "dapo", "dr_grpo")


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
        epsilon: ε of the clipped policy ratio, its lower bound ``1 - ε`` (TRL's name).
        epsilon_high: upper bound ``1 + epsilon_high`` of the ratio (None: ``epsilon``);
            DAPO's clip-higher (arXiv 2503.14476) uses 0.28, room for unlikely tokens to grow.
        loss_type: how token losses become the policy loss (TRL's names): ``dapo``, the mean
            over every loss token of the minibatch (DAPO, arXiv 2503.14476; what PPO did here
            before the option existed); ``grpo``, each sequence's mean, then the mean over
            sequences (long answers weigh less per token); ``dr_grpo``, the sum over tokens over
            the constant ``rollout.max_new_tokens`` x sequences (Dr. GRPO, arXiv 2503.20783).
            The value loss and the entropy stay token means.
        scale_rewards: ``grpo`` divides each score's deviation from its group mean by the
            group's standard deviation; False keeps the plain deviation (Dr. GRPO: the division
            over-weights prompts that are nearly always or nearly never solved).
        dynamic_sampling: leave out of the loss every prompt group whose scores are all equal
            (all right or all wrong: no signal); DAPO's filter, without its refill, so a batch
            trains on fewer rollouts (``rollout/uniform_group_fraction`` logs how many). Needs
            ``rollout.num_samples >= 2``.
        mask_truncated_completions: leave rollouts cut by the token budget out of the loss
            (TRL's name, DAPO): their "no answer" score says nothing about the tokens written.
        mask_void_turns: multi-round formats (LCE, markdown): leave out of the loss a rollout
            whose last turn neither closed a code block nor committed to an answer (SimpleTIR's
            void turn, arXiv 2509.02479); rollouts cut by the budget count as void.
        sampler_is_cap: truncated importance sampling for the gap between the sampler's
            log-probs (vLLM, bf16) and the trainer's (Yao et al. 2025, "Your efficient RL
            framework secretly brings you off-policy RL training"; verl's
            ``tis_imp_ratio_cap``, TRL's ``vllm_importance_sampling_cap``): each token's loss
            is weighed by ``min(π_trainer / π_sampler, cap)`` at rollout time (None: off;
            needs a backend that reports log-probs, vLLM).
        soft_punish_cache: DAPO's overlong shaping (TRL's ``get_soft_overlong_punishment``):
            a response within this many tokens of ``rollout.max_new_tokens`` loses a share of
            1 growing linearly to the whole at the budget (0: off).
        clip_range_value: how far the value may move from its rollout-time estimate.
        value_loss_coef: weight of the value loss (GAE only).
        value_head_lr: learning rate of the value head (None: the policy's). Adam's step does
            not grow with ``value_loss_coef``, so this is what lets a fresh critic catch up.
        entropy_coef: weight of the entropy bonus (0: none).
        gamma: discount per model token.
        lam: GAE's λ. Below 1 an advantage leans on the critic: with a terminal score and a
            critic that knows nothing yet (the head starts at zero) token ``t`` sees only
            ``λ^(T-t)`` of the score, and whitening turns that into a push against the first
            tokens of every response. 1 gives ``score - V`` on every token, unbiased whatever
            the critic (Open-Reasoner-Zero, arXiv 2503.24290; VC-PPO, arXiv 2503.01491). 0.95
            is TRL's default, as HTL ran it.
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
    epsilon: float = 0.2
    epsilon_high: float | None = None
    loss_type: LossType = "dapo"
    scale_rewards: bool = True
    dynamic_sampling: bool = False
    mask_truncated_completions: bool = False
    mask_void_turns: bool = False
    soft_punish_cache: int = 0
    clip_range_value: float = 0.2
    value_loss_coef: float = 0.1
    value_head_lr: float | None = None
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
    sampler_is_cap: float | None = None

    def __post_init__(self) -> None:
        if self.advantage not in ADVANTAGES:
            raise InputError(f"advantage must be one of {ADVANTAGES}, got {self.advantage!r}")
        if self.kl_estimator not in ("k1", "k3"):
            raise InputError(f"kl_estimator must be 'k1' or 'k3', got {self.kl_estimator!r}")
        if self.loss_type not in LOSS_TYPES:
            raise InputError(f"loss_type must be one of {LOSS_TYPES}, got {self.loss_type!r}")
        require_at_least(
            self, 1, ("epochs", "minibatch_size", "micro_batch_size", "kl_horizon"), "ppo"
        )
        require_at_least(self, 0, ("soft_punish_cache",), "ppo")
        if self.epsilon <= 0.0 or self.clip_range_value <= 0.0:
            raise InputError("epsilon and clip_range_value must be positive")
        if self.value_head_lr is not None and self.value_head_lr <= 0.0:
            raise InputError(f"value_head_lr must be positive, got {self.value_head_lr}")
        if self.sampler_is_cap is not None and self.sampler_is_cap < 1.0:
            raise InputError(f"sampler_is_cap must be >= 1, got {self.sampler_is_cap}")
        if self.epsilon_high is not None and self.epsilon_high <= 0.0:
            raise InputError(f"epsilon_high must be positive, got {self.epsilon_high}")
        if not (0.0 <= self.gamma <= 1.0 and 0.0 <= self.lam <= 1.0):
            raise InputError(f"gamma and lam must be in [0, 1], got {self.gamma}, {self.lam}")

    def kl_controller(self) -> KLController:
        """The KL coefficient's controller, at its starting value."""
        return KLController(self.kl_coef, self.adaptive_kl, self.kl_target, self.kl_horizon)

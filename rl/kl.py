"""KL between the policy and the reference, per token, and the coefficient that weighs it.

Estimators (Schulman, "Approximating KL divergence", 2020), for a token sampled from the
policy, with ``log_ratio = log ref(x) - log policy(x)``:
``k1 = -log_ratio`` (unbiased, can be negative per token) and
``k3 = exp(log_ratio) - 1 - log_ratio`` (unbiased, never negative, lower variance).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch
from torch import Tensor

KLEstimator = Literal["k1", "k3"]


def kl_penalty(logprobs: Tensor, ref_logprobs: Tensor, estimator: KLEstimator) -> Tensor:
    """Per-token KL(policy || reference) estimate from the log-probabilities of sampled tokens."""
    log_ratio = ref_logprobs - logprobs
    if estimator == "k1":
        return -log_ratio
    if estimator == "k3":
        return torch.expm1(log_ratio) - log_ratio
    raise ValueError(f"unknown KL estimator {estimator!r}; use 'k1' or 'k3'")


@dataclass
class KLController:
    """The KL coefficient β, fixed or adaptive.

    Adaptive (Ziegler et al. 2019, as in TRL's PPO trainer that HTL used): after each rollout
    batch, β is multiplied by ``1 + clip(kl / target - 1, -0.2, 0.2) * batch_size / horizon``,
    so it grows while the policy drifts past ``target`` nats per sequence and shrinks below it.
    """

    value: float = 0.01
    adaptive: bool = True
    target: float = 6.0
    horizon: int = 10000

    def update(self, sequence_kl: float, batch_size: int) -> None:
        """``sequence_kl``: the batch's mean KL per sequence (summed over its tokens)."""
        if not self.adaptive:
            return
        error = min(max(sequence_kl / self.target - 1.0, -0.2), 0.2)
        self.value *= 1.0 + error * batch_size / self.horizon

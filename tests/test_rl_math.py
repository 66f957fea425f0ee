"""GAE, KL estimators, clipped losses and group baselines against hand-computed values."""

from __future__ import annotations

import math

import pytest
import torch

from rl.advantages import gae, group_normalized_advantages, leave_one_out_advantages
from rl.experience import token_rewards
from rl.kl import KLController, kl_penalty
from rl.losses import clipped_policy_loss, clipped_value_loss, entropy_from_logits, loss_weights
from rl.masked import masked_mean, masked_whiten


def rows(*values: list[float]) -> torch.Tensor:
    return torch.tensor(values, dtype=torch.float)


def token_mean(mask: torch.Tensor) -> torch.Tensor:
    """The default aggregation's weights (``dapo``): a mean over the selected tokens."""
    return loss_weights(mask, "dapo", max_length=mask.shape[1])


def test_gae_with_lambda_matches_the_recursion_by_hand() -> None:
    # δ2 = 1 - 0.7 = 0.3; δ1 = 0.7 - 0.6 = 0.1; δ0 = 0.6 - 0.5 = 0.1 (γ = 1)
    # A2 = 0.3; A1 = 0.1 + 0.5·0.3 = 0.25; A0 = 0.1 + 0.5·0.25 = 0.225 (λ = 0.5)
    advantages, returns = gae(
        rows([0, 0, 1]), rows([0.5, 0.6, 0.7]), torch.ones(1, 3, dtype=torch.bool), 1.0, 0.5
    )
    assert advantages.tolist()[0] == pytest.approx([0.225, 0.25, 0.3])
    assert returns.tolist()[0] == pytest.approx([0.725, 0.85, 1.0])


def test_gae_with_lambda_one_is_the_discounted_return_minus_the_value() -> None:
    advantages, _ = gae(
        rows([0, 0, 1]), rows([0.5, 0.6, 0.7]), torch.ones(1, 3, dtype=torch.bool), 0.9, 1.0
    )
    assert advantages.tolist()[0] == pytest.approx([0.81 - 0.5, 0.9 - 0.6, 1.0 - 0.7])


def test_gae_skips_execution_tokens_and_padding() -> None:
    # The execution token (value 99) and the padding are not time steps: same result as above.
    mask = torch.tensor([[True, False, True, True, False]])
    advantages, returns = gae(rows([0, 5, 0, 1, 7]), rows([0.5, 99, 0.6, 0.7, 42]), mask, 1.0, 0.5)
    assert advantages.tolist()[0] == pytest.approx([0.225, 0, 0.25, 0.3, 0])
    assert returns.tolist()[0] == pytest.approx([0.725, 0, 0.85, 1.0, 0])


def test_kl_estimators() -> None:
    logprobs, ref = torch.log(torch.tensor([0.5])), torch.log(torch.tensor([0.25]))
    assert kl_penalty(logprobs, ref, "k1").item() == pytest.approx(math.log(2))
    assert kl_penalty(logprobs, ref, "k3").item() == pytest.approx(0.5 - 1 + math.log(2))
    # k1 is negative when the reference likes the token more; k3 never is.
    assert kl_penalty(ref, logprobs, "k1").item() == pytest.approx(-math.log(2))
    assert kl_penalty(ref, logprobs, "k3").item() == pytest.approx(2 - 1 - math.log(2))
    with pytest.raises(ValueError, match="k2"):
        kl_penalty(logprobs, ref, "k2")  # type: ignore[arg-type]


def test_kl_estimators_average_to_the_true_kl() -> None:
    policy, reference = torch.tensor([0.7, 0.2, 0.1]), torch.tensor([0.4, 0.4, 0.2])
    exact = (policy * (policy / reference).log()).sum()
    draws = torch.multinomial(
        policy, 200_000, replacement=True, generator=torch.Generator().manual_seed(0)
    )
    logprobs, ref = policy.log()[draws], reference.log()[draws]
    for estimator in ("k1", "k3"):
        assert kl_penalty(logprobs, ref, estimator).mean().item() == pytest.approx(
            exact.item(), abs=0.01
        )


def test_adaptive_kl_controller_moves_towards_the_target_and_fixed_stays() -> None:
    adaptive = KLController(0.01, adaptive=True, target=6.0, horizon=10000)
    adaptive.update(sequence_kl=12.0, batch_size=100)  # error clipped to +0.2
    assert adaptive.value == pytest.approx(0.01 * (1 + 0.2 * 100 / 10000))
    adaptive.update(sequence_kl=4.5, batch_size=100)  # error -0.25 → clipped to -0.2
    assert adaptive.value == pytest.approx(0.01 * 1.002 * 0.998)
    fixed = KLController(0.01, adaptive=False)
    fixed.update(sequence_kl=100.0, batch_size=100)
    assert fixed.value == 0.01


def test_clipped_policy_loss_clips_only_in_the_direction_of_the_advantage() -> None:
    old = torch.zeros(1, 4)
    new = torch.log(rows([1.5, 1.5, 0.5, 0.5])).requires_grad_()
    advantages = rows([1.0, -1.0, 1.0, -1.0])
    result = clipped_policy_loss(new, old, advantages, token_mean(torch.ones(1, 4)), 0.2)
    # per token: max(-1.5, -1.2) = -1.2 (clipped); max(1.5, 1.2) = 1.5; max(-0.5, -0.8) = -0.5;
    # max(0.5, 0.8) = 0.8 (clipped)
    assert result.loss.item() == pytest.approx((-1.2 + 1.5 - 0.5 + 0.8) / 4)
    assert result.clip_fraction.item() == pytest.approx(0.5)
    result.loss.backward()
    # clipped tokens get no gradient; the others -A·r/4
    assert new.grad.tolist()[0] == pytest.approx([0.0, 1.5 / 4, -0.5 / 4, 0.0])
    assert result.approx_kl.item() == pytest.approx(
        0.5 * (2 * math.log(1.5) ** 2 + 2 * math.log(0.5) ** 2) / 4
    )


def test_policy_loss_ignores_masked_tokens() -> None:
    mask = torch.tensor([[True, False, True, False]])
    weights = token_mean(mask)
    base = clipped_policy_loss(
        torch.zeros(1, 4), torch.zeros(1, 4), rows([1, 2, 3, 4]), weights, 0.2
    )
    garbage = clipped_policy_loss(
        rows([0, float("nan"), 0, 9.0]),
        rows([0, 5.0, 0, float("inf")]),
        rows([1, 2, 3, 4]),
        weights,
        0.2,
    )
    assert base.loss.item() == pytest.approx(-2.0)
    assert garbage.loss.item() == pytest.approx(-2.0)


def test_clipped_value_loss() -> None:
    mask = torch.ones(1, 2, dtype=torch.bool)
    # token 0: V 1.0 from 0.5 clips to 0.7 → max((1-2)², (0.7-2)²) = 1.69
    # token 1: V 0.6 from 0.5 stays → (0.6-0)² = 0.36 either way
    result = clipped_value_loss(rows([1.0, 0.6]), rows([0.5, 0.5]), rows([2.0, 0.0]), mask, 0.2)
    assert result.loss.item() == pytest.approx(0.5 * (1.69 + 0.36) / 2)
    assert result.clip_fraction.item() == pytest.approx(0.5)


def test_entropy_of_uniform_and_peaked_distributions() -> None:
    logits = torch.tensor([[[0.0, 0.0, 0.0, 0.0], [100.0, 0.0, 0.0, 0.0]]])
    assert entropy_from_logits(logits).tolist()[0] == pytest.approx([math.log(4), 0.0], abs=1e-6)


def test_grpo_normalises_within_each_prompt() -> None:
    scores = torch.tensor([1.0, 0.0, 0.0, 0.0, 1.0, 1.0, 1.0, 1.0])
    # group 1: mean 0.25, unbiased std 0.5; group 2: all alike → all zero
    assert group_normalized_advantages(scores, 4).tolist() == pytest.approx(
        [1.5, -0.5, -0.5, -0.5, 0, 0, 0, 0], abs=1e-5
    )


def test_rloo_subtracts_the_mean_of_the_other_samples() -> None:
    scores = torch.tensor([1.0, 0.0, 0.0, 0.0, 2.0, 4.0])
    assert leave_one_out_advantages(scores[:4], 4).tolist() == pytest.approx(
        [1.0, -1 / 3, -1 / 3, -1 / 3]
    )
    assert leave_one_out_advantages(scores[4:], 2).tolist() == pytest.approx([-2.0, 2.0])
    with pytest.raises(ValueError, match="groups of 4"):
        leave_one_out_advantages(scores, 4)


def test_token_rewards_put_the_score_on_the_last_model_token() -> None:
    mask = torch.tensor([[True, True, False, True, False], [True, False, False, False, False]])
    kl = rows([0.1, 0.2, 9.0, 0.4, 9.0], [0.5, 9.0, 9.0, 9.0, 9.0])
    rewards = token_rewards(torch.tensor([2.0, -1.0]), kl, mask, kl_coef=0.5)
    assert rewards.tolist()[0] == pytest.approx([-0.05, -0.1, 0.0, 2.0 - 0.2, 0.0])
    assert rewards.tolist()[1] == pytest.approx([-1.0 - 0.25, 0, 0, 0, 0])


def test_masked_statistics() -> None:
    values, mask = rows([1.0, 2.0, 3.0, 100.0]), torch.tensor([[True, True, True, False]])
    assert masked_mean(values, mask).item() == pytest.approx(2.0)
    assert masked_whiten(values, mask).tolist()[0] == pytest.approx([-1.0, 0.0, 1.0, 0.0], abs=1e-4)
    assert masked_mean(values, torch.zeros_like(mask)).item() == 0.0

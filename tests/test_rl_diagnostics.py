"""Why PPO with GAE drifted off a good policy (issue 12, part 1), and what TensorBoard shows of it.

With a terminal score and a critic that does not know the values yet (the head starts at zero),
GAE with λ < 1 gives token ``t`` only ``λ^(T-t)`` of the score; whitening then subtracts the
batch mean, so the first tokens of every response, the best ones included, get a negative
advantage. The policy is pushed off its own openings whatever it scored."""

from __future__ import annotations

import pytest
import torch

from datamodules.formats import HTLFormat
from generation.engine import Rollout
from rl.advantages import gae
from rl.experience import assemble_rollouts
from rl.experience_maker import ExperienceMaker
from rl.losses import clipped_policy_loss, clipped_value_loss, loss_weights
from rl.masked import masked_whiten
from rl.options import PPOOptions
from rl.rewards import ScoredRollouts
from rl.update import summarize
from tests.test_ppo_module import (
    BOS,
    EOS,
    PAD,
    TEXT,
    PromptBatches,
    prompt_batch,
    quiet_trainer,
    toy_module,
)


def whitened_gae(lam: float) -> torch.Tensor:
    """Two 3-token responses scored 1 and 0.5 at their end, a critic at zero, γ = 1."""
    rewards = torch.tensor([[0.0, 0.0, 1.0], [0.0, 0.0, 0.5]])
    mask = torch.ones(2, 3, dtype=torch.bool)
    advantages, _ = gae(rewards, torch.zeros(2, 3), mask, 1.0, lam)
    return masked_whiten(advantages, mask)


def test_below_lambda_one_a_fresh_critic_pushes_every_response_off_its_first_token() -> None:
    # λ = 0.5: advantages 0.25 0.5 1 | 0.125 0.25 0.5, mean 0.4375, unbiased std sqrt(0.0984375)
    std = 0.0984375**0.5
    assert whitened_gae(0.5)[:, 0].tolist() == pytest.approx(
        [(0.25 - 0.4375) / std, (0.125 - 0.4375) / std], abs=1e-4
    )  # both negative, though the first response is the best of the batch
    # λ = 1: score - V on every token; the better response is pushed up everywhere
    std = 0.075**0.5
    assert whitened_gae(1.0).view(-1).tolist() == pytest.approx(
        [0.25 / std] * 3 + [-0.25 / std] * 3, abs=1e-4
    )


def position_policy_after_ppo(lam: float) -> torch.Tensor:
    """A policy of 30 independent positions (right token with probability 0.9 at each), scored
    by its share of right tokens at the end, after 20 PPO batches of 32 (4 epochs, Adam 0.05)
    with a critic at zero and whitened advantages: each position's probability of being right."""
    length, size = 30, 32
    generator = torch.Generator().manual_seed(0)
    logits = torch.tensor([[2.1972, 0.0]] * length, requires_grad=True)  # log(0.9 / 0.1)
    optimizer = torch.optim.Adam([logits], lr=0.05)
    mask = torch.ones(size, length, dtype=torch.bool)
    weights = loss_weights(mask, "dapo", length)

    def taken(actions: torch.Tensor) -> torch.Tensor:
        return torch.log_softmax(logits, -1).expand(size, length, 2).gather(-1, actions)[..., 0]

    for _ in range(20):
        with torch.no_grad():
            probabilities = torch.softmax(logits, -1).expand(size, length, 2).reshape(-1, 2)
            actions = torch.multinomial(probabilities, 1, generator=generator)
            actions = actions.view(size, length, 1)
            old = taken(actions)
            rewards = torch.zeros(size, length)
            rewards[:, -1] = (actions == 0).float().mean((1, 2))
            advantages, _ = gae(rewards, torch.zeros(size, length), mask, 1.0, lam)
            advantages = masked_whiten(advantages, mask)
        for _ in range(4):
            loss = clipped_policy_loss(taken(actions), old, advantages, weights, 0.2).loss
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    return torch.softmax(logits.detach(), -1)[:, 0]


def test_a_good_policy_unlearns_its_openings_under_lambda_below_one_and_not_at_one() -> None:
    drifted, kept = position_policy_after_ppo(0.95), position_policy_after_ppo(1.0)
    # λ = 0.95: the first ten positions fall from 0.9 towards chance, the last ones rise
    assert drifted[:10].mean() < 0.8 and drifted[-10:].mean() > 0.95
    # λ = 1: every position learns (the score is what the advantage sees, at every token)
    assert kept.min() > 0.95


def test_the_value_loss_reaches_the_trunk_only_once_the_head_has_weights() -> None:
    module = toy_module("gae")
    batch = assemble_rollouts(
        torch.tensor([[BOS, TEXT]]),
        torch.ones(1, 2),
        [Rollout(0, "", [5, 6, EOS], [True] * 3)],
        PAD,
    )
    _, values, _ = module.policy.outputs(batch, focus=True, values=True)
    mask = batch.action_mask
    clipped_value_loss(values, values.detach(), torch.ones(1, 3), mask, 0.2).loss.backward()
    trunk = [p.grad for p in module.model.parameters() if p.grad is not None]
    assert all(torch.count_nonzero(grad) == 0 for grad in trunk)  # dV/dh is the head's weight: 0
    assert torch.count_nonzero(module.value_head.bias.grad) == 1


def test_old_log_probabilities_are_those_of_the_update_pass() -> None:
    # Same mask, same (absent) dropout: before any step the PPO ratio is exactly 1.
    policy = toy_module("gae").train().policy
    maker = ExperienceMaker(PPOOptions(), HTLFormat(), 1, max_new_tokens=3, pad_token_id=PAD)
    rollouts = [Rollout(0, "", [5, 6, EOS], [True] * 3), Rollout(1, "", [7, 8, 9], [True] * 3)]
    with torch.no_grad():
        scored = ScoredRollouts([1, 0], {})
        experience, _ = maker(policy, prompt_batch(2), rollouts, scored, kl_coef=0.01)
        logprobs, values, _ = policy.outputs(experience.batch, focus=True, values=True)
    torch.testing.assert_close(logprobs, experience.old_logprobs)
    torch.testing.assert_close(values, experience.old_values)


def test_summary_keeps_each_epoch_and_the_ratio_extremes() -> None:
    def step(kl: float, clip: float, low: float, high: float) -> dict[str, float]:
        return {"approx_kl": kl, "clip_fraction": clip, "ratio_min": low, "ratio_max": high}

    history = [
        (1, step(0.1, 0.0, 0.9, 1.1)),
        (1, step(0.3, 0.2, 0.8, 1.0)),
        (2, step(0.5, 0.4, 0.95, 1.5)),
    ]
    summary = summarize(history, early_stopped=True)
    assert summary == pytest.approx(
        {
            "approx_kl": 0.3,
            "clip_fraction": 0.2,
            "ratio_min": 0.8,
            "ratio_max": 1.5,
            "epoch_1/approx_kl": 0.2,
            "epoch_1/clip_fraction": 0.1,
            "epoch_2/approx_kl": 0.5,
            "epoch_2/clip_fraction": 0.4,
            "updates": 3.0,
            "early_stopped": 1.0,
        }
    )


def test_a_training_step_logs_what_makes_a_collapse_diagnosable() -> None:
    torch.manual_seed(0)
    module = toy_module("gae", epochs=2)
    trainer = quiet_trainer(max_steps=2)
    trainer.fit(module, datamodule=PromptBatches(8))
    metrics = {name: float(value) for name, value in trainer.callback_metrics.items()}
    for name in (
        "advantages/mean",
        "advantages/std",
        "advantages/min",
        "advantages/max",
        "advantages/first_token_mean",
        "value/explained_variance",
        "value/mean",
        "ppo/epoch_1/approx_kl",
        "ppo/epoch_2/clip_fraction",
        "rollout/loss_fraction",
    ):
        assert name in metrics, name
    assert metrics["advantages/mean"] == pytest.approx(0.0, abs=1e-5)  # whitened
    assert metrics["advantages/min"] <= 0.0 <= metrics["advantages/max"]
    assert metrics["ppo/ratio_min"] <= 1.0 <= metrics["ppo/ratio_max"]
    assert metrics["value/mean"] == 0.0  # the head starts at zero

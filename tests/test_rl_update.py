"""rl/'s experience and update step without Lightning: a plain optimizer stands in for the
training loop, so what the update asks of it (backward, step, reductions over ranks) is seen."""

from __future__ import annotations

from dataclasses import replace

import pytest
import torch
from torch import Tensor

from datamodules.formats import HTLFormat
from generation.engine import Rollout
from rl.advantages import estimate_advantages
from rl.experience import Experience
from rl.experience_maker import ExperienceMaker
from rl.options import PPOOptions
from rl.policy import Policy
from rl.rewards import ScoredRollouts
from rl.update import PPOUpdate, Reduction
from tests.test_ppo_module import EOS, PAD, prompt_batch, toy_module

ROLLOUTS = [
    Rollout(0, "", [5, 6, EOS], [True] * 3),
    Rollout(1, "", [7, EOS], [True, True]),
    Rollout(2, "", [5, 8, 9], [True, False, True]),  # 8 is inserted execution output
    Rollout(3, "", [EOS], [True]),
]


class PlainOptimization:
    """One rank and an SGD optimizer; records the steps and what each reduction was asked.
    ``other_rank_kl``: the approximate KL another rank reports (the mean is taken with it)."""

    def __init__(self, parameters: list[Tensor], other_rank_kl: float | None = None) -> None:
        self.optimizer = torch.optim.SGD(parameters, lr=0.1)
        self.other_rank_kl = other_rank_kl
        self.steps: list[float | None] = []
        self.reductions: list[tuple[float, Reduction]] = []

    def backward(self, loss: Tensor) -> None:
        loss.backward()

    def step(self, max_grad_norm: float | None) -> None:
        self.optimizer.step()
        self.optimizer.zero_grad()
        self.steps.append(max_grad_norm)

    def reduce(self, value: float, op: Reduction) -> float:
        self.reductions.append((value, op))
        if op == "mean" and self.other_rank_kl is not None:
            return (value + self.other_rank_kl) / 2
        return value


def policy_and_experience(
    scores: list[float], **options: object
) -> tuple[Policy, Experience, PPOOptions]:
    """A tiny GAE policy and the experience of ``ROLLOUTS`` scored ``scores``."""
    settings = PPOOptions(**({"advantage": "gae", "target_kl": None} | options))
    policy = toy_module().policy
    maker = ExperienceMaker(settings, HTLFormat(), 1, max_new_tokens=3, pad_token_id=PAD)
    scored = ScoredRollouts(scores, {})
    experience, _ = maker(policy, prompt_batch(4), ROLLOUTS, scored, kl_coef=0.01)
    return policy, experience, settings


def trained(policy: Policy) -> list[Tensor]:
    return [*policy.model.parameters(), *policy.value_head.parameters()]


def test_micro_batches_give_the_gradient_of_the_whole_minibatch() -> None:
    torch.manual_seed(0)
    policy, experience, settings = policy_and_experience(
        [1.0, 0.0, 0.5, -1.0], loss_type="grpo", entropy_coef=0.1
    )
    gradients, stats = [], []
    for micro_batch_size in (None, 1):
        options = replace(settings, micro_batch_size=micro_batch_size)
        parameters = trained(policy)
        stats.append(
            PPOUpdate(options, 3).minibatch_step(policy, experience, PlainOptimization(parameters))
        )
        gradients.append([p.grad.clone() for p in parameters])
        for parameter in parameters:
            parameter.grad = None
    whole, parts = gradients
    assert any(torch.count_nonzero(grad) for grad in whole)
    for expected, actual in zip(whole, parts):
        torch.testing.assert_close(actual, expected, rtol=1e-4, atol=1e-6)
    assert stats[1] == pytest.approx(stats[0], rel=1e-4, abs=1e-6)
    assert stats[0]["ratio_min"] == pytest.approx(1.0) == stats[0]["ratio_max"]  # not moved yet


def test_rows_without_a_loss_token_are_not_run_and_change_no_gradient(monkeypatch) -> None:
    torch.manual_seed(0)
    policy, experience, settings = policy_and_experience([1.0, 0.0, 0.5, -1.0], loss_type="grpo")
    mask = experience.loss_mask.clone()
    mask[1] = False  # the second rollout left out, as dynamic sampling does
    experience = replace(experience, loss_mask=mask)
    run_rows = []
    outputs = Policy.outputs

    def counted(self: Policy, batch: object, **kwargs: object) -> object:
        run_rows.append(len(batch))
        return outputs(self, batch, **kwargs)

    monkeypatch.setattr(Policy, "outputs", counted)
    gradients = []
    for minibatch in (experience, experience.select(torch.tensor([0, 2, 3]))):
        parameters = trained(policy)
        PPOUpdate(settings, 3).minibatch_step(policy, minibatch, PlainOptimization(parameters))
        gradients.append([p.grad.clone() for p in parameters])
        for parameter in parameters:
            parameter.grad = None
    assert run_rows == [3, 3]  # the left-out row never reached the policy
    for with_row, without_row in zip(*gradients):
        torch.testing.assert_close(with_row, without_row)


def test_groups_left_out_whole_are_not_run_for_the_frozen_log_probs(monkeypatch) -> None:
    grouped_rollouts = [replace(r, prompt_index=i // 2) for i, r in enumerate(ROLLOUTS)]
    scores = ScoredRollouts([1.0, 1.0, 0.0, 1.0], {})  # prompt 0 uniform, prompt 1 mixed
    run_rows = []
    frozen = Policy.frozen

    def counted(self: Policy, batch: object) -> object:
        run_rows.append(len(batch))
        return frozen(self, batch)

    monkeypatch.setattr(Policy, "frozen", counted)
    policy = toy_module().policy
    experiences = {}
    for dynamic_sampling in (False, True):
        options = PPOOptions(
            advantage="grpo", dynamic_sampling=dynamic_sampling, whiten_advantages=False
        )
        maker = ExperienceMaker(options, HTLFormat(), 2, max_new_tokens=3, pad_token_id=PAD)
        experiences[dynamic_sampling], _ = maker(
            policy, prompt_batch(2), grouped_rollouts, scores, kl_coef=0.01
        )
    assert run_rows == [4, 2]  # all rows, then only the mixed group's
    everything, kept = experiences[False], experiences[True]
    assert not kept.loss_mask[:2].any() and torch.equal(
        kept.loss_mask[2:], everything.loss_mask[2:]
    )
    torch.testing.assert_close(kept.old_logprobs[2:], everything.old_logprobs[2:])
    torch.testing.assert_close(
        kept.advantages[2:] * kept.loss_mask[2:], everything.advantages[2:] * kept.loss_mask[2:]
    )


def test_the_update_steps_once_per_minibatch_and_epoch_with_the_clip_norm() -> None:
    torch.manual_seed(0)
    policy, experience, options = policy_and_experience(
        [1.0, 0.0, 0.5, -1.0], epochs=2, minibatch_size=2, max_grad_norm=0.5
    )
    optimization = PlainOptimization(trained(policy))
    before = [p.detach().clone() for p in trained(policy)]
    summary = PPOUpdate(options, 3)(policy, experience, optimization)
    assert optimization.steps == [0.5] * 4
    assert summary["updates"] == 4.0 and summary["early_stopped"] == 0.0
    assert {"epoch_1/approx_kl", "epoch_2/approx_kl", "value_loss"} <= set(summary)
    assert optimization.reductions == [(8, "sum")]  # the loss tokens, once; no target KL
    assert any(not torch.equal(a, b) for a, b in zip(before, trained(policy)))


def test_nothing_to_learn_on_any_rank_takes_no_step() -> None:
    # every rollout left out by the filters: no loss token (summed over the one rank)
    policy, experience, options = policy_and_experience([1.0, 0.0, 0.5, -1.0])
    experience = Experience(
        experience.batch,
        experience.old_logprobs,
        experience.old_values,
        experience.advantages,
        experience.returns,
        torch.zeros_like(experience.loss_mask),
    )
    optimization = PlainOptimization(trained(policy))
    summary = PPOUpdate(options, 3)(policy, experience, optimization)
    assert summary == {"updates": 0.0, "early_stopped": 0.0}
    assert optimization.steps == []


def test_the_target_kl_stop_follows_the_mean_over_ranks() -> None:
    torch.manual_seed(0)
    policy, experience, settings = policy_and_experience([1.0, 0.0, 0.5, -1.0])
    options = replace(settings, epochs=3, target_kl=0.1)
    alone = PlainOptimization(trained(policy))
    assert PPOUpdate(options, 3)(policy, experience, alone)["early_stopped"] == 0.0
    assert len(alone.steps) == 3
    # another rank moved far: this one stops with it, after its first step
    together = PlainOptimization(trained(policy), other_rank_kl=1.0)
    summary = PPOUpdate(options, 3)(policy, experience, together)
    assert summary["early_stopped"] == 1.0 and len(together.steps) == 1
    assert [op for _, op in together.reductions] == ["sum", "mean"]


def test_each_estimator_gives_its_advantages_and_only_gae_its_returns() -> None:
    rewards = torch.tensor([[0.0, 1.0, 0.0], [0.0, 0.0, 0.0]])
    mask = torch.tensor([[True, True, False], [True, False, False]])
    rloo, returns = estimate_advantages(PPOOptions(advantage="rloo"), rewards, None, mask, 2)
    assert returns is None
    assert rloo.tolist() == [[1.0, 1.0, 0.0], [-1.0, 0.0, 0.0]]  # 1 - 0 and 0 - 1, on actions
    values = torch.zeros(2, 3)
    advantages, returns = estimate_advantages(
        PPOOptions(advantage="gae", lam=1.0), rewards, values, mask, 1
    )
    assert advantages.tolist() == [[1.0, 1.0, 0.0], [0.0, 0.0, 0.0]]
    assert returns is not None
    with pytest.raises(ValueError, match="critic"):
        estimate_advantages(PPOOptions(advantage="gae"), rewards, None, mask, 1)

"""The objectives peers use (PPOOptions: loss_type, scale_rewards, epsilon_high, dynamic sampling,
truncated and void-turn masks, overlong shaping) against hand-computed values, and their wiring."""

from __future__ import annotations

import pytest
import torch

from datamodules.formats import HTLFormat, LCEFormat, MarkdownFormat
from generation.engine import Rollout
from rl.advantages import group_normalized_advantages
from rl.experience_maker import ExperienceMaker
from rl.filters import has_void_turn, mixed_groups, truncated, uniform_groups
from rl.losses import clipped_policy_loss, loss_weights
from rl.masked import explained_variance, first_selected, masked_summary
from rl.options import PPOOptions
from rl.rewards import ScoredRollouts
from rl.shaping import overlong_penalty
from tests.test_ppo_module import EOS, PAD, prompt_batch, toy_module

# Two responses of 3 and 1 loss tokens (the fourth column is padding), token losses 1 2 3 | 4.
MASK = torch.tensor([[True, True, True, False], [True, False, False, False]])
TOKEN_LOSSES = torch.tensor([[1.0, 2.0, 3.0, 99.0], [4.0, 99.0, 99.0, 99.0]])


def aggregated(loss_type: str, max_length: int = 4) -> float:
    """The policy loss when every ratio is 1 and ``A = -token loss`` (so each token's loss is
    its own value, unclipped)."""
    zeros = torch.zeros(2, 4)
    weights = loss_weights(MASK, loss_type, max_length)
    return clipped_policy_loss(zeros, zeros, -TOKEN_LOSSES, weights, 0.2).loss.item()


def test_dapo_is_the_mean_over_every_token_of_the_minibatch() -> None:
    assert aggregated("dapo") == pytest.approx((1 + 2 + 3 + 4) / 4)


def test_grpo_averages_each_sequence_then_the_sequences() -> None:
    assert aggregated("grpo") == pytest.approx(((1 + 2 + 3) / 3 + 4 / 1) / 2)


def test_dr_grpo_divides_the_sum_by_a_constant() -> None:
    # max_new_tokens 4 x 2 rows, whatever the lengths
    assert aggregated("dr_grpo") == pytest.approx((1 + 2 + 3 + 4) / (4 * 2))
    assert aggregated("dr_grpo", max_length=10) == pytest.approx(10 / 20)


def test_grpo_does_not_count_a_sequence_that_has_no_loss_token() -> None:
    mask = torch.tensor([[True, True], [False, False]])
    assert loss_weights(mask, "grpo", 2).tolist() == [[0.5, 0.5], [0.0, 0.0]]
    assert loss_weights(torch.zeros(2, 2, dtype=torch.bool), "dapo", 2).sum().item() == 0.0


def test_micro_batches_of_one_minibatch_add_up_to_the_whole() -> None:
    zeros = torch.zeros(2, 4)
    for loss_type in ("dapo", "grpo", "dr_grpo"):
        weights = loss_weights(MASK, loss_type, 4)
        whole = clipped_policy_loss(zeros, zeros, -TOKEN_LOSSES, weights, 0.2).loss
        parts = sum(
            clipped_policy_loss(
                zeros[i : i + 1],
                zeros[i : i + 1],
                -TOKEN_LOSSES[i : i + 1],
                weights[i : i + 1],
                0.2,
            ).loss
            for i in range(2)
        )
        assert parts.item() == pytest.approx(whole.item())


def test_clip_higher_lets_a_rewarded_token_grow_further_and_the_low_bound_stays() -> None:
    old = torch.zeros(1, 2)
    new = torch.log(torch.tensor([[1.25, 0.75]])).requires_grad_()
    advantages = torch.tensor([[1.0, -1.0]])
    weights = loss_weights(torch.ones(1, 2, dtype=torch.bool), "dapo", 2)
    symmetric = clipped_policy_loss(new, old, advantages, weights, 0.2)
    # 1.25 clipped to 1.2: -1.2; 0.75 clipped to 0.8 (A < 0): max(0.75, 0.8) = 0.8
    assert symmetric.loss.item() == pytest.approx((-1.2 + 0.8) / 2)
    assert symmetric.clip_fraction.item() == pytest.approx(1.0)
    higher = clipped_policy_loss(new, old, advantages, weights, 0.2, epsilon_high=0.28)
    # 1.25 is inside [0.8, 1.28]: -1.25 and a gradient -A·r/2 on it; the low side unchanged
    assert higher.loss.item() == pytest.approx((-1.25 + 0.8) / 2)
    assert higher.clip_fraction.item() == pytest.approx(0.5)
    higher.loss.backward()
    assert new.grad.tolist()[0] == pytest.approx([-1.25 / 2, 0.0])
    assert (higher.ratio_min.item(), higher.ratio_max.item()) == pytest.approx((0.75, 1.25))


def test_scale_rewards_off_keeps_the_plain_deviation_from_the_group_mean() -> None:
    scores = torch.tensor([1.0, 0.0, 0.0, 0.0, 1.0, 1.0, 0.0, 0.0])
    # means 0.25 and 0.5; unbiased stds 0.5 and sqrt(1/3)
    assert group_normalized_advantages(scores, 4, scale=False).tolist() == pytest.approx(
        [0.75, -0.25, -0.25, -0.25, 0.5, 0.5, -0.5, -0.5]
    )
    half = 0.5 / (1 / 3) ** 0.5
    assert group_normalized_advantages(scores, 4).tolist() == pytest.approx(
        [1.5, -0.5, -0.5, -0.5, half, half, -half, -half], abs=1e-5
    )


def test_dynamic_sampling_finds_the_groups_that_all_scored_alike() -> None:
    scores = torch.tensor([1.0, 1.0, 1.0, 0.5, 1.0, 1.0, -1.0, -1.0, -1.0])
    assert uniform_groups(scores, 3).tolist() == [True] * 3 + [False] * 3 + [True] * 3
    # one sample per prompt (GAE's rollouts): no group is mixed, and asking is no error
    assert mixed_groups(scores, 1).tolist() == [False] * 9


def test_truncated_completions_are_the_ones_the_budget_cut() -> None:
    rollouts = [
        Rollout(0, "", [5], [True], finish_reason=reason)
        for reason in ("eos", "token_budget", "block_limit")
    ]
    assert truncated(rollouts).tolist() == [False, True, False]


LCE_SOLVED = (
    "<|text|>Add them.<|endofblock|><|code|>print(12 + 5)<|endofblock|>"
    "<|execution|>17<|endofblock|><|text|>So the answer is 17.<|endofblock|>"
)


@pytest.mark.parametrize(
    ("format", "text", "finish_reason", "void"),
    [
        (LCEFormat(), LCE_SOLVED, "eos", False),
        # the last turn stops right after the execution output: no block, no answer
        (
            LCEFormat(),
            LCE_SOLVED.removesuffix("<|text|>So the answer is 17.<|endofblock|>"),
            "eos",
            True,
        ),
        (LCEFormat(), LCE_SOLVED.replace("So the answer is 17.", "Let me check."), "eos", True),
        (LCEFormat(), "<|text|>No code, and the answer is 17.<|endofblock|>", "eos", False),
        (LCEFormat(), LCE_SOLVED, "token_budget", True),  # cut: the turn never ended
        (LCEFormat(), "<|code|>print(1)<|endofblock|>", "block_limit", False),  # a closed block
        (
            MarkdownFormat(),
            "```python\nprint(6 * 7)\n```\n```output\n42\n```\nThe answer is \\boxed{42}.",
            "eos",
            False,
        ),
        (MarkdownFormat(), "```python\nprint(6 * 7)\n```\n```output\n42\n```\n", "eos", True),
        (HTLFormat(), "Nothing at all.", "eos", False),  # one round: no turns
    ],
)
def test_void_turns(format, text: str, finish_reason: str, void: bool) -> None:
    rollout = Rollout(0, text, [5], [True], finish_reason=finish_reason)
    assert has_void_turn(format, rollout) is void


def test_overlong_penalty_falls_linearly_over_the_cache() -> None:
    lengths = torch.tensor([5, 6, 7, 8, 10, 12])
    # budget 10, cache 4: free up to 6 tokens, then -1/4 per token, -1 at (and past) 10
    assert overlong_penalty(lengths, 10, 4).tolist() == [0.0, 0.0, -0.25, -0.5, -1.0, -1.0]
    assert overlong_penalty(lengths, 10, 0).tolist() == [0.0] * 6


def test_explained_variance_and_summaries() -> None:
    mask = torch.tensor([[True, True, True, False]])
    returns = torch.tensor([[1.0, 2.0, 3.0, 50.0]])
    assert explained_variance(returns, returns, mask) == pytest.approx(1.0)
    assert explained_variance(torch.zeros(1, 4), returns, mask) == pytest.approx(0.0)
    # residuals -2 0 2 (variance 4) against returns' variance 1
    reversed_values = torch.tensor([[3.0, 2.0, 1.0, 0.0]])
    assert explained_variance(reversed_values, returns, mask) == pytest.approx(-3.0)
    assert masked_summary(returns, mask) == pytest.approx(
        {"mean": 2.0, "std": 1.0, "min": 1.0, "max": 3.0}
    )
    late = torch.tensor([[False, True, True, False], [False, False, False, False]])
    assert first_selected(returns.expand(2, 4), late).tolist() == [2.0]


def test_options_are_checked() -> None:
    with pytest.raises(ValueError, match="loss_type"):
        PPOOptions(loss_type="sum")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="epsilon_high"):
        PPOOptions(epsilon_high=0.0)
    with pytest.raises(ValueError, match=r"ppo\.soft_punish_cache must be >= 0"):
        PPOOptions(soft_punish_cache=-1)
    with pytest.raises(ValueError, match="dynamic_sampling compares samples"):
        toy_module("gae", samples=1, dynamic_sampling=True)


def experience_maker(group_size: int, **options: object) -> ExperienceMaker:
    """Turns toy rollouts (budget 3 tokens) into experience with the given ``ppo`` settings."""
    return ExperienceMaker(PPOOptions(**options), HTLFormat(), group_size, 3, PAD)


def test_filtered_rollouts_leave_the_loss_and_their_shares_are_logged() -> None:
    options = {"advantage": "grpo", "dynamic_sampling": True, "mask_truncated_completions": True}
    maker = experience_maker(2, **options)
    rollouts = [
        Rollout(0, "", [5, EOS], [True, True]),
        Rollout(0, "", [6, EOS], [True, True]),
        Rollout(1, "", [7, EOS], [True, True]),
        Rollout(1, "", [5, 6, 8], [True] * 3, finish_reason="token_budget"),
    ]
    # prompt 0: both scored 1 (a uniform group); prompt 1: 1 and 0, the second one truncated
    scored = ScoredRollouts([1.0, 1.0, 1.0, 0.0], {})
    policy = toy_module(samples=2, **options).policy
    experience, diagnostics = maker(policy, prompt_batch(2), rollouts, scored, kl_coef=0.01)
    assert experience.loss_mask.any(1).tolist() == [False, False, True, False]
    assert experience.loss_mask.sum().item() == 2
    assert diagnostics["rollout/uniform_group_fraction"] == pytest.approx(0.5)
    assert diagnostics["rollout/truncated_fraction"] == pytest.approx(0.25)
    assert diagnostics["rollout/loss_fraction"] == pytest.approx(0.25)
    # the one rollout left is the only one the whitening sees: its tokens' mean is 0
    assert experience.advantages[2].tolist() == pytest.approx([0.0, 0.0, 0.0], abs=1e-3)


def test_overlong_shaping_lowers_the_score_the_advantages_see() -> None:
    maker = experience_maker(2, advantage="rloo", soft_punish_cache=2, whiten_advantages=False)
    rollouts = [Rollout(0, "", [5, EOS], [True, True]), Rollout(0, "", [5, 6, 7], [True] * 3)]
    scored = ScoredRollouts([1.0, 1.0], {})
    policy = toy_module("rloo", samples=2).policy
    # no KL penalty: the scores alone
    experience, diagnostics = maker(policy, prompt_batch(1), rollouts, scored, kl_coef=0.0)
    # budget 3, cache 2: 2 tokens cost 0.5, 3 tokens 1; RLOO: 0.5 - 0 and 0 - 0.5
    assert experience.advantages[:, 0].tolist() == pytest.approx([0.5, -0.5])
    assert diagnostics["reward/overlong_penalty"] == pytest.approx(-0.75)

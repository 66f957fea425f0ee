"""The sampler/trainer log-prob gap and its truncated importance-sampling correction, by hand."""

from __future__ import annotations

import math

import torch

from generation.engine import Rollout
from rl.sampler_mismatch import logprob_gap, sampler_logprobs, truncated_importance_weights

NAN = math.nan


def test_weights_are_the_capped_ratio_and_one_where_the_sampler_said_nothing():
    trainer = torch.log(torch.tensor([[0.5, 0.9, 0.2, 0.3]]))
    sampler = torch.log(torch.tensor([[0.25, 0.9, 0.8, 1.0]]))
    sampler[0, 3] = NAN  # an execution token: not the sampler's
    weights = truncated_importance_weights(trainer, sampler, cap=1.5)
    # 0.5 / 0.25 = 2 -> capped at 1.5; 0.9 / 0.9 = 1; 0.2 / 0.8 = 0.25; unknown -> 1
    torch.testing.assert_close(weights, torch.tensor([[1.5, 1.0, 0.25, 1.0]]))


def test_weights_carry_no_gradient():
    trainer = torch.zeros(1, 2, requires_grad=True)
    weights = truncated_importance_weights(trainer, torch.zeros(1, 2), cap=2.0)
    assert not weights.requires_grad


def test_gap_counts_only_the_masked_tokens_the_sampler_knows():
    trainer = torch.tensor([[-1.0, -2.0, -3.0, -4.0]])
    sampler = torch.tensor([[-1.5, -2.0, NAN, -1.0]])
    mask = torch.tensor([[True, True, True, False]])
    assert logprob_gap(trainer, sampler, mask) == {
        "sampler/logprob_gap_max": 0.5,
        "sampler/logprob_gap_mean": 0.25,
    }
    assert logprob_gap(trainer, sampler, torch.zeros_like(mask)) == {}


def test_rollouts_lay_their_logprobs_out_like_the_response():
    first = Rollout(0, "", [5, 6, 7], [True, False, True], sampled_logprobs=[-0.1, NAN, -0.3])
    second = Rollout(0, "", [8], [True], sampled_logprobs=[-0.2])
    table = sampler_logprobs([first, second], torch.zeros(2, 4))
    expected = torch.tensor([[-0.1, NAN, -0.3, NAN], [-0.2, NAN, NAN, NAN]])
    torch.testing.assert_close(table, expected, equal_nan=True)
    plain = Rollout(0, "", [8], [True])
    assert sampler_logprobs([plain], torch.zeros(1, 1)) is None

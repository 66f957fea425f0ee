"""What a rollout batch shows in TensorBoard: rewards, rollout shape, advantages, and a few
rollouts as text; the trainer logs these under the names they carry."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor

from datamodules.sample import Sample
from generation.engine import Rollout
from rl.masked import first_selected, masked_summary
from rl.rewards import RewardCase, ScoredRollouts


def rollout_metrics(rollouts: Sequence[Rollout], scored: ScoredRollouts) -> dict[str, float]:
    """Reward mean and spread, response length, and how many rollouts ran a program and how
    many of those failed; with HTL's reward (``scored.cases`` counted), each case's count."""
    size = len(rollouts)
    scores = torch.tensor(scored.scores)
    ran = [rollout for rollout in rollouts if rollout.executions]
    failed = [r for r in ran if any(not result.ok for result in r.executions)]
    metrics = {
        "reward/mean": scores.mean().item(),
        "reward/std": scores.std().item() if size > 1 else 0.0,
        "rollout/response_length": float(
            sum(rollout.num_generated_tokens for rollout in rollouts) / size
        ),
        "rollout/execution_error_rate": len(failed) / len(ran) if ran else 0.0,
        "rollout/no_program_rate": 1.0 - len(ran) / size,
    }
    if scored.cases:
        metrics |= {f"reward/{case.value}": float(scored.cases[case]) for case in RewardCase}
    return metrics


def advantage_diagnostics(advantages: Tensor, mask: Tensor) -> dict[str, float]:
    """What the loss will see: mean, std, min and max over the loss tokens, and the mean over
    responses of their first token's advantage. That one should hover around 0: a value
    persistently below it pushes every response off its own opening (GAE with λ < 1 and a
    critic that does not know the values yet, whitened; see ``PPOOptions.lam``)."""
    summary = {
        f"advantages/{name}": value for name, value in masked_summary(advantages, mask).items()
    }
    first = first_selected(advantages, mask)
    summary["advantages/first_token_mean"] = first.mean().item() if first.numel() else 0.0
    return summary


def rollout_text(sample: Sample, rollout: Rollout, score: float) -> str:
    """One rollout with its executions and score, as Markdown for TensorBoard's text tab."""
    runs = "\n\n".join(
        f"**execution {number}** ({result.outcome.value})\n\n```\n{result.output}\n```"
        for number, result in enumerate(rollout.executions, 1)
    )
    return (
        f"**question** {sample.question}\n\n**rollout** ({rollout.finish_reason})\n\n"
        f"```\n{rollout.text}\n```\n\n{runs or '**no program ran**'}\n\n"
        f"**gold** {sample.answer} · **reward** {score}"
    )

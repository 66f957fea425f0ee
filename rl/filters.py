"""Which rollouts enter the loss: the filters peers use to keep rollouts without signal, or with
a misleading one, out of the update. Each returns a (B,) bool tensor, True for the rollouts it
leaves out; :func:`left_out` combines the enabled ones, whose rollouts lose their tokens from the
loss (they still count in group baselines, as in TRL)."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor

from datamodules.formats import SolutionFormat
from datamodules.sample import Sample
from generation.engine import Rollout
from grading.answers import extract_text_answer
from grading.verification import closing_words
from rl.advantages import grouped
from rl.options import PPOOptions


def uniform_groups(scores: Tensor, group_size: int) -> Tensor:
    """DAPO's dynamic sampling (arXiv 2503.14476): the rollouts of every prompt whose samples
    all scored the same; a group baseline gives them zero advantage, so they only dilute the
    batch."""
    return (~mixed_groups(scores, group_size)).repeat_interleave(group_size)


def mixed_groups(scores: Tensor, group_size: int) -> Tensor:
    """Per prompt: did its samples' scores differ? Only such a group has a non-zero group
    advantage: the signal an RL curriculum steers toward (``datamodules/pipeline/curriculum.py``).
    One sample per prompt (GAE) has nothing to differ from: never mixed."""
    if group_size == 1:
        return torch.zeros_like(scores, dtype=torch.bool)
    groups = grouped(scores, group_size)
    return (groups != groups[:, :1]).any(1)


def group_outcomes(
    samples: Sequence[Sample], scores: Sequence[float], group_size: int
) -> list[tuple[str, bool]]:
    """Each prompt's source (its ``dataset``) and whether its group was mixed: what
    ``callbacks.curriculum`` feeds the RL curriculum."""
    mixed = mixed_groups(torch.tensor(scores), group_size)
    return [(sample.dataset, bool(m)) for sample, m in zip(samples, mixed, strict=True)]


def truncated(rollouts: Sequence[Rollout], device: torch.device | None = None) -> Tensor:
    """Rollouts the token budget cut (TRL's ``mask_truncated_completions``, DAPO): their score
    is the budget's verdict, not the content's."""
    return torch.tensor([r.finish_reason == "token_budget" for r in rollouts], device=device)


def has_void_turn(format: SolutionFormat, rollout: Rollout) -> bool:
    """SimpleTIR (arXiv 2509.02479): a turn that produces neither a complete code block nor a
    final answer. Every turn but the last closed a code block (the engine ran it), so only the
    last can be void: when the budget cut it, or when its words (after the last code block)
    commit to no answer. A one-round format (HTL) has no turns to be void."""
    if format.execution_delimiters is None or rollout.finish_reason == "block_limit":
        return False  # the block limit stops a rollout that has just closed one more block
    if rollout.finish_reason == "token_budget":
        return True
    words = closing_words(format.parse(rollout.text))
    return all(extract_text_answer(text, fallback=False) is None for text in words)


def void_turns(
    format: SolutionFormat, rollouts: Sequence[Rollout], device: torch.device | None = None
) -> Tensor:
    """:func:`has_void_turn` of each rollout."""
    return torch.tensor([has_void_turn(format, r) for r in rollouts], device=device)


def left_out(
    options: PPOOptions,
    format: SolutionFormat,
    rollouts: Sequence[Rollout],
    scores: Tensor,
    group_size: int,
) -> tuple[Tensor, dict[str, float]]:
    """The rollouts the filters ``options`` enables keep out of the loss, and the share of each
    (``rollout/{filter}_fraction``, and ``rollout/loss_fraction``: the share that stays)."""
    device = scores.device
    filters = {
        "truncated": (options.mask_truncated_completions, lambda: truncated(rollouts, device)),
        "void_turn": (options.mask_void_turns, lambda: void_turns(format, rollouts, device)),
        "uniform_group": (options.dynamic_sampling, lambda: uniform_groups(scores, group_size)),
    }
    out = torch.zeros(len(rollouts), dtype=torch.bool, device=device)
    shares = {}
    for name, (enabled, find) in filters.items():
        if enabled:
            hit = find()
            out |= hit
            shares[f"rollout/{name}_fraction"] = hit.float().mean().item()
    shares["rollout/loss_fraction"] = 1.0 - out.float().mean().item()
    return out, shares

"""Behaviour prevalence and answer length, split by correct and incorrect solutions.

The behaviour study's two training-data findings are read off these numbers: how often right
and wrong solutions show each behaviour (``grading.behaviours``), and how many tokens a right
and a wrong answer take (overthinking: long wrong answers). As in ``metrics.evaluation``, every
value is a ratio of counts held in one integer tensor summed across ranks.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torchmetrics import Metric

from grading.behaviours import BEHAVIOURS, BehaviourTags

GROUPS = ("correct", "incorrect")
# Counters per group: solutions, their tokens and crucial tokens, then solutions showing each
# behaviour, then solutions showing any.
COUNTERS = ("solutions", "tokens", "crucial_tokens", *BEHAVIOURS, "any_behaviour")


class BehaviourMetrics(Metric):
    """Per group (``correct``, ``incorrect``): the share of solutions showing each behaviour
    (and any), mean tokens per solution, and mean crucial tokens per solution."""

    full_state_update = False
    higher_is_better = None

    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)
        self.add_state(
            "counts",
            default=torch.zeros(len(GROUPS), len(COUNTERS), dtype=torch.long),
            dist_reduce_fx="sum",
        )

    def update(
        self, tags: Sequence[BehaviourTags], correct: Sequence[bool], tokens: Sequence[int]
    ) -> None:
        """Counts each solution under its group; ``tokens[i]`` is solution ``i``'s length."""
        if not len(tags) == len(correct) == len(tokens):
            raise ValueError(f"{len(tags)} tags, {len(correct)} verdicts, {len(tokens)} lengths")
        if not tags:
            return
        rows = torch.tensor([GROUPS.index("correct" if c else "incorrect") for c in correct])
        values = torch.tensor(
            [_counters(tag, length) for tag, length in zip(tags, tokens)], dtype=torch.long
        )
        self.counts.index_add_(0, rows.to(self.device), values.to(self.device))

    def compute(self) -> dict[str, dict[str, float]]:
        """``{group: {"solutions", "tokens_per_solution", "crucial_tokens_per_solution",
        behaviour: share ...}}`` for each group with solutions."""
        results = {}
        for row, group in enumerate(GROUPS):
            counts = self.counts[row].double()
            solutions = float(counts[0])
            if solutions == 0:
                continue
            shares = {
                name: float(counts[COUNTERS.index(name)]) / solutions
                for name in (*BEHAVIOURS, "any_behaviour")
            }
            results[group] = {
                "solutions": solutions,
                "tokens_per_solution": float(counts[1]) / solutions,
                "crucial_tokens_per_solution": float(counts[2]) / solutions,
                **shares,
            }
        return results


def _counters(tag: BehaviourTags, tokens: int) -> list[int]:
    shown = tag.behaviours
    return [
        1,
        tokens,
        sum(tag.crucial_tokens.values()),
        *(behaviour in shown for behaviour in BEHAVIOURS),
        bool(shown),
    ]

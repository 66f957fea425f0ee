"""Pairs of problems for MathCoder's problem interpolation (arXiv 2310.03731).

MathCoder made new training problems by showing a model a GSM8K problem and a MATH problem and
asking for one of intermediate difficulty. ``ProblemPairs`` draws those pairs from any two
sources; ``datamodules.formats.problem.NewProblemFormat`` asks for the new problem, and the
rejection sampler (``harvest.generations``) then keeps the new problems and, in a second run, their
execution-verified solutions.
"""

from __future__ import annotations

import random
from collections.abc import Iterator

from checks import InputError
from datamodules.sample import Sample
from datamodules.sources.base import SampleSource


def pair_text(easier: Sample, harder: Sample) -> str:
    """The two problems as the new problem's request shows them, the easier first."""
    return f"Problem 1 (easier):\n{easier.question}\n\nProblem 2 (harder):\n{harder.question}"


class ProblemPairs(SampleSource):
    """One sample per pair: its question is the two problems (``pair_text``), its id joins
    theirs, and it has no answer (the new problem's answer is found when it is solved).

    Args:
        easier: the easier problems (MathCoder: GSM8K).
        harder: the harder problems (MathCoder: MATH).
        count: how many pairs (default: as many as the smaller source has problems).
        seed: which problems meet: each source is shuffled with it; every problem is used at
            most once.
    """

    def __init__(
        self, easier: SampleSource, harder: SampleSource, count: int | None = None, seed: int = 0
    ) -> None:
        if count is not None and count < 0:
            raise InputError(f"count must be >= 0 or None, got {count}")
        self.easier, self.harder, self.count, self.seed = easier, harder, count, seed

    def __iter__(self) -> Iterator[Sample]:
        easier, harder = list(self.easier), list(self.harder)
        draw = random.Random(self.seed)
        draw.shuffle(easier)
        draw.shuffle(harder)
        pairs = list(zip(easier, harder))[: self.count]
        for first, second in pairs:
            yield Sample(
                id=f"{first.id}+{second.id}",
                dataset="interpolation",
                question=pair_text(first, second),
            )

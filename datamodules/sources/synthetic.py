"""The embedded default as a source: the generated arithmetic word problems."""

from __future__ import annotations

from collections.abc import Iterator

from datamodules.generators.synthetic import generate_problems
from datamodules.sample import Sample
from datamodules.sources.base import SampleSource


class SyntheticProblems(SampleSource):
    """The embedded default: arithmetic word problems with HTL solutions
    (``datamodules.generators.synthetic``).

    Args:
        seed: problems are a pure function of it; use different seeds for train and held-out.
        count: how many problems.
    """

    def __init__(self, seed: int = 0, count: int = 1000) -> None:
        self.seed, self.count = seed, count

    def __iter__(self) -> Iterator[Sample]:
        return generate_problems(self.seed, self.count, dataset=f"synthetic-{self.seed}")

"""Several sample sources as one training set: GSM8K plus easier generated problems, for example,
so that a small model also sees the one- to three-step problems it can learn from first."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from checks import InputError
from datamodules.sample import Sample
from datamodules.sources.base import SampleSource


class SourceMixture(SampleSource):
    """Every sample of each source, source after source (the training loader shuffles them).

    Args:
        sources: the sources, each with its own settings (a sample count sets its share).
    """

    def __init__(self, sources: Sequence[SampleSource]) -> None:
        if not sources:
            raise InputError("a mixture needs at least one source")
        self.sources = list(sources)

    def __iter__(self) -> Iterator[Sample]:
        for source in self.sources:
            yield from source

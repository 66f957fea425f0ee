"""A mixture of sample sources: every sample of each, source after source."""

from __future__ import annotations

import pytest

from datamodules.sources.mixture import SourceMixture
from datamodules.sources.synthetic import SyntheticProblems


def test_mixture_yields_each_source_in_turn() -> None:
    first, second = SyntheticProblems(seed=0, count=3), SyntheticProblems(seed=1, count=2)
    ids = [sample.id for sample in SourceMixture([first, second])]
    assert ids == [s.id for s in first] + [s.id for s in second]
    assert len(set(ids)) == 5  # different seeds, different samples


def test_empty_mixture_is_refused() -> None:
    with pytest.raises(ValueError, match="at least one source"):
        SourceMixture([])

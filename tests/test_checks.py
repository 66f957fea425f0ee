"""One range rule for every settings group: the field is named with its group."""

from __future__ import annotations

import pytest

from generation.engine import GenerationOptions
from rl.options import PPOOptions
from sandbox import SandboxOptions


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: GenerationOptions(num_samples=0), r"generation\.num_samples must be >= 1, got 0"),
        (lambda: GenerationOptions(top_k=-1), r"generation\.top_k must be >= 0, got -1"),
        (lambda: PPOOptions(minibatch_size=0), r"ppo\.minibatch_size must be >= 1, got 0"),
        (lambda: SandboxOptions(workers=0), r"sandbox\.workers must be >= 1, got 0"),
        (lambda: SandboxOptions(disk_mb=0), r"sandbox\.disk_mb must be >= 1, got 0"),
    ],
)
def test_values_below_the_minimum_are_refused_by_name(build, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        build()


def test_none_means_no_limit_and_passes() -> None:
    assert PPOOptions(minibatch_size=None).minibatch_size is None
    assert SandboxOptions(workers=None).worker_count >= 1

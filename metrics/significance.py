"""How sure an accuracy is, and whether two conditions differ: the statistics of the reports.

Accuracies over a few hundred problems move by several points from noise alone, so every reported
rate carries its 95% Wilson score interval (sound near 0% and 100%, where the normal
approximation is not), and every comparison of two conditions graded on the same problems gets
McNemar's exact test: only the problems on which they disagree carry information, and under the
null hypothesis each disagreement is a fair coin. Both are a few lines of the standard library;
neither scipy nor statsmodels is a dependency of the project.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from statistics import NormalDist
from typing import TypeVar

Key = TypeVar("Key")


def wilson_interval(successes: int, n: int, confidence: float = 0.95) -> tuple[float, float]:
    """The Wilson score interval of the rate ``successes / n`` (Wilson 1927), as fractions."""
    if not 0 <= successes <= n:
        raise ValueError(f"need 0 <= successes <= n, got {successes} of {n}")
    if n == 0:
        return 0.0, 1.0
    z = NormalDist().inv_cdf(0.5 + confidence / 2)
    rate = successes / n
    centre = rate + z * z / (2 * n)
    spread = z * math.sqrt(rate * (1 - rate) / n + z * z / (4 * n * n))
    scale = 1 + z * z / n
    return max(0.0, (centre - spread) / scale), min(1.0, (centre + spread) / scale)


def mcnemar_exact(b: int, c: int) -> float:
    """The two-sided exact McNemar p-value: ``b`` problems only the first condition solved, ``c``
    only the second; the smaller count's binomial tail at p = 1/2, doubled (capped at 1)."""
    if b < 0 or c < 0:
        raise ValueError(f"discordant counts must be non-negative, got {b} and {c}")
    n = b + c
    tail = sum(math.comb(n, k) for k in range(min(b, c) + 1)) / 2**n
    return min(1.0, 2 * tail)


@dataclass(frozen=True)
class PairedComparison:
    """Two conditions on their shared problems: ``b`` solved by the first alone, ``c`` by the
    second alone, ``p`` McNemar's exact p-value, ``n`` the shared problems."""

    n: int
    b: int
    c: int
    p: float


def paired_comparison(first: Mapping[Key, bool], second: Mapping[Key, bool]) -> PairedComparison:
    """Compare two conditions' per-problem verdicts on the problems both were graded on."""
    shared = first.keys() & second.keys()
    b = sum(first[key] and not second[key] for key in shared)
    c = sum(second[key] and not first[key] for key in shared)
    return PairedComparison(n=len(shared), b=b, c=c, p=mcnemar_exact(b, c))

"""The evaluation metrics of CoGEX emulation, per task and overall: emulation accuracy,
parse-failure rate, and how often a fully defined program's real output agreed with its
emulation (the verdicts are ``grading.emulation``'s)."""

from __future__ import annotations

from collections.abc import Sequence

from datamodules.formats.cogex import ParseFailure
from grading.emulation import EmulationVerdict
from metrics.evaluation import DatasetCounts

COUNTERS = ("samples", "correct", "parse_failures", "fully_defined", "agreed")
# Reported value -> (numerator counter, denominator counter, what it means).
METRICS = {
    "emulation_acc": ("correct", "samples", "the emulated 'answer' matches the gold"),
    "parse_failure_rate": ("parse_failures", "samples", "no program, call or output dict read"),
    "fully_defined_rate": ("fully_defined", "samples", "the program could run for real"),
    "execution_agreement": ("agreed", "fully_defined", "real output == emulated output"),
}


class EmulationMetrics(DatasetCounts):
    """Emulation accuracy, parse-failure rate and real-execution agreement, per task (the
    datasets) and overall; ``execution_agreement`` appears only where a program ran.

    Args:
        datasets: the task names to break the metrics down by; ``all`` is reserved.
    """

    def __init__(self, datasets: Sequence[str], **kwargs: object) -> None:
        super().__init__(datasets, COUNTERS, **kwargs)

    def update(self, verdicts: Sequence[EmulationVerdict], datasets: Sequence[str]) -> None:
        self._count([_counters(verdict) for verdict in verdicts], datasets, "verdicts")

    def _ratios(self, row: dict[str, float]) -> dict[str, float]:
        return {
            metric: row[numerator] / row[denominator]
            for metric, (numerator, denominator, _) in METRICS.items()
            if row[denominator] > 0
        }


def _counters(verdict: EmulationVerdict) -> list[int]:
    """One verdict's row of :data:`COUNTERS`."""
    failed = isinstance(verdict.reading, ParseFailure)
    return [1, verdict.correct, failed, verdict.agreed is not None, verdict.agreed is True]

"""Evaluation metrics over verdicts, per dataset and overall, synced across ranks.

All of them are ratios of counts, so one ``(datasets, counters)`` integer tensor summed across
ranks holds everything: one all-reduce per evaluation, and the per-dataset breakdown cannot drift
from the overall numbers (the overall row is the sum of the dataset rows).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torchmetrics import Metric

from checks import InputError
from grading.verification import Verdict

COUNTERS = (
    "samples",
    "correct",
    "text_correct",
    "program_correct",
    "translation_errors",
    "execution_errors",
    "timeouts",
    "matcher_timeouts",
    "program_fallbacks",
    "words_fallbacks",
    "generated_tokens",
)
# Reported value -> (numerator counter, what it means); every one is divided by ``samples``. The
# "first solution" is the one asked for with the format's own prompt; the cascade's retries only
# change exec_acc, the fallback rates and the tokens.
METRICS = {
    "exec_acc": ("correct", "the final answer, after running the code and any fallback, is right"),
    "reasoning_acc": ("text_correct", "the first solution's reasoning states the right answer"),
    "program_acc": ("program_correct", "the first solution's program prints the right answer"),
    "cte_rate": ("translation_errors", "code-translation error: reasoning right, program not"),
    "exec_error_rate": ("execution_errors", "the first program crashed or hit a memory limit"),
    "timeout_rate": ("timeouts", "the first program ran out of wall time"),
    "matcher_timeout_rate": ("matcher_timeouts", "an answer comparison hit its time bound"),
    "program_fallback_rate": ("program_fallbacks", "the program-only retry gave the final answer"),
    "words_fallback_rate": ("words_fallbacks", "the words-only retry gave the final answer"),
    "mean_gen_tokens": ("generated_tokens", "tokens the model wrote, all attempts together"),
}
OVERALL = "all"


class DatasetCounts(Metric):
    """Integer counters per dataset, summed across ranks, reported as ratios per dataset and
    for ``all`` (the sum of the dataset rows). Subclasses name the counters and the ratios.

    Args:
        datasets: the dataset names to break the metrics down by, known before evaluation
            starts (the datamodule's evaluation problems); ``all`` is reserved for the total.
        counters: the names of the integer counts kept per dataset; the first counts samples.
    """

    full_state_update = False
    higher_is_better = None

    def __init__(self, datasets: Sequence[str], counters: Sequence[str], **kwargs: object) -> None:
        super().__init__(**kwargs)
        names = list(dict.fromkeys(datasets))
        if OVERALL in names:
            raise InputError(f"{OVERALL!r} names the overall row and cannot be a dataset name")
        self.datasets = tuple(names)
        self.counters = tuple(counters)
        self._rows = {name: row for row, name in enumerate(self.datasets)}
        self.add_state(
            "counts",
            default=torch.zeros(len(self.datasets), len(self.counters), dtype=torch.long),
            dist_reduce_fx="sum",
        )

    def _count(
        self, rows: Sequence[Sequence[int]], datasets: Sequence[str], what: str = "items"
    ) -> None:
        """Adds each row of counter values under its dataset (``datasets[i]`` names row i's);
        ``what`` names the items counted, for the error message."""
        if len(rows) != len(datasets):
            raise ValueError(f"{len(rows)} {what} but {len(datasets)} dataset names")
        unknown = sorted(set(datasets) - set(self._rows))
        if unknown:
            raise ValueError(
                f"unknown datasets {unknown}; this metric counts {list(self.datasets)}"
            )
        indices = torch.tensor([self._rows[name] for name in datasets], dtype=torch.long)
        values = torch.tensor(rows, dtype=torch.long).reshape(len(rows), len(self.counters))
        if len(rows):
            self.counts.index_add_(0, indices.to(self.device), values.to(self.device))

    def compute(self) -> dict[str, dict[str, float]]:
        """``{dataset: {metric: value}}`` for every dataset with samples, and ``all``;
        ``samples`` is included so a reader can weigh the rows."""
        counts = self.counts.double()
        rows = {name: counts[row] for row, name in enumerate(self.datasets)}
        rows[OVERALL] = counts.sum(dim=0)
        counted = {name: dict(zip(self.counters, row.tolist())) for name, row in rows.items()}
        samples = self.counters[0]
        return {
            name: self._ratios(row) | {"samples": row[samples]}
            for name, row in counted.items()
            if row[samples] > 0
        }

    def _ratios(self, row: dict[str, float]) -> dict[str, float]:
        """The reported values of one row of counts (at least one sample)."""
        raise NotImplementedError


class EvaluationMetrics(DatasetCounts):
    """Execution-verified, reasoning-only and program-only accuracy, code-translation-error,
    execution-error and timeout rates, fallback shares and mean generated tokens.

    Args:
        datasets: the dataset names to break the metrics down by; ``all`` is reserved.
    """

    def __init__(self, datasets: Sequence[str], **kwargs: object) -> None:
        super().__init__(datasets, COUNTERS, **kwargs)

    def update(self, verdicts: Sequence[Verdict], datasets: Sequence[str]) -> None:
        """Counts each verdict under its dataset (``datasets[i]`` names ``verdicts[i]``'s)."""
        self._count([_counters(verdict) for verdict in verdicts], datasets, "verdicts")

    def _ratios(self, row: dict[str, float]) -> dict[str, float]:
        return {metric: row[counter] / row["samples"] for metric, (counter, _) in METRICS.items()}


def _counters(verdict: Verdict) -> list[int]:
    return [
        1,
        verdict.correct,
        verdict.text_correct,
        verdict.program_correct,
        verdict.translation_error,
        verdict.execution_error,
        verdict.timed_out,
        verdict.matcher_timed_out,
        verdict.stage == "program",
        verdict.stage == "words",
        verdict.generated_tokens,
    ]

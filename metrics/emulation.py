"""Grading CoGEX emulations: the emulated ``'answer'`` against the gold, and the evaluation
metrics over those verdicts per task (emulation accuracy, parse-failure rate, and how often a
fully defined program's real output agreed with its emulation).

Nothing here runs code: the emulated output is the result (the optional real run is
``metrics/agreement.py``).
"""

from __future__ import annotations

import ast
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from datamodules.formats.cogex import MAX_OUTPUT_CHARS, Emulation, ParseFailure, answer_text
from metrics.answers import AnswerMatcher
from metrics.evaluation import DatasetCounts

Reading = Emulation | ParseFailure
COUNTERS = ("samples", "correct", "parse_failures", "fully_defined", "agreed")
# Reported value -> (numerator counter, denominator counter, what it means).
METRICS = {
    "emulation_acc": ("correct", "samples", "the emulated 'answer' matches the gold"),
    "parse_failure_rate": ("parse_failures", "samples", "no program, call or output dict read"),
    "fully_defined_rate": ("fully_defined", "samples", "the program could run for real"),
    "execution_agreement": ("agreed", "fully_defined", "real output == emulated output"),
}


def answer_value(text: str) -> Any:
    """An answer written as text, as a value: a Python literal when it is one, else the text."""
    text = text.strip()
    if len(text) > MAX_OUTPUT_CHARS:
        return text
    try:
        return ast.literal_eval(text)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return text


def answers_match(predicted: Any, gold: str, matcher: AnswerMatcher) -> bool:
    """Equal values when the gold is a literal of the same kind (a flag is never a number),
    else the matcher on the two texts (numbers within tolerance, plain words)."""
    expected = answer_value(gold)
    if isinstance(predicted, bool) == isinstance(expected, bool) and predicted == expected:
        return True
    return matcher(answer_text(predicted), gold).correct


@dataclass(frozen=True)
class EmulationVerdict:
    """One generation's grade; ``agreed`` is None when its program was not run for real."""

    reading: Reading
    correct: bool
    agreed: bool | None = None

    def counters(self) -> list[int]:
        failed = isinstance(self.reading, ParseFailure)
        return [1, self.correct, failed, self.agreed is not None, self.agreed is True]

    def record(self) -> dict[str, Any]:
        """JSON-ready: the reading (or why there is none), the verdict and the agreement."""
        reading = self.reading
        if isinstance(reading, ParseFailure):
            parsed = {"failure": reading.kind, "detail": reading.detail}
        else:
            parsed = {
                "program": reading.program,
                "call": reading.call,
                "emulated_output": repr(reading.output),
                "answer": answer_text(reading.answer),
            }
        return parsed | {"correct": self.correct, "agreed": self.agreed}


def grade(reading: Reading, gold: str, matcher: AnswerMatcher) -> bool:
    return isinstance(reading, Emulation) and answers_match(reading.answer, gold, matcher)


class EmulationMetrics(DatasetCounts):
    """Emulation accuracy, parse-failure rate and real-execution agreement, per task (the
    datasets) and overall; ``execution_agreement`` appears only where a program ran.

    Args:
        datasets: the task names to break the metrics down by; ``all`` is reserved.
    """

    def __init__(self, datasets: Sequence[str], **kwargs: object) -> None:
        super().__init__(datasets, COUNTERS, **kwargs)

    def update(self, verdicts: Sequence[EmulationVerdict], datasets: Sequence[str]) -> None:
        self._count([verdict.counters() for verdict in verdicts], datasets, "verdicts")

    def _ratios(self, row: dict[str, float]) -> dict[str, float]:
        return {
            metric: row[numerator] / row[denominator]
            for metric, (numerator, denominator, _) in METRICS.items()
            if row[denominator] > 0
        }

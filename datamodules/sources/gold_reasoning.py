"""Questions with gold reasoning in words: what HTL's self-distillation asks a model to turn into
programs.

Each record becomes a sample holding the reasoning as its one text block and the gold answer.
Three layouts are read, from any jsonl file:

- ``gsm8k``: ``question`` and ``answer`` (a solution with ``<<48/2=24>>`` calculator annotations
  and a final ``#### N`` line). The annotations are removed and ``#### N`` becomes "The answer is
  N.", as in ``datamodules.sources.gsm8k_htl``.
- ``math``: ``problem`` and ``solution`` (Hendrycks MATH); the gold is the solution's last
  ``\\boxed{}``, and the solution is the reasoning as written.
- ``fields``: any records with a question, a reasoning and an answer, under the field names
  given (``question``, ``reasoning``, ``answer`` by default).

A record missing a field stops the run with ``file:line: missing field 'x'`` (or is skipped and
counted with ``on_error: skip``), as every jsonl source here does.
"""

from __future__ import annotations

from collections.abc import Iterator
from itertools import islice
from pathlib import Path
from typing import Any, Literal

from checks import InputError
from datamodules.sample import Block, Sample
from datamodules.sources.base import JsonlSource, OnError, required_text
from datamodules.sources.benchmarks import BENCHMARKS, format_number
from datamodules.sources.gsm8k_htl import reasoning_text

Layout = Literal["gsm8k", "math", "fields"]


class GoldReasoning(JsonlSource):
    """Problems with their gold reasoning as a text block (see the module docstring).

    Args:
        path: the jsonl file.
        layout: ``gsm8k``, ``math`` or ``fields``.
        limit: read only the first ``limit`` records.
        question_field: the question's field (``fields`` layout).
        reasoning_field: the reasoning's field (``fields`` layout).
        answer_field: the gold answer's field (``fields`` layout).
        on_error: ``raise`` at the first bad record, or ``skip`` and count bad records.
    """

    def __init__(
        self,
        path: str | Path,
        layout: Layout = "fields",
        limit: int | None = None,
        question_field: str = "question",
        reasoning_field: str = "reasoning",
        answer_field: str = "answer",
        on_error: OnError = "raise",
    ) -> None:
        super().__init__(path, on_error)
        if layout not in ("gsm8k", "math", "fields"):
            raise InputError(f"layout must be gsm8k, math or fields, got {layout!r}")
        if limit is not None and limit < 0:
            raise InputError(f"limit must be >= 0 or None, got {limit}")
        self.layout, self.limit = layout, limit
        self.fields = (question_field, reasoning_field, answer_field)

    def __iter__(self) -> Iterator[Sample]:
        return islice(super().__iter__(), self.limit)

    def parse_record(self, record: dict[str, Any], line: int) -> Sample:
        question, reasoning, answer = self._parts(record)
        return Sample(
            id=str(record.get("id", record.get("idx", f"{self.path.stem}-{line}"))),
            dataset=self.path.stem if self.layout == "fields" else self.layout,
            question=question,
            blocks=(Block("text", reasoning),),
            answer=answer,
        )

    def _parts(self, record: dict[str, Any]) -> tuple[str, str, str]:
        """(question, reasoning, gold answer) of one record in this source's layout."""
        if self.layout == "gsm8k":
            question, answer = BENCHMARKS["gsm8k"].convert(record)
            return question, reasoning_text(record["answer"].rsplit("####", 1)[0], answer), answer
        if self.layout == "math":
            question, answer = BENCHMARKS["math"].convert(record)
            return question, record["solution"].strip(), answer
        question_field, reasoning_field, answer_field = self.fields
        return (
            required_text(record, question_field).strip(),
            required_text(record, reasoning_field).strip(),
            format_number(record[answer_field]),
        )

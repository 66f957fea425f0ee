"""Grading CoGEX emulations: the emulated ``'answer'`` against the gold, one verdict per
generation (its counts over a task are ``metrics.emulation``).

Nothing here runs code: the emulated output is the result (the optional real run is
``grading/agreement.py``).
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from typing import Any

from datamodules.formats.cogex import MAX_OUTPUT_CHARS, Emulation, ParseFailure, answer_text
from grading.answers import AnswerMatcher

Reading = Emulation | ParseFailure


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

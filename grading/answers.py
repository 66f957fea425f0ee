"""Answer matching: is a predicted final answer the gold one?

Cheap rules run first, in the caller's process, and decide most pairs without sympy: numbers
(commas, units, currency, percent, ``\\frac``, trailing ``.0``, ``x = 5``) within a relative
tolerance, number tuples and sets element-wise, and plain-word answers ("(B)", "Yes"). Everything
else goes to math_verify in a helper process that is killed when it overruns ``timeout_s``
(:mod:`grading.symbolic`), so each comparison is time-bounded in any thread or process. A timeout
counts as wrong and is reported as ``timed_out``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from checks import InputError
from datamodules.numbers import close
from grading import symbolic
from grading.extraction import extract_program_answer, extract_text_answer
from grading.normalize import (
    Number,
    clean,
    looks_mathematical,
    plain_words,
    split_sequence,
    to_number,
)

__all__ = ["AnswerMatcher", "MatchResult", "extract_program_answer", "extract_text_answer"]

# Longer answers are not answers (a runaway generation): rejected before any parsing.
MAX_ANSWER_CHARS = 10_000
# Longer expressions are not sent to sympy at all.
MAX_SYMBOLIC_CHARS = 1_000
# "x = 5", "n_1 = 5": one variable assigned one value reads as the value (as math_verify does).
_ASSIGNMENT = re.compile(r"[A-Za-z](?:_\{?[A-Za-z0-9]{1,8}\}?)?\s*=\s*(?P<value>[^=]+)")


@dataclass(frozen=True)
class MatchResult:
    """The verdict on one (prediction, gold) pair; ``reason`` names the rule that decided it."""

    correct: bool
    timed_out: bool
    reason: str


@dataclass(frozen=True)
class AnswerMatcher:
    """Compares predicted answers with gold answers, numerically first, then symbolically.

    A dataclass, so a run's saved ``config.yaml`` records its settings even when the recipe
    left them at their defaults.

    Args:
        rel_tol: relative tolerance for numbers (``|p - g| <= rel_tol * max(|p|, |g|)``); two
            numbers both written as whole numbers must be equal.
        percent_leniency: also accept ``gold * 100`` and ``gold / 100`` (ToRA's rule for
            percentages). Independently of it, a ``%`` written on one side lets that side be read
            as ``v`` or ``v / 100``.
        timeout_s: hard bound on the symbolic comparison of one pair, in seconds.
    """

    rel_tol: float = 1e-4
    percent_leniency: bool = False
    timeout_s: float = 3.0

    def __post_init__(self) -> None:
        if self.rel_tol < 0:
            raise InputError(f"rel_tol must be >= 0, got {self.rel_tol}")
        if self.timeout_s <= 0:
            raise InputError(f"timeout_s must be > 0, got {self.timeout_s}")

    def __call__(self, prediction: str | None, gold: str) -> MatchResult:
        if prediction is None or not prediction.strip():
            return MatchResult(False, False, "no prediction")
        if not gold.strip():
            return MatchResult(False, False, "no gold answer")
        if len(prediction) > MAX_ANSWER_CHARS or len(gold) > MAX_ANSWER_CHARS:
            return MatchResult(False, False, "answer too long")
        pred, ref = clean(prediction), clean(gold)
        if not pred:
            return MatchResult(False, False, "no prediction")
        pred_number, gold_number = _number_or_assigned(pred), _number_or_assigned(ref)
        if pred_number is not None and gold_number is not None:
            equal = self._numbers_equal(pred_number, gold_number)
            return MatchResult(equal, False, "numeric " + ("match" if equal else "mismatch"))
        sequences = self._sequences_equal(pred, ref)
        if sequences is not None:
            return MatchResult(
                sequences, False, "elementwise " + ("match" if sequences else "mismatch")
            )
        if plain_words(pred) == plain_words(ref):
            return MatchResult(True, False, "string match")
        if not (looks_mathematical(pred) or looks_mathematical(ref)):
            return MatchResult(False, False, "string mismatch")
        if len(pred) > MAX_SYMBOLIC_CHARS or len(ref) > MAX_SYMBOLIC_CHARS:
            return MatchResult(False, False, "too long for symbolic comparison")
        verdict = symbolic.symbolic_equal(ref, pred, self.timeout_s)
        if verdict.timed_out:
            return MatchResult(False, True, verdict.detail)
        return MatchResult(
            verdict.equal, False, "symbolic " + ("match" if verdict.equal else "mismatch")
        )

    def warm_up(self) -> None:
        """Start the calling thread's symbolic helper now instead of on its first comparison."""
        symbolic.warm_up()

    def _numbers_equal(self, pred: Number, gold: Number) -> bool:
        preds = [pred.value, pred.value / 100] if pred.percent else [pred.value]
        golds = [gold.value, gold.value / 100] if gold.percent else [gold.value]
        if self.percent_leniency:
            golds += [gold.value * 100, gold.value / 100]
        if pred.integer and gold.integer:  # 70001 is not 70000, whatever the tolerance
            return any(p == g for p in preds for g in golds)
        return any(close(p, g, self.rel_tol) for p in preds for g in golds)

    def _sequences_equal(self, pred: str, gold: str) -> bool | None:
        """Element-wise verdict for number tuples/sets/intervals; None when it cannot decide."""
        pred_split, gold_split = split_sequence(pred), split_sequence(gold)
        if pred_split is None or gold_split is None:
            return None
        (pred_open, pred_close, pred_items), (gold_open, gold_close, gold_items) = (
            pred_split,
            gold_split,
        )
        # A bare list reads as the other side's tuple or set; two bare lists are unordered, like
        # the solutions of an equation ("-2, 1"), which is how math-verify reads them too.
        if not pred_open and gold_open + gold_close in ("()", "{}"):
            pred_open, pred_close = gold_open, gold_close
        if not gold_open and pred_open + pred_close in ("()", "{}"):
            gold_open, gold_close = pred_open, pred_close
        if (pred_open, pred_close) != (gold_open, gold_close) or len(pred_items) != len(gold_items):
            return None
        pred_numbers = [to_number(item) for item in pred_items]
        gold_numbers = [to_number(item) for item in gold_items]
        if None in pred_numbers or None in gold_numbers:
            return None
        if pred_open in ("{", ""):  # a set or two bare lists: order does not matter
            pred_numbers.sort(key=lambda number: number.value)
            gold_numbers.sort(key=lambda number: number.value)
        return all(map(self._numbers_equal, pred_numbers, gold_numbers))


def _number_or_assigned(text: str) -> Number | None:
    number = to_number(text)
    if number is None and (assignment := _ASSIGNMENT.fullmatch(text)):
        number = to_number(assignment["value"])
    return number

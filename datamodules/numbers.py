"""What a number is, as text, and when two numbers are the same: the one rule that data
converters, answer grading and data harvests share.

It sits with the data, below grading (``grading`` imports the data layer, never the reverse).
"""

from __future__ import annotations

import math
import re
from fractions import Fraction
from typing import TypeVar

# Thousands: a first group of one to three digits (not 0), then groups of three parted by ",",
# LaTeX's ",\\!" or "{,}", or a thin space "\\,": "10,455", "11,\\! 111", "10{,}455".
_GROUPED = r"(?<![0-9])[1-9][0-9]{0,2}(?:(?:,\\!\s?|\{,\}|\\,|,)[0-9]{3})+(?![0-9])"
# A decimal comma, as much of Europe writes it ("2,74", "0,111", "1000,99"): one comma that cannot
# part thousands: two digits after it (cents: "1000,99"), or a first group of 0 ("0,111").
# One digit after it is a list, as MATH writes two values ("1,2", "5,7"); so is a run of commas
# ("1,22,3") and a pair in brackets ("(10,20)").
_DECIMAL_COMMA = r"(?<![(\[{,])(?:[0-9]+,[0-9]{2}|0,[0-9]+)(?![0-9)\]}]|[.,][0-9])"
# The number itself, unsigned: thousands, a decimal comma or plain digits, with an optional
# decimal part, or a bare decimal part (".5"). A sentence's full stop is not a decimal point.
PATTERN = rf"(?:{_GROUPED}|{_DECIMAL_COMMA}|[0-9]+)(?:\.[0-9]+)?|\.[0-9]+"
NUMBER = re.compile(PATTERN)
GROUPED = re.compile(_GROUPED)
# A number in prose is not part of a word or a name: "AZYUK2A", "x16", "v2" hold none.
IN_TEXT = rf"(?<![\w.])(?:{PATTERN})"
NUMBER_IN_TEXT = re.compile(IN_TEXT)
# A number written on its own, not the start of something longer: 16, 3.5, "$30."; not x16, 1e5,
# v2.0 (harvests look for an answer the solution wrote down).
STANDALONE = re.compile(rf"{IN_TEXT}(?!\.?\d|\w)")
_SEPARATORS = re.compile(r"[^0-9]")
Real = TypeVar("Real", float, Fraction)


def plain(number: str) -> str:
    """A number matched by :data:`PATTERN`, signed or not, as Python reads it:
    "10,\\!455" -> "10455", "-1,000.5" -> "-1000.5", "2,74" -> "2.74"."""
    sign, body = ("-", number[1:]) if number.startswith("-") else ("", number)
    grouped = GROUPED.match(body)
    if grouped is not None:
        return sign + _SEPARATORS.sub("", grouped[0]) + body[grouped.end() :]
    return sign + body.replace(",", ".")


def close(a: Real, b: Real, rel_tol: float) -> bool:
    """Whether two numbers are the same up to ``rel_tol`` of the larger, ``math.isclose``'s rule
    (an infinite difference is never close), exact for fractions."""
    if a == b:
        return True
    difference = abs(a - b)
    return difference != math.inf and difference <= rel_tol * max(abs(a), abs(b))

"""Cheap, regex-only answer normalisation: the matcher's fast path, run in the caller's process.

Every pattern here is linear in the input (no nested quantifiers over the same characters), so
even a megabyte of adversarial text costs milliseconds; anything that needs real algebra is left
to the time-bounded symbolic helper.
"""

from __future__ import annotations

import math
import re
import unicodedata
from dataclasses import dataclass

from datamodules.latex import final_boxed
from datamodules.numbers import GROUPED, PATTERN, plain

_TEXT_WRAPPER = re.compile(
    r"\\(?:text|textbf|textit|textrm|mathrm|mathbf|mbox|operatorname)\s*\{([^{}]*)\}"
)
# ``\\\\`` (a matrix row break) is matched first so that its second backslash is never read as
# the spacing command ``\\ ``.
_LATEX_SPACING = re.compile(r"\\\\|\\(?:left|right|displaystyle|[!,;:> ])|~")
# A word or unit in ``\\text`` after a value ("8\\sqrt{3}\\text{ square inches}"): dropped, as ToRA
# and Qwen2.5-Math do, so that the value is compared alone.
_TRAILING_TEXT = re.compile(
    r"\s*\\(?:text|textrm|mbox|mathrm)\s*\{\s*[A-Za-z][^{}]*\}(?:\s*\^\s*\{?\d\}?)?\s*\.?$"
)
# A system written as ``cases`` whose rows are all ``variable = value`` is its solution list.
_CASES = re.compile(
    r"(?:\\left\\\{\s*)?\\begin\{cases\}(?P<rows>.*)\\end\{cases\}(?:\s*\\right\.)?", re.DOTALL
)
_CASES_ROW = re.compile(r"[A-Za-z](?:_\{?\w{1,8}\}?)?\s*&?=\s*[^&=]+")
_DEGREES = re.compile(r"\^\s*\{?\s*\\circ\s*\}?|°")
_MATH_DELIMITERS = re.compile(r"\\[()\[\]$]|\$")
_SPACES = re.compile(r"\s+")

_DECIMAL = rf"(?:{PATTERN})(?:[eE][-+]?\d+)?"
# A unit after a number: "(apples)", "{dollars}", a word of two letters or more ("cm",
# "dollars"), or a one-letter unit (m, g, s, l, h, d, "m/s"); a lone "x" or "i" stays algebra
# (symbolic path), and so does "5(2)".
_UNIT = (
    r"\([A-Za-z][^()]{0,59}\)"
    r"|\{[A-Za-z/][^{}]{0,59}\}"
    r"|[A-Za-z]{2}[A-Za-z .'/()-]{0,58}"
    r"|[mgslhd](?:[ .'/()-][A-Za-z .'/()-]{0,57})?"
)
# No two whitespace runs are adjacent in this pattern (each follows a mandatory token), so a
# failing match backtracks linearly, never quadratically, over long runs of spaces.
_NUMBER = re.compile(
    rf"""
    (?:(?:[€£¥₹]|rs\.?|usd|inr)\s*)?(?:(?P<sign>[-+])\s*)?(?:[€£¥₹]\s*)?
    (?:
        \\[dt]?frac\s*\{{\s*(?P<frac_num>-?{_DECIMAL})\s*\}}\s*\{{\s*(?P<frac_den>{_DECIMAL})\s*\}}
      | (?P<num>{_DECIMAL})(?:\s*/\s*(?P<den>{_DECIMAL}))?
    )
    (?:\s*(?P<percent>%|\\%|percent\b))?
    (?:(?:\s+|(?=[({{]))(?:{_UNIT})(?:\^\{{?\d\}}?)?)?
    """,
    re.VERBOSE | re.IGNORECASE,
)
_OPENERS = {"(": ")]", "[": ")]", "{": "}"}
# Wrappers nested deeper than this are not unwrapped: keeps adversarial nesting linear.
_MAX_NESTING = 4


@dataclass(frozen=True)
class Number:
    """A parsed numeric answer; ``percent``: written with a percent sign; ``integer``: written
    as a whole number (no point, exponent, fraction or percent), so it is compared exactly."""

    value: float
    percent: bool
    integer: bool


def clean(answer: str) -> str:
    """Strip presentation: boxes, bold, math delimiters, ``\\text{}``, spacing, degrees, end dot."""
    text = unicodedata.normalize("NFKC", answer).replace("−", "-").strip()
    if "\\boxed" in text or "\\fbox" in text:
        text = final_boxed(text) or text
    for _ in range(_MAX_NESTING):  # **bold** or __bold__ around the whole answer
        if len(text) <= 4 or text[:2] not in ("**", "__") or text[-2:] != text[:2]:
            break
        text = text[2:-2].strip()
    text = GROUPED.sub(_latex_thousands, _MATH_DELIMITERS.sub("", text))
    text = _LATEX_SPACING.sub(lambda match: match[0] if match[0] == "\\\\" else " ", text)
    text = _DEGREES.sub("", text)
    unit = _TRAILING_TEXT.search(text)
    if unit and re.search("[0-9]", text[: unit.start()]):
        text = text[: unit.start()]
    for _ in range(_MAX_NESTING):  # \text{\textbf{x}} unwraps from the inside out
        text, count = _TEXT_WRAPPER.subn(r"\1", text)
        if not count:
            break
    text = _SPACES.sub(" ", text).strip().rstrip(" .,;:!?")
    if text.startswith("{") and text.endswith("}") and _matching_close(text, 0) == len(text) - 1:
        text = text[1:-1].strip()
    return _solved_system(text)


def _latex_thousands(number: re.Match[str]) -> str:
    """``10,\\!455`` -> ``10455`` before spacing is cleaned; ``10,455`` stays as written, since
    inside brackets (``[1,100]``) it may be two items."""
    return number[0] if number[0].replace(",", "").isdigit() else plain(number[0])


def _solved_system(text: str) -> str:
    """``\\begin{cases} x = 6 \\\\ y = 4 \\end{cases}`` -> ``x = 6, y = 4``; any other text as is
    (a piecewise definition, with conditions, stays a ``cases`` environment)."""
    system = _CASES.fullmatch(text)
    if system is None:
        return text
    rows = [row.strip() for row in system["rows"].split("\\\\") if row.strip()]
    if not rows or not all(_CASES_ROW.fullmatch(row) for row in rows):
        return text
    return ", ".join(row.replace("&", "").strip() for row in rows)


def to_number(text: str) -> Number | None:
    """The single number in a cleaned answer (commas, units, currency, percent, ``\\frac``)."""
    match = _NUMBER.fullmatch(text.strip())
    if match is None:
        return None
    numerator = match["frac_num"] or match["num"]
    denominator = match["frac_den"] or match["den"]
    value = float(plain(numerator))
    if denominator is not None:
        divisor = float(plain(denominator))
        if divisor == 0:
            return None
        value /= divisor
    if match["sign"] == "-":
        value = -value
    if not math.isfinite(value):
        return None
    percent = match["percent"] is not None
    integer = denominator is None and not percent and plain(numerator).isdigit()
    return Number(value, percent=percent, integer=integer)


def split_sequence(text: str) -> tuple[str, str, list[str]] | None:
    """``(opener, closer, items)`` for a comma list of at least two items.

    A bare list ``1, 2`` has empty opener and closer; a LaTeX set ``\\{1, 2\\}`` reads as
    ``{1, 2}``.
    """
    opener, closer, body = "", "", text
    if text.startswith("\\{") and text.endswith("\\}"):
        opener, closer, body = "{", "}", text[2:-2]
    elif text[:1] in _OPENERS and text[-1:] in _OPENERS[text[0]]:
        if _matching_close(text, 0) not in (len(text) - 1, None):
            return None
        opener, closer, body = text[0], text[-1], text[1:-1]
    items, depth, start = [], 0, 0
    for index, char in enumerate(body):
        if char in "([{":
            depth += 1
        elif char in ")]}":
            depth -= 1
        elif char == "," and depth == 0:
            items.append(body[start:index].strip())
            start = index + 1
    items.append(body[start:].strip())
    return (opener, closer, items) if len(items) >= 2 else None


def plain_words(text: str) -> str:
    """Lower-case, spaceless form of a non-numeric answer: "(B)" -> "b", "3:30 p.m." -> "3:30pm"."""
    text = text.lower()
    text = re.sub(r"(?<!\d)\.|\.(?!\d)", "", text)
    text = _SPACES.sub("", text)
    for _ in range(_MAX_NESTING):
        if text[:1] + text[-1:] not in ("()", "[]") or _matching_close(text, 0) != len(text) - 1:
            break
        text = text[1:-1]
    return text


def looks_mathematical(text: str) -> bool:
    """Whether symbolic comparison could possibly find two differently written answers equal."""
    return re.search(r"[0-9\\^_=+*/<>{}\[\]|-]", text) is not None


def _matching_close(text: str, start: int) -> int | None:
    """Index of the bracket closing the one at ``start`` (any of ()[]{}), None if unbalanced."""
    depth = 0
    for index in range(start, len(text)):
        if text[index] in "([{":
            depth += 1
        elif text[index] in ")]}":
            depth -= 1
            if depth == 0:
                return index
    return None

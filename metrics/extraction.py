"""Final-answer extraction from a model's reasoning text and from a program's printed output.

Extraction only finds the answer span; making ``$1,234.00`` equal ``1234`` is the matcher's job.
All patterns are linear-time, so megabyte-long generations cost milliseconds.
"""

from __future__ import annotations

import re
from collections import deque

from datamodules.latex import last_boxed
from metrics.normalize import clean, to_number

_ANSWER_IS = re.compile(r"\banswer\b(?:\s+is\b\s*:?|\s*:)", re.IGNORECASE)
_HASHES = re.compile(r"####")
# What follows a marker: the rest of its line, or the next line when the marker ends its line.
_FOLLOWING = re.compile(r"[ \t]*\n?\s*(?P<answer>[^\n]*)")
_BOLD = re.compile(r"\*\*(?P<answer>[^*\n]{1,100})\*\*")
_NUMBER = re.compile(
    r"(?:(?<![\w)\]])-)?"
    r"(?:\\[dt]?frac\{-?[0-9.]+\}\{[0-9.]+\}"
    r"|(?:(?:[0-9]{1,3}(?:,[0-9]{3})+|[0-9]+)(?:\.[0-9]+)?|\.[0-9]+)(?:/[0-9]+(?:\.[0-9]+)?)?)"
)
# The last number is looked for only this far before the last digit: C-speed rfind, then a regex
# on a short window, instead of a regex pass over the whole text.
_NUMBER_WINDOW = 200
# A printed line longer than this is a runaway output, not an answer.
MAX_LINE_CHARS = 10_000
_SENTENCE_END = re.compile(r"\.(?:\s|$)")
_ERROR_LINE = re.compile(r"[A-Za-z_][\w.]*(?:Error|Exception|Interrupt)(?::|$)")
_WRAPPERS = (
    (re.compile(r"(?:np|numpy)\.\w+\((?P<inner>.*)\)"), "{inner}"),
    (re.compile(r"Decimal\('(?P<inner>[^']*)'\)"), "{inner}"),
    (re.compile(r"Fraction\((?P<num>-?\d+),\s*(?P<den>\d+)\)"), "{num}/{den}"),
    (re.compile(r"(?:array|np\.array)\(\[(?P<inner>[^\[\]]*)\]\)"), "[{inner}]"),
    (re.compile(r"\((?P<inner>[^(),]+),\)"), "{inner}"),  # one-element tuple
    (re.compile(r"\[(?P<inner>[^\[\],]+)\]"), "{inner}"),  # one-element list
    (re.compile(r"\[(?P<inner>\([^\[\]]*\))\]"), "{inner}"),  # sympy's [(x, y)] solution
)
_NAME = re.compile(r"[A-Za-z_]\w*")
# Words that can appear in a printed math value without making it prose.
_MATH_WORDS = frozenset({"sqrt", "pi", "oo", "exp", "log", "sin", "cos", "tan", "inf", "nan"})
_WORD = re.compile(r"(?<![\\A-Za-z])[A-Za-z]{3,}")  # \frac is not a word
# A whole text this short, with a digit and no words, is itself the answer ("63, 21", "x = 5").
_BARE_MAX_CHARS = 100
# Only the last few bold spans can hold the final answer; bounds the work on adversarial text.
_BOLD_SPANS_CHECKED = 50


def extract_text_answer(text: str) -> str | None:
    """The final answer stated in reasoning text, or None.

    Rules, first that applies: the last complete ``\\boxed{...}``; the last "answer is ..." /
    "Answer: ..."; the last ``#### ...``; the last bold span that is a number; the whole text
    when it is a short bare answer (``63, 21``, ``x = 5``: no words); the last number
    (``\\frac{9}{10}`` counts as one).
    """
    if not text:
        return None
    boxed = last_boxed(text)
    if boxed:
        return boxed
    for marker, trim in ((_ANSWER_IS, True), (_HASHES, False)):
        found = _last(marker, text)
        if found is not None:
            answer = _FOLLOWING.match(text, found.end())["answer"]
            answer = _first_sentence(answer) if trim else answer.strip()
            if answer:
                return answer
    bold = _last_numeric_bold(text)
    if bold is not None:
        return bold
    if _is_bare_answer(text):
        return text.strip().rstrip(".").strip()
    return _last_number(text)


def extract_program_answer(output: str | None) -> str | None:
    """The answer a program printed: its last non-empty output line, unwrapped, or None.

    None for empty output, a runaway last line, or an exception as the last line. Single values
    wrapped by numpy, ``Decimal``, ``Fraction``, one-element tuples, lists or sympy solution dicts
    are unwrapped; a larger solution dict ``{x: 1, y: 2}`` becomes ``x = 1, y = 2``; a line of
    prose ("Total: $42") falls back to :func:`extract_text_answer`.
    """
    if not output or not output.strip():
        return None
    line = output.strip().splitlines()[-1].strip()
    if len(line) > MAX_LINE_CHARS or _ERROR_LINE.match(line):
        return None
    line = _unwrap(line)
    if line.startswith("{") and line.endswith("}") and ":" in line:
        entries = [entry.partition(":") for entry in line[1:-1].split(",")]
        if all(_NAME.fullmatch(name.strip()) and value.strip() for name, _, value in entries):
            if len(entries) == 1:
                return entries[0][2].strip()
            return ", ".join(f"{name.strip()} = {value.strip()}" for name, _, value in entries)
    if _has_prose(line):
        return extract_text_answer(line) or line
    return line


def _has_prose(text: str) -> bool:
    return any(word.lower() not in _MATH_WORDS for word in _WORD.findall(text))


def _is_bare_answer(text: str) -> bool:
    text = text.strip()
    return (
        len(text) <= _BARE_MAX_CHARS
        and re.search("[0-9]", text) is not None
        and not _has_prose(text)
    )


def _unwrap(line: str) -> str:
    for _ in range(len(_WRAPPERS)):
        for pattern, template in _WRAPPERS:
            match = pattern.fullmatch(line)
            if match:
                line = template.format(**match.groupdict()).strip()
                break
        else:
            return line
    return line


def _last(pattern: re.Pattern[str], text: str) -> re.Match[str] | None:
    last = deque(pattern.finditer(text), maxlen=1)
    return last[0] if last else None


def _last_number(text: str) -> str | None:
    end = max(text.rfind(digit) for digit in "0123456789")
    if end < 0:
        return None
    start = max(0, end - _NUMBER_WINDOW)
    number = _last(_NUMBER, text[start : end + 2])  # + the "}" closing a \frac
    return number[0] if number is not None else None


def _first_sentence(answer: str) -> str:
    """``18. So she ...`` -> ``18``; decimals (``3.5``) have no space after the dot."""
    end = _SENTENCE_END.search(answer)
    return (answer[: end.start()] if end else answer).strip().rstrip(".").strip()


def _last_numeric_bold(text: str) -> str | None:
    for match in reversed(deque(_BOLD.finditer(text), maxlen=_BOLD_SPANS_CHECKED)):
        if to_number(clean(match["answer"])) is not None:
            return match["answer"].strip()
    return None

"""Finding ``\\boxed{...}`` in LaTeX, with nested braces, in one linear pass.

Benchmark adapters read gold answers with it and ``metrics`` reads predicted ones, so it sits
with the data, below both."""

from __future__ import annotations

import re

_BOX = re.compile(r"\\(?:boxed|fbox)\b")
# Escaped braces (\{ \}) are literal set braces in LaTeX, not groups: skip them when balancing.
_BRACE = re.compile(r"\\[{}]|[{}]")
_BARE_ARGUMENT = re.compile(r"\s+([^\s$]+)")


def last_boxed(text: str) -> str | None:
    """Content of the last balanced ``\\boxed{...}`` (or ``\\fbox``, or ``\\boxed 5``), else None.

    An unbalanced box (``\\boxed{12`` at the end of a truncated generation) is skipped in favour
    of the previous complete one.
    """
    starts = [match.end() for match in _BOX.finditer(text)]
    if not starts:
        return None
    closing = _closing_braces(text, starts[0])
    for start in reversed(starts):
        if text.startswith("{", start):
            end = closing.get(start)
            if end is not None:
                return text[start + 1 : end].strip()
            continue
        bare = _BARE_ARGUMENT.match(text, start)
        if bare:
            return bare[1]
    return None


def _closing_braces(text: str, offset: int) -> dict[int, int]:
    """Map from each ``{`` at or after ``offset`` to the ``}`` that closes it."""
    closing: dict[int, int] = {}
    stack: list[int] = []
    for match in _BRACE.finditer(text, offset):
        if len(match[0]) == 2:
            continue
        if match[0] == "{":
            stack.append(match.start())
        elif stack:
            closing[stack.pop()] = match.start()
    return closing

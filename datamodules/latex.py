"""Finding ``\\boxed{...}`` in LaTeX, with nested braces, in one linear pass.

Benchmark adapters read gold answers with it and ``metrics`` reads predicted ones, so it sits
with the data, below both."""

from __future__ import annotations

import re

_BOX = re.compile(r"\\(?:boxed|fbox)\b")
# Escaped braces (\{ \}) are literal set braces in LaTeX, not groups: skip them when balancing.
_BRACE = re.compile(r"\\[{}]|[{}]")
_BARE_ARGUMENT = re.compile(r"\s+([^\s$]+)")
# What may stand between two boxes of one answer: math delimiters, commas, "and", spacing.
_SEPARATOR = re.compile(
    r"\s+|[$,;]|\\[()]|\\q?quad\b|\\text\s*\{\s*(?:and|,)?\s*\}|\band\b", re.IGNORECASE
)
# More boxes than this in one run are a list of steps, not one answer.
MAX_JOINED_BOXES = 10


def final_boxed(text: str) -> str | None:
    """The final answer given in boxes, or None: the last complete box (``\\boxed{...}``,
    ``\\fbox``, ``\\boxed 5``), with the boxes just before it that only separators part from it,
    joined as a list.

    ``$\\boxed{-2}$ and $\\boxed{1}$`` and ``\\boxed{1}\\boxed{2}`` are one answer of two values.
    Boxes parted by anything else, "or" included, are restatements or alternatives (MATH's
    ``\\boxed{x+11} or \\boxed{11+x}``), and the last one wins; math-verify also joins on "or".
    An unbalanced box (``\\boxed{12`` at the end of a truncated generation) is skipped.
    """
    boxes = _boxes(text)
    if not boxes:
        return None
    chosen = [boxes[-1]]
    for box in reversed(boxes[:-1]):
        if len(chosen) == MAX_JOINED_BOXES or _SEPARATOR.sub("", text[box[1] : chosen[-1][0]]):
            break
        chosen.append(box)
    return ", ".join(content for _, _, content in reversed(chosen))


def _boxes(text: str) -> list[tuple[int, int, str]]:
    """``(start, end, content)`` of every complete box, in order; unbalanced ones are left out."""
    starts = [(match.start(), match.end()) for match in _BOX.finditer(text)]
    if not starts:
        return []
    closing = _closing_braces(text, starts[0][1])
    boxes = []
    for start, body in starts:
        if text.startswith("{", body):
            end = closing.get(body)
            if end is not None:
                boxes.append((start, end + 1, text[body + 1 : end].strip()))
            continue
        bare = _BARE_ARGUMENT.match(text, body)
        if bare:
            boxes.append((start, bare.end(), bare[1]))
    return boxes


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

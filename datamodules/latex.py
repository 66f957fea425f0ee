"""Finding ``\\boxed{...}`` in LaTeX, with nested braces, in one linear pass.

Benchmark adapters read gold answers with it and ``grading`` reads predicted ones, so it sits
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
# Boxes closer than this are one answer when no word parts them ("\\boxed{35} ++ \\boxed{4}"); up
# to the second distance, when "and" or ";" parts them ("\\boxed{(3, 3)} for part (a) and
# \\boxed{(1, 1)}", "\\boxed{1} papers and \\boxed{2} bins"), as math-verify reads them.
NEAR_BOXES, LISTED_BOXES = 10, 70
_LIST_MARK = re.compile(r"\band\b|;", re.IGNORECASE)
_WORD = re.compile(r"[A-Za-z]")
# Boxes parted by "or", "=" or a product are restatements or steps, not parts of one answer.
_RESTATED = re.compile(r"\bor\b|=|\\(?:times|cdot)(?![A-Za-z])", re.IGNORECASE)


def final_boxed(text: str) -> str | None:
    """The final answer given in boxes, or None: the last complete box (``\\boxed{...}``,
    ``\\fbox``, ``\\boxed 5``), with the boxes just before it that are parts of the same answer,
    joined as a list.

    ``$\\boxed{-2}$ and $\\boxed{1}$`` and ``\\boxed{1}\\boxed{2}`` are one answer of two values;
    so are boxes that only separators part, boxes nearer than ``NEAR_BOXES`` characters with no
    word between, and different boxes within ``LISTED_BOXES`` characters parted by "and" or ";".
    Boxes parted by "or", "=" or a product are restatements, alternatives or steps (MATH's
    ``\\boxed{x+11} or \\boxed{11+x}``; ``$y = \\boxed{-\\tfrac32}$ and $x = \\boxed{-\\tfrac34}$``
    where ``x`` is asked), and the last one wins; math-verify also joins those. An empty box
    (``\\(\\boxed{}\\)`` in "put the answer in") is no part.
    An unbalanced box (``\\boxed{12`` at the end of a truncated generation) is skipped.
    """
    boxes = _boxes(text)
    if not boxes:
        return None
    chosen = [boxes[-1]]
    for box in reversed(boxes[:-1]):
        if len(chosen) == MAX_JOINED_BOXES or not _one_answer(text, box, chosen[-1]):
            break
        chosen.append(box)
    return ", ".join(content for _, _, content in reversed(chosen))


def _one_answer(text: str, box: tuple[int, int, str], after: tuple[int, int, str]) -> bool:
    """Whether ``box`` is a part of the answer whose next part is the box ``after``."""
    between = text[box[1] : after[0]]
    if not _SEPARATOR.sub("", between):
        return True
    if not box[2] or _RESTATED.search(between):
        return False
    if len(between) < NEAR_BOXES and not _WORD.search(between):
        return True
    listed = box[2] != after[2] and _LIST_MARK.search(between) is not None
    return len(between) < LISTED_BOXES and listed


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

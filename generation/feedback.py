"""What the model reads back after its code ran: the output, cut and defused, in the format's
execution delimiters."""

from __future__ import annotations

from collections.abc import Iterable

from transformers import PreTrainedTokenizerBase

from sandbox import ExecutionResult

CUT_MARKER = "\n...\n"
BREAK = "\u200b"  # zero-width space: splits a marker without changing how the output reads


def feedback_text(result: ExecutionResult, max_chars: int) -> str:
    """The run's output (a traceback included), plus the reason when it was stopped without
    saying why (a timeout prints nothing); about ``max_chars`` long at most, head and tail kept
    (the tail usually holds the answer or the error)."""
    text = result.output.strip()
    if not result.ok and result.error and result.error not in text:
        text = f"{text}\n{result.error}".strip()
    if len(text) <= max_chars:
        return text
    head = max_chars // 2
    return text[:head] + CUT_MARKER + text[len(text) - (max_chars - head) :]


def defuse(text: str, markers: Iterable[str]) -> str:
    """Break every marker in untrusted output, so that a program printing ``<|endofblock|>``
    or a closing fence cannot end its execution block early and forge the text after it (a
    fake answer to grade, under RL a reward hack)."""
    for marker in markers:
        if len(marker) > 1:
            text = text.replace(marker, marker[0] + BREAK + marker[1:])
    return text


def execution_tokens(
    result: ExecutionResult,
    delimiters: tuple[str, str],
    tokenizer: PreTrainedTokenizerBase,
    max_chars: int,
) -> list[int]:
    """Token ids of the execution block the engine appends after a code block ran."""
    before, after = delimiters
    markers = [*tokenizer.all_special_tokens, after.strip()]
    output = defuse(feedback_text(result, max_chars), markers)
    return tokenizer(before + output + after, add_special_tokens=False)["input_ids"]

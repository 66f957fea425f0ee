"""Markdown fences, as ToRA and most tool-integrated models write: reasoning in plain text,
code in a ```` ```python ```` block, its result in an ```` ```output ```` block, the final answer
in ``\\boxed{}`` or "The answer is" (arXiv 2309.17452)."""

from __future__ import annotations

import re

from checks import InputError
from datamodules.formats.base import SolutionFormat, Span
from datamodules.sample import Block, Sample

DEFAULT_INSTRUCTION = (
    "Solve the problem by reasoning step by step and running Python code where it helps. "
    "Put the final answer in \\boxed{}."
)
CODE_OPEN, OUTPUT_OPEN, FENCE_CLOSE = "```python\n", "```output\n", "\n```\n"
_FENCED = re.compile(r"```(python|output)\n(.*?)(?:\n```|$)", re.DOTALL)
# A python block whose closing fence is the text's last fence (the token that completed the
# fence may carry a few more characters), with no other fence inside it.
_CLOSED_CODE_AT_END = re.compile(r"```python\n((?:(?!```).)*)\n```\n(?:(?!```).)*$", re.DOTALL)
_KINDS = {"python": "code", "output": "execution"}


class MarkdownFormat(SolutionFormat):
    """Text, ```` ```python ```` code and ```` ```output ```` execution blocks in plain markdown.

    No special tokens: every marker is ordinary text, so any pretrained model can write it
    without new embeddings. Loss is on the text and code blocks and EOS, never on the prompt or
    execution output. A round of generation ends when a fence closes (```` ``` ```` and a
    newline); if the closed block was python, the engine runs it and appends its output block.

    Args:
        instruction: the request placed before the question.
    """

    def __init__(self, instruction: str = DEFAULT_INSTRUCTION) -> None:
        self.instruction = instruction

    @property
    def special_tokens(self) -> tuple[str, ...]:
        return ()

    @property
    def stop_strings(self) -> tuple[str, ...]:
        return ("```\n",)

    @property
    def execution_delimiters(self) -> tuple[str, str]:
        return (OUTPUT_OPEN, FENCE_CLOSE)

    def code_to_run(self, response: str) -> str | None:
        match = _CLOSED_CODE_AT_END.search(response)
        return match.group(1) if match else None

    def forced_continuation(self, phrase: str) -> str:
        return f"\n{phrase}"

    def prompt(self, sample: Sample) -> list[Span]:
        return [Span(f"{self.instruction}\n\nQuestion: {sample.question}\n\nSolution:\n")]

    def render(self, sample: Sample) -> list[list[Span]]:
        if not sample.blocks:
            raise InputError(
                f"markdown needs at least one solution block; sample {sample.id!r} has none"
            )
        spans = self.prompt(sample)
        for block in sample.blocks:
            if block.kind == "text":
                spans.append(Span(f"{block.content}\n", trainable=True))
            elif block.kind == "code":
                spans.append(Span(f"{CODE_OPEN}{block.content}{FENCE_CLOSE}", trainable=True))
            else:
                spans.append(Span(f"{OUTPUT_OPEN}{block.content}{FENCE_CLOSE}"))
        spans.append(Span("", trainable=True, eos=True))
        return [spans]

    def parse(self, generated: str) -> tuple[Block, ...]:
        blocks: list[Block] = []
        position = 0
        for match in _FENCED.finditer(generated):
            _append_text(blocks, generated[position : match.start()])
            blocks.append(Block(_KINDS[match.group(1)], match.group(2)))  # type: ignore[arg-type]
            position = match.end()
        _append_text(blocks, generated[position:])
        return tuple(blocks)


def _append_text(blocks: list[Block], text: str) -> None:
    if text.strip():
        blocks.append(Block("text", text.strip()))

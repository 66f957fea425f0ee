"""HTL's self-distillation prompt: a question with its gold reasoning, then a program following it.

HTL's programs were written by the base model, not by people: it read each question with its
gold reasoning and wrote a program; the pair was kept when the program's answer matched the
reasoning's (``RESEARCH.md`` section 1, "Data"). This format asks for that program. The default
layout is HTL's own insert sample (the reasoning in the prompt, the program as the target), so a
model trained on HTL reads a layout it knows. For an instruct model that has never seen HTL's
markers, ``code_open: ""`` with an instruction asking for a ```` ```python ```` block, inside
``ChatFormat``, is the fair request (``configs/data/self_distill_smollm2.yaml``).
"""

from __future__ import annotations

import re

from checks import InputError
from datamodules.formats.base import SolutionFormat, Span
from datamodules.formats.htl import DEFAULT_INSTRUCTION
from datamodules.sample import Block, Sample

_PYTHON_FENCE = re.compile(r"```(?:python|py)?[ \t]*\n(.*?)(?:\n```|$)", re.DOTALL)


class ReasoningToProgram(SolutionFormat):
    """Prompt: instruction, question, the sample's reasoning (its text blocks), the program's
    opener. The generation is the program: the first ```` ```python ```` block when it wrote one,
    else all of it. As a training format it renders the same layout with the program as target.

    Args:
        instruction: the request placed before the question.
        reasoning_open: what precedes the reasoning (HTL's ``<text>`` marker by default).
        code_open: what follows the reasoning and opens the program (HTL's ``<Code>`` marker and a
            newline by default; empty when the instruction asks for a fenced block).
        markers: the special tokens of this layout, added to the tokenizer (a checkpoint's
            vocabulary must be rebuilt as it was trained: keep HTL's markers for an HTL model).
    """

    def __init__(
        self,
        instruction: str = DEFAULT_INSTRUCTION,
        reasoning_open: str = "<text>",
        code_open: str = "<Code>\n",
        markers: tuple[str, ...] = ("<text>", "<Code>"),
    ) -> None:
        self.instruction, self.reasoning_open, self.code_open = (
            instruction,
            reasoning_open,
            code_open,
        )
        self.markers = tuple(markers)

    @property
    def special_tokens(self) -> tuple[str, ...]:
        return self.markers

    def prompt(self, sample: Sample) -> list[Span]:
        reasoning = "\n".join(block.content for block in sample.blocks_of("text"))
        if not reasoning:
            raise InputError(
                f"self-distillation needs the reasoning; sample {sample.id!r} has none"
            )
        spans = [
            Span(f"{self.instruction}\n", focus="key"),
            Span(f"Question: {sample.question}\n", focus="key"),
            Span(self.reasoning_open),
            Span(reasoning + "\n"),
        ]
        return [*spans, Span(self.code_open, focus="query")] if self.code_open else spans

    def render(self, sample: Sample) -> list[list[Span]]:
        program = "\n".join(block.content for block in sample.blocks_of("code"))
        if not program:
            raise InputError(f"sample {sample.id!r} has no program to train on")
        return [
            [
                *self.prompt(sample),
                Span(program, trainable=True, focus="query"),
                Span("", trainable=True, focus="query", eos=True),
            ]
        ]

    def parse(self, generated: str) -> tuple[Block, ...]:
        fence = _PYTHON_FENCE.search(generated)
        program = (fence.group(1) if fence else generated).strip("\n").rstrip()
        return (Block("code", program),) if program.strip() else ()

    def solution(self, sample: Sample, generated: str) -> tuple[Block, ...]:
        """The given reasoning, then the generated program: an HTL training sample."""
        return (*sample.blocks_of("text"), *self.parse(generated))

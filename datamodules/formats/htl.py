"""HTL: prompt → ``<text>`` → reasoning → ``\\n<Code>\\n`` → program → EOS (arXiv 2402.15729)."""

from __future__ import annotations

import hashlib

from datamodules.formats.base import SolutionFormat, Span
from datamodules.sample import Block, Sample

DEFAULT_INSTRUCTION = (
    "Answer the question in plain language first, then write a Python program based on that "
    "solution that prints the answer."
)


class HTLFormat(SolutionFormat):
    """Reasoning in words, then a program that follows it.

    Args:
        instruction: the request placed before the question.
        insert_ratio: share of training samples duplicated as "insert" samples, whose reasoning
            moves into the prompt so the target is the program alone (HTL used 0.3).
        text_marker: opens the reasoning.
        code_marker: opens the program.
    """

    def __init__(
        self,
        instruction: str = DEFAULT_INSTRUCTION,
        insert_ratio: float = 0.3,
        text_marker: str = "<text>",
        code_marker: str = "<Code>",
    ) -> None:
        if not 0.0 <= insert_ratio <= 1.0:
            raise ValueError(f"insert_ratio must be in [0, 1], got {insert_ratio}")
        self.instruction = instruction
        self.insert_ratio = insert_ratio
        self.text_marker = text_marker
        self.code_marker = code_marker

    @property
    def special_tokens(self) -> tuple[str, ...]:
        return (self.text_marker, self.code_marker)

    @property
    def stop_strings(self) -> tuple[str, ...]:
        return ()

    def prompt(self, sample: Sample) -> list[Span]:
        return [
            Span(f"{self.instruction}\n", focus="key"),
            Span(f"Question: {sample.question}\n", focus="key"),
            Span(self.text_marker),
        ]

    def render(self, sample: Sample) -> list[list[Span]]:
        reasoning = "\n".join(block.content for block in sample.blocks_of("text"))
        program = "\n".join(block.content for block in sample.blocks_of("code"))
        if not reasoning or not program:
            raise ValueError(f"HTL needs a text and a code block; sample {sample.id!r} lacks one")
        full = [
            *self.prompt(sample),
            Span(reasoning + "\n", trainable=True),
            Span(f"{self.code_marker}\n", trainable=True, focus="query"),
            Span(program, trainable=True, focus="query"),
            Span("", trainable=True, focus="query", eos=True),
        ]
        if not self._is_insert(sample):
            return [full]
        insert = [
            *self.prompt(sample),
            Span(reasoning + "\n"),
            Span(f"{self.code_marker}\n", focus="query"),
            Span(program, trainable=True, focus="query"),
            Span("", trainable=True, focus="query", eos=True),
        ]
        return [full, insert]

    def _is_insert(self, sample: Sample) -> bool:
        """A stable per-sample draw, so the same samples get insert copies in every run."""
        digest = hashlib.sha256(sample.id.encode()).digest()
        return int.from_bytes(digest[:8], "big") / 2**64 < self.insert_ratio

    def parse(self, generated: str) -> tuple[Block, ...]:
        text = generated.removeprefix(self.text_marker)
        reasoning, marker, program = text.partition(self.code_marker)
        blocks = [Block("text", reasoning.strip())] if reasoning.strip() else []
        if marker and program.strip():
            blocks.append(Block("code", program.strip("\n")))
        return tuple(blocks)

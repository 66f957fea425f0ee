"""HTL: prompt → ``<text>`` → reasoning → ``\\n<Code>\\n`` → program → EOS (arXiv 2402.15729)."""

from __future__ import annotations

from typing import Literal

from checks import InputError
from datamodules.formats.base import SolutionFormat, Span, stable_draw
from datamodules.sample import Block, Sample

DEFAULT_INSTRUCTION = (
    "Answer the question in plain language first, then write a Python program based on that "
    "solution that prints the answer."
)
# The evaluation cascade's fallback prompts (HTL fell back to PoT, then to CoT prompting).
PROGRAM_INSTRUCTION = "Write a Python program that solves the question and prints the answer."
WORDS_INSTRUCTION = "Answer the question in plain language and end with 'The answer is'."


class HTLFormat(SolutionFormat):
    """Reasoning in words, then a program that follows it.

    Args:
        instruction: the request placed before the question.
        insert_ratio: share of training samples duplicated as "insert" samples, whose reasoning
            moves into the prompt so the target is the program alone (HTL used 0.3).
        text_marker: opens the reasoning.
        code_marker: opens the program.
        program_instruction: the request of the fallback cascade's program-only prompt.
        words_instruction: the request of the fallback cascade's words-only prompt.
    """

    def __init__(
        self,
        instruction: str = DEFAULT_INSTRUCTION,
        insert_ratio: float = 0.3,
        text_marker: str = "<text>",
        code_marker: str = "<Code>",
        program_instruction: str = PROGRAM_INSTRUCTION,
        words_instruction: str = WORDS_INSTRUCTION,
    ) -> None:
        if not 0.0 <= insert_ratio <= 1.0:
            raise InputError(f"insert_ratio must be in [0, 1], got {insert_ratio}")
        self.instruction = instruction
        self.insert_ratio = insert_ratio
        self.text_marker = text_marker
        self.code_marker = code_marker
        self.program_instruction = program_instruction
        self.words_instruction = words_instruction

    def program_only(self) -> HTLPartFormat:
        """The program-only (PoT) variant, for solutions that gave no answer."""
        return HTLPartFormat(self, "code")

    def words_only(self) -> HTLPartFormat:
        """The words-only (CoT) variant, the cascade's last resort."""
        return HTLPartFormat(self, "text")

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
            raise InputError(f"HTL needs a text and a code block; sample {sample.id!r} lacks one")
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
        return stable_draw(sample.id) < self.insert_ratio

    def parse(self, generated: str) -> tuple[Block, ...]:
        text = generated.removeprefix(self.text_marker)
        reasoning, marker, program = text.partition(self.code_marker)
        blocks = [Block("text", reasoning.strip())] if reasoning.strip() else []
        if marker and program.strip():
            blocks.append(Block("code", program.strip("\n")))
        return tuple(blocks)


class HTLPartFormat(SolutionFormat):
    """One half of an HTL solution on its own: a program (PoT) or reasoning in words (CoT).

    The prompt ends with the half's marker (``<Code>`` or ``<text>``), the markers a model trained
    on HTL already knows, so the generation is that half alone; ``parse`` reads it back as one
    block. Made by :meth:`HTLFormat.program_only` and :meth:`HTLFormat.words_only`.
    """

    def __init__(self, htl: HTLFormat, part: Literal["code", "text"]) -> None:
        self.htl, self.part = htl, part

    @property
    def special_tokens(self) -> tuple[str, ...]:
        return self.htl.special_tokens

    @property
    def stop_strings(self) -> tuple[str, ...]:
        return ()

    @property
    def _marker(self) -> str:
        return f"{self.htl.code_marker}\n" if self.part == "code" else self.htl.text_marker

    def prompt(self, sample: Sample) -> list[Span]:
        code = self.part == "code"
        instruction = self.htl.program_instruction if code else self.htl.words_instruction
        return [
            Span(f"{instruction}\n", focus="key"),
            Span(f"Question: {sample.question}\n", focus="key"),
            Span(self._marker),
        ]

    def render(self, sample: Sample) -> list[list[Span]]:
        content = "\n".join(block.content for block in sample.blocks_of(self.part))
        if not content:
            raise InputError(
                f"{self.part}-only HTL needs a {self.part} block; {sample.id!r} lacks one"
            )
        body = content if self.part == "code" else content + "\n"
        return [
            [*self.prompt(sample), Span(body, trainable=True), Span("", trainable=True, eos=True)]
        ]

    def parse(self, generated: str) -> tuple[Block, ...]:
        if self.part == "code":
            program = generated.removeprefix(self.htl.code_marker).strip("\n")
            return (Block("code", program),) if program.strip() else ()
        words = generated.removeprefix(self.htl.text_marker).partition(self.htl.code_marker)[0]
        return (Block("text", words.strip()),) if words.strip() else ()

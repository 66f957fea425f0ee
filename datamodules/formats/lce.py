"""MathCoder's LCE format: interleaved text, code and execution blocks (arXiv 2310.03731)."""

from __future__ import annotations

import re

from checks import InputError
from datamodules.formats.base import SolutionFormat, Span
from datamodules.sample import Block, Sample

DEFAULT_SYSTEM = "Below is a math problem. Please solve it step by step."
ROLES = ("system", "user", "assistant")
BLOCK_TYPES = ("text", "code", "execution")
END_BLOCK, END_MESSAGE = "<|endofblock|>", "<|endofmessage|>"
_BLOCK_PATTERN = re.compile(
    r"<\|(text|code|execution)\|>(.*?)(?:<\|endofblock\|>|<\|endofmessage\|>|$)", re.DOTALL
)


class LCEFormat(SolutionFormat):
    """``<|role|>`` turns of ``<|type|>content<|endofblock|>`` blocks, each closed by
    ``<|endofmessage|>``. Loss is on the assistant's text and code blocks, never on execution.

    Args:
        system: the system turn's text.
        focus_code_blocks: this project's extension of Focus Attention to LCE (not in either
            paper): every code block's tokens lose the user turn's keys, keeping all earlier
            text, code and execution blocks.
    """

    def __init__(self, system: str = DEFAULT_SYSTEM, focus_code_blocks: bool = False) -> None:
        self.system = system
        self.focus_code_blocks = focus_code_blocks

    @property
    def special_tokens(self) -> tuple[str, ...]:
        return (
            *(f"<|{role}|>" for role in ROLES),
            *(f"<|{kind}|>" for kind in BLOCK_TYPES),
            END_BLOCK,
            END_MESSAGE,
        )

    @property
    def stop_strings(self) -> tuple[str, ...]:
        return (END_BLOCK, END_MESSAGE)

    @property
    def end_strings(self) -> tuple[str, ...]:
        return (END_MESSAGE,)

    @property
    def execution_delimiters(self) -> tuple[str, str]:
        return ("<|execution|>", END_BLOCK)

    def code_to_run(self, response: str) -> str | None:
        if not response.endswith(END_BLOCK):
            return None
        blocks = self.parse(response)
        return blocks[-1].content if blocks and blocks[-1].kind == "code" else None

    def forced_continuation(self, phrase: str) -> str:
        return f"<|text|>{phrase}"

    def prompt(self, sample: Sample) -> list[Span]:
        user_focus = "key" if self.focus_code_blocks else None
        return [
            Span(f"<|system|><|text|>{self.system}{END_BLOCK}{END_MESSAGE}"),
            Span(f"<|user|><|text|>{sample.question}{END_BLOCK}{END_MESSAGE}", focus=user_focus),
            Span("<|assistant|>"),
        ]

    def render(self, sample: Sample) -> list[list[Span]]:
        if not sample.blocks:
            raise InputError(
                f"LCE needs at least one solution block; sample {sample.id!r} has none"
            )
        spans = self.prompt(sample)
        for block in sample.blocks:
            text = f"<|{block.kind}|>{block.content}{END_BLOCK}"
            if block.kind == "execution":
                spans.append(Span(text))
            else:
                focus = "query" if self.focus_code_blocks and block.kind == "code" else None
                spans.append(Span(text, trainable=True, focus=focus))
        spans += [Span(END_MESSAGE, trainable=True), Span("", trainable=True, eos=True)]
        return [spans]

    def parse(self, generated: str) -> tuple[Block, ...]:
        return tuple(
            Block(kind, content)
            for kind, content in _BLOCK_PATTERN.findall(generated)  # type: ignore[arg-type]
        )

"""A new problem instead of a solution: MathCoder's problem interpolation (arXiv 2310.03731).

The sample's question holds the problems to start from (``datamodules.sources.interpolation`` pairs
an easier and a harder one); the model is asked for a new problem between them. The generation is
the new problem alone: a label the model repeats ("New problem:") is dropped, and anything from a
line that starts a solution or answer onwards is cut.
"""

from __future__ import annotations

import re

from checks import InputError
from datamodules.formats.base import SolutionFormat, Span
from datamodules.sample import Block, Sample

DEFAULT_INSTRUCTION = (
    "Below are two math problems; the first is easier than the second. Write one new math "
    "problem whose difficulty lies between them: it needs more steps or ideas than the first "
    "and fewer than the second. Give every number the problem needs. Write only the new "
    "problem, without its solution."
)
_LABEL = re.compile(r"^\s*\**(?:new )?problem\s*(?:\d+)?\s*:?\**\s*", re.IGNORECASE)
_SOLUTION_START = re.compile(
    r"^\s*\**(?:solution|answer|explanation|step 1|problem \d)\b", re.IGNORECASE | re.MULTILINE
)


class NewProblemFormat(SolutionFormat):
    """Prompt: the instruction, the sample's question (the starting problems), then ``opener``.

    Args:
        instruction: the request placed before the problems.
        opener: what ends the prompt, after which the model writes the new problem.
        markers: special tokens to add (a checkpoint's vocabulary must be rebuilt as trained:
            ``["<text>", "<Code>"]`` for an HTL model).
    """

    def __init__(
        self,
        instruction: str = DEFAULT_INSTRUCTION,
        opener: str = "New problem:",
        markers: tuple[str, ...] = (),
    ) -> None:
        self.instruction, self.opener, self.markers = instruction, opener, tuple(markers)

    @property
    def special_tokens(self) -> tuple[str, ...]:
        return self.markers

    def prompt(self, sample: Sample) -> list[Span]:
        return [Span(f"{self.instruction}\n\n{sample.question}\n\n"), Span(self.opener)]

    def render(self, sample: Sample) -> list[list[Span]]:
        problem = "\n".join(block.content for block in sample.blocks_of("text"))
        if not problem:
            raise InputError(f"sample {sample.id!r} has no new problem to train on")
        return [
            [
                *self.prompt(sample),
                Span(f" {problem}", trainable=True),
                Span("", trainable=True, eos=True),
            ]
        ]

    def parse(self, generated: str) -> tuple[Block, ...]:
        text = _LABEL.sub("", generated, count=1)
        end = _SOLUTION_START.search(text)
        problem = (text[: end.start()] if end else text).strip()
        return (Block("text", problem),) if problem else ()

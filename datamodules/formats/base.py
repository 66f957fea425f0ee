"""What every format provides, and the span that carries loss and focus tags to tokenization."""

from __future__ import annotations

import hashlib
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Literal

from datamodules.sample import Block, Sample

FocusRole = Literal["query", "key"]


@dataclass(frozen=True)
class Span:
    """A piece of rendered text and how its tokens are treated.

    ``trainable`` tokens get loss; ``focus="key"`` marks the question tokens that Focus Attention
    hides from ``focus="query"`` tokens (the program). ``eos`` stands for the tokenizer's EOS
    token, which the format does not know by name.
    """

    text: str
    trainable: bool = False
    focus: FocusRole | None = None
    eos: bool = False


class SolutionFormat(ABC):
    """Renders samples for training and generation prompts, and parses generated text.

    The same object does both, so training and inference can never disagree about markers.
    """

    @property
    @abstractmethod
    def special_tokens(self) -> tuple[str, ...]:
        """Markers to add to the tokenizer as special tokens."""

    @abstractmethod
    def render(self, sample: Sample) -> list[list[Span]]:
        """Training sequences for one sample (HTL derives a second one, its insert copy)."""

    @abstractmethod
    def prompt(self, sample: Sample) -> list[Span]:
        """The prefix a model continues at inference."""

    @abstractmethod
    def parse(self, generated: str) -> tuple[Block, ...]:
        """Blocks of a generated continuation of ``prompt`` (decoded with special tokens kept)."""

    def solution(self, sample: Sample, generated: str) -> tuple[Block, ...]:
        """The solution a generation for ``sample`` amounts to, as training blocks: what it
        parses to. A format whose prompt already holds part of the solution (the given reasoning
        of self-distillation) puts that part first."""
        return self.parse(generated)

    # What the generation engine asks of a format. The defaults describe a one-round format
    # (HTL): generation ends at EOS and the program runs once afterwards.

    @property
    def stop_strings(self) -> tuple[str, ...]:
        """Markers after which a generation round ends (besides EOS)."""
        return ()

    @property
    def end_strings(self) -> tuple[str, ...]:
        """The ``stop_strings`` that end the whole answer, like EOS; each must be one special
        token, so the engine can recognise and replace it (budget forcing) exactly."""
        return ()

    @property
    def execution_delimiters(self) -> tuple[str, str] | None:
        """The text before and after a code block's output when the engine feeds it back, or
        None when code does not run during generation."""
        return None

    @property
    def runs_code(self) -> bool:
        """Whether the engine runs generated code at all. False for formats whose model plays
        the interpreter itself (CoGEX): nothing is executed, and no sandbox is needed."""
        return True

    def code_to_run(self, response: str) -> str | None:
        """The code of the block that ``response`` (everything generated so far, execution
        blocks included) has just closed, if it should run now."""
        return None

    def forced_continuation(self, phrase: str) -> str:
        """What replaces the model's end of answer under budget forcing, so the phrase lands
        where this format allows free text."""
        return phrase


def stable_draw(key: str) -> float:
    """A number in [0, 1) that depends on ``key`` alone, so a sample's share-based choices (HTL's
    insert copies, CoGEX's direct-answer copies) are the same in every run and process."""
    digest = hashlib.sha256(key.encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64

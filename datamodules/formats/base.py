"""What every format provides, and the span that carries loss and focus tags to tokenization."""

from __future__ import annotations

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

    @property
    @abstractmethod
    def stop_strings(self) -> tuple[str, ...]:
        """Markers after which a generation round ends (besides EOS)."""

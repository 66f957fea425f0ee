"""The records a problem travels in: ``Sample`` (a problem, and its solution as blocks), which
every solution source produces and every format renders, and ``Problems``, a batch's samples
carried to the metrics. CoGEX task instances have their own record
(``datamodules.sources.cogex.TaskExample``), which becomes a ``Sample`` to be rendered."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Literal

from checks import InputError

BlockKind = Literal["text", "code", "execution"]
BLOCK_KINDS: tuple[BlockKind, ...] = ("text", "code", "execution")


@dataclass(frozen=True)
class Block:
    """One step of a solution: reasoning in words, a program, or what running a program printed."""

    kind: BlockKind
    content: str

    def __post_init__(self) -> None:
        if self.kind not in BLOCK_KINDS:
            raise InputError(f"block kind must be one of {BLOCK_KINDS}, got {self.kind!r}")


@dataclass(frozen=True)
class Sample:
    """A problem and (for training data) its interleaved solution.

    ``answer`` is the gold final answer as a string (numbers, LaTeX, tuples ...); evaluation-only
    records have no ``blocks``.
    """

    id: str
    dataset: str
    question: str
    blocks: tuple[Block, ...] = field(default_factory=tuple)
    answer: str = ""

    def blocks_of(self, kind: BlockKind) -> list[Block]:
        return [block for block in self.blocks if block.kind == kind]


class Problems:
    """The samples of a batch, in batch order: what evaluation and RL grade against, carried
    from collate to metric instead of parallel lists of ids, questions and answers.

    Deliberately neither a dataclass nor a ``Sequence``: Lightning's device transfer walks into
    those (and refuses frozen dataclasses such as ``Sample``), and passes this through as is.
    """

    def __init__(self, samples: Iterable[Sample]) -> None:
        self._samples = tuple(samples)

    def __len__(self) -> int:
        return len(self._samples)

    def __getitem__(self, index: int) -> Sample:
        return self._samples[index]

    def __iter__(self) -> Iterator[Sample]:
        return iter(self._samples)

    def __repr__(self) -> str:
        return f"Problems({[sample.id for sample in self._samples]})"

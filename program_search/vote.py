"""Test time: every kept program is emulated on the new input, and with several programs the
most frequent answer wins; a tie is broken by a draw seeded per input, so reruns agree."""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from checks import InputError
from datamodules.formats.cogex import Emulation
from datamodules.sources.cogex import TaskExample
from grading.emulation import Reading
from grading.votes import most_given, tally
from program_search.emulator import Emulator
from program_search.programs import Program


@dataclass(frozen=True)
class Vote:
    """The chosen answer, how many programs gave it, and how many were asked."""

    answer: Any
    votes: int
    programs: int


def majority_vote(readings: Sequence[Reading], seed: int, key: str) -> Vote | None:
    """The most frequent emulated answer (unreadable emulations do not vote; None when none
    could be read). Answers are compared by their Python literal, so lists count as equal
    values; among tied answers a ``random.Random`` seeded with ``seed`` and ``key`` picks."""
    answers = [reading.answer for reading in readings if isinstance(reading, Emulation)]
    counts = tally(answers, lambda answer, other: repr(answer) == repr(other))
    tied, top = most_given(counts)
    if not tied:
        return None
    answer = tied[0] if len(tied) == 1 else random.Random(f"{seed}:{key}").choice(tied)
    return Vote(answer, top, len(readings))


def apply_programs(
    programs: Sequence[Program], examples: Sequence[TaskExample], emulator: Emulator, seed: int
) -> list[Vote | None]:
    """Each example answered by the programs' majority vote (one program: its answer)."""
    if not programs:
        raise InputError("no programs to apply")
    readings = emulator([(program, example) for example in examples for program in programs])
    size = len(programs)
    return [
        majority_vote(readings[i * size : (i + 1) * size], seed, example.id)
        for i, example in enumerate(examples)
    ]

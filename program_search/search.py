"""CoTACS's program search (arXiv 2405.16337): one program per task, found by emulation.

1. The task's examples are split (seeded) into a search set of ``search_size`` and a dev set.
2. For every search example one program is sampled (temperature 0.7, ``programs.py``) and
   scored by emulating it on the whole search set (greedy). Examples whose best program scores
   below ``threshold`` get a new sample, up to ``max_retries`` times (each round of samples is
   drawn, then scored, at once).
3. The programs that reached the threshold (all best ones if none did), each distinct program
   once, are ranked by their dev score, then their search score; the top ``keep`` are kept.
   Remaining ties fall to a seeded shuffle, so the whole search is a function of its seed.
"""

from __future__ import annotations

import random
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace
from typing import Any

from checks import InputError, require_at_least
from datamodules.sources.cogex import TaskExample
from grading.answers import AnswerMatcher
from grading.emulation import grade
from program_search.emulator import Emulator
from program_search.programs import Program, Sampler


@dataclass(frozen=True)
class SearchOptions:
    """CoTACS's settings.

    Args:
        search_size: examples in the search set (the paper: 300); a task with no more examples
            than that searches on half of them and ranks on the other half.
        threshold: the search score (accuracy) a program must reach to stop resampling (α).
        max_retries: new samples for an example whose programs stay below the threshold.
        keep: programs kept (k: 1, or 3 for a majority vote).
        seed: the split, the samples and the tie-breaks.
    """

    search_size: int = 300
    threshold: float = 0.5
    max_retries: int = 3
    keep: int = 1
    seed: int = 0

    def __post_init__(self) -> None:
        require_at_least(self, 1, ("search_size", "keep"), "search")
        require_at_least(self, 0, ("max_retries",), "search")
        if not 0.0 <= self.threshold <= 1.0:
            raise InputError(f"search.threshold must be in [0, 1], got {self.threshold}")


@dataclass(frozen=True)
class Candidate:
    """A program with its scores, the search example it was sampled for and in which attempt."""

    program: Program
    search_score: float
    dev_score: float | None = None
    sampled_for: str = ""
    attempt: int = 1

    def record(self) -> dict[str, Any]:
        return {"program": self.program.text, "function": self.program.function} | {
            key: value for key, value in asdict(self).items() if key != "program"
        }


@dataclass(frozen=True)
class SearchResult:
    """The kept programs (best first), what the search looked at, and what it cost."""

    programs: tuple[Candidate, ...]
    search_size: int
    dev_size: int
    candidates: int
    emulations: int
    wall_s: float

    def record(self, task: str, instruction: str, options: SearchOptions) -> dict[str, Any]:
        """What the task's program file holds: enough to answer new inputs with no search."""
        return {
            "task": task,
            "instruction": instruction,
            "programs": [candidate.record() for candidate in self.programs],
            "search_size": self.search_size,
            "dev_size": self.dev_size,
            "candidates": self.candidates,
            "emulations": self.emulations,
            "search_wall_s": round(self.wall_s, 3),
            "options": asdict(options),
        }


def split_examples(
    examples: Sequence[TaskExample], search_size: int, seed: int
) -> tuple[list[TaskExample], list[TaskExample]]:
    """The search set and the dev set, from a seeded shuffle of the examples."""
    shuffled = list(examples)
    random.Random(seed).shuffle(shuffled)
    size = search_size if len(shuffled) > search_size else len(shuffled) // 2
    return shuffled[:size], shuffled[size:]


def score_programs(
    programs: Sequence[Program],
    examples: Sequence[TaskExample],
    emulator: Emulator,
    matcher: AnswerMatcher,
) -> dict[Program, float]:
    """Each distinct program's accuracy on the examples, emulated all at once."""
    distinct = list(dict.fromkeys(programs))
    if not examples or not distinct:
        return {}
    readings = emulator([(program, example) for program in distinct for example in examples])
    size = len(examples)
    return {
        program: sum(
            grade(reading, example.answer, matcher)
            for reading, example in zip(readings[i * size : (i + 1) * size], examples)
        )
        / size
        for i, program in enumerate(distinct)
    }


def search(
    examples: Sequence[TaskExample],
    sample: Sampler,
    emulator: Emulator,
    matcher: AnswerMatcher,
    options: SearchOptions,
) -> SearchResult:
    """Runs the search on one task's examples (see the module docstring)."""
    if len(examples) < 2:
        raise InputError(f"CoTACS needs at least 2 examples of a task, got {len(examples)}")
    started, emulations = time.perf_counter(), emulator.emulations
    search_set, dev_set = split_examples(examples, options.search_size, options.seed)
    best: dict[str, Candidate] = {}
    pending = list(search_set)
    for attempt in range(1, options.max_retries + 2):
        programs = sample(pending, options.seed + attempt)
        scores = score_programs([p for p in programs if p], search_set, emulator, matcher)
        for example, program in zip(pending, programs):
            held = best.get(example.id)
            if program is not None and (held is None or scores[program] > held.search_score):
                best[example.id] = Candidate(program, scores[program], None, example.id, attempt)
        pending = [
            example
            for example in pending
            if example.id not in best or best[example.id].search_score < options.threshold
        ]
        if not pending:
            break
    ranked = _rank(list(best.values()), dev_set, emulator, matcher, options)
    return SearchResult(
        programs=tuple(ranked[: options.keep]),
        search_size=len(search_set),
        dev_size=len(dev_set),
        candidates=len(ranked),
        emulations=emulator.emulations - emulations,
        wall_s=time.perf_counter() - started,
    )


def _rank(
    candidates: list[Candidate],
    dev_set: Sequence[TaskExample],
    emulator: Emulator,
    matcher: AnswerMatcher,
    options: SearchOptions,
) -> list[Candidate]:
    """Distinct kept programs, best dev score first (then search score, then a seeded draw)."""
    kept = [c for c in candidates if c.search_score >= options.threshold] or candidates
    distinct: dict[Program, Candidate] = {}
    for candidate in kept:
        held = distinct.get(candidate.program)
        if held is None or candidate.search_score > held.search_score:
            distinct[candidate.program] = candidate
    order = list(distinct.values())
    random.Random(options.seed).shuffle(order)
    dev = score_programs([c.program for c in order], dev_set, emulator, matcher)
    ranked = [replace(c, dev_score=dev.get(c.program)) for c in order]
    ranked.sort(key=lambda c: (-(c.dev_score or 0.0), -c.search_score))
    return ranked

"""Candidate programs: sampled from the model for a task's examples, saved and loaded as JSON."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

from checks import InputError, MissingInput
from datamodules.formats import CoGEXFormat
from datamodules.sources.cogex import TaskExample
from generation.engine import GenerationOptions
from program_search.generate import Generate

TEMPERATURE = 0.7  # CoTACS samples programs at 0.7 and emulates them greedily


@dataclass(frozen=True)
class Program:
    """A pseudo-program and the function a call applies to a task input."""

    text: str
    function: str


# (examples, seed) -> one sampled program per example (None where none could be read).
Sampler = Callable[[Sequence[TaskExample], int], list[Program | None]]


def sample_programs(
    generate: Generate,
    format: CoGEXFormat,
    examples: Sequence[TaskExample],
    seed: int,
    temperature: float = TEMPERATURE,
    max_new_tokens: int = 256,
) -> list[Program | None]:
    """One program sampled for each example (None where the generation holds no program):
    the model writes a whole CoGEX answer for the example, and its program is kept."""
    options = GenerationOptions(max_new_tokens, do_sample=True, temperature=temperature, seed=seed)
    texts = generate([format.prompt(example.sample()) for example in examples], options)
    found = [format.read_program(text) for text in texts]
    return [Program(*program) if program else None for program in found]


def program_sampler(
    generate: Generate,
    format: CoGEXFormat,
    temperature: float = TEMPERATURE,
    max_new_tokens: int = 256,
) -> Sampler:
    """``sample_programs`` with the model and the decoding settings bound, as the search
    calls it; the settings are checked now rather than at the first sample."""
    GenerationOptions(max_new_tokens, do_sample=True, temperature=temperature)
    return partial(
        sample_programs,
        generate,
        format,
        temperature=temperature,
        max_new_tokens=max_new_tokens,
    )


def program_file(directory: str | Path, task: str) -> Path:
    """Where a task's chosen programs are saved: one small JSON per task."""
    return Path(directory) / f"{re.sub(r'[^A-Za-z0-9_.-]+', '_', task)}.json"


def save_programs(path: Path, record: dict[str, Any]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(record, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return path


def load_programs(path: str | Path) -> tuple[str, list[Program]]:
    """The task and its chosen programs, best first, from a file ``save_programs`` wrote."""
    path = Path(path)
    if not path.is_file():
        raise MissingInput(f"no CoTACS program file at {path}")
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
        programs = [Program(p["program"], p["function"]) for p in record["programs"]]
        return str(record["task"]), programs
    except (ValueError, KeyError, TypeError) as error:
        raise InputError(f"{path}: not a CoTACS program file ({error})") from error

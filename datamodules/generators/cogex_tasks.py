"""The embedded CoGEX default: tasks composed of 1-3 named primitives, with CoGEX solutions.

A task is a chain of primitives (``split_words`` → ``sort_by_length`` → ``first_letters``); its
instruction strings the primitives' phrases together, its program calls them in order, one
``# Step`` comment each, and returns every intermediate value plus ``'answer'``, which is what
the emulated output shows. Which compositions are held out is a pure function of ``split_seed``:
held-out tasks are multi-step chains never trained on, built only from primitives that training
tasks use. Inputs are short texts drawn from a vocabulary that mixes the lexicon's words with
filler, so the soft steps have something to judge. Everything is a pure function of the seeds.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from typing import Any, Literal

from checks import InputError
from datamodules.formats.cogex import answer_text, call_expression, cogex_question
from datamodules.generators.cogex_primitives import (
    CATEGORIES,
    FILLER,
    NEGATIVE,
    POSITIVE,
    PRIMITIVES,
    Primitive,
)
from datamodules.sample import Block, Sample

Split = Literal["train", "held_out"]
MAX_STEPS = 3
VOCABULARY = tuple(
    sorted({*POSITIVE, *NEGATIVE, *FILLER, *(w for ws in CATEGORIES.values() for w in ws)})
)
INPUT_WORDS = (3, 6)  # words per input text, inclusive
# A task whose most common answer covers more of these probe inputs is left out: a soft step
# after one that mangles the words (sentiment of reversed letters) always says "neutral".
PROBE_SEED, PROBE_INPUTS, MAX_MAJORITY = 12345, 64, 0.75


@dataclass(frozen=True)
class Task:
    """A chain of primitives applied to an input text."""

    steps: tuple[Primitive, ...]

    @property
    def name(self) -> str:
        """The task's dataset name: its primitives in order."""
        return "_then_".join(step.name for step in self.steps)

    @property
    def function(self) -> str:
        """The program's name (never a primitive's: a one-step program would call itself)."""
        return f"solve_{self.name}"

    @property
    def instruction(self) -> str:
        phrases = [step.phrase for step in self.steps]
        text = (
            phrases[0] if len(phrases) == 1 else ", ".join(phrases[:-1]) + ", then " + phrases[-1]
        )
        return text[0].upper() + text[1:] + "."

    def variables(self) -> list[str]:
        """Each step's result name, made unique within the program."""
        names: list[str] = []
        for step in self.steps:
            name, copy = step.variable, 2
            while name in names:
                name, copy = f"{step.variable}_{copy}", copy + 1
            names.append(name)
        return names

    def program(self) -> str:
        lines = [f"def {self.function}(text):", f'    """{self.instruction}"""']
        argument = "text"
        for number, (step, variable) in enumerate(zip(self.steps, self.variables()), start=1):
            lines.append(f"    # Step {number}: {step.phrase}")
            lines.append(f"    {variable} = {step.name}({argument})")
            argument = variable
        returned = ", ".join(f"{name!r}: {name}" for name in self.variables())
        lines.append(f"    return {{{returned}, 'answer': {argument}}}")
        return "\n".join(lines)

    def run(self, text: str) -> dict[str, Any]:
        """The output dict the program returns for ``text``."""
        output: dict[str, Any] = {}
        value: Any = text
        for step, variable in zip(self.steps, self.variables()):
            value = step.apply(value)
            output[variable] = value
        return output | {"answer": value}

    def sample(self, text: str, id: str) -> Sample:
        """The task on ``text`` as a CoGEX training sample; the dataset is the task's name."""
        output = self.run(text)
        return Sample(
            id=id,
            dataset=self.name,
            question=cogex_question(self.instruction, text),
            blocks=(
                Block("code", self.program()),
                Block("code", call_expression(self.function, text)),
                Block("execution", repr(output)),
            ),
            answer=answer_text(output["answer"]),
        )


@cache
def all_tasks(max_steps: int = MAX_STEPS) -> tuple[Task, ...]:
    """Every chain of 1..``max_steps`` primitives whose kinds fit, starting from text, never
    repeating a primitive twice in a row and not (nearly) constant, in a fixed order."""
    chains = [(p,) for p in PRIMITIVES if p.takes == "text"]
    tasks = list(chains)
    for _ in range(max_steps - 1):
        chains = [
            (*chain, p)
            for chain in chains
            for p in PRIMITIVES
            if p.takes == chain[-1].gives and p is not chain[-1]
        ]
        tasks += chains
    probes = distinct_inputs(PROBE_SEED, PROBE_INPUTS)
    return tuple(task for task in map(Task, tasks) if _informative(task, probes))


def _informative(task: Task, probes: list[str]) -> bool:
    answers = Counter(repr(task.run(text)["answer"]) for text in probes)
    return answers.most_common(1)[0][1] <= MAX_MAJORITY * len(probes)


@cache
def split_tasks(held_out: int = 10, split_seed: int = 0) -> dict[Split, tuple[Task, ...]]:
    """Disjoint training and held-out compositions. Every single-primitive task trains, so each
    primitive a held-out chain uses is known; ``held_out`` multi-step chains are drawn."""
    tasks = all_tasks()
    multi = [task for task in tasks if len(task.steps) > 1]
    if not 0 <= held_out <= len(multi):
        raise InputError(f"held_out must be in [0, {len(multi)}], got {held_out}")
    chosen = set(random.Random(split_seed).sample(range(len(multi)), held_out))
    held = tuple(task for index, task in enumerate(multi) if index in chosen)
    return {"train": tuple(t for t in tasks if t not in held), "held_out": held}


def random_text(rng: random.Random) -> str:
    return " ".join(rng.choice(VOCABULARY) for _ in range(rng.randint(*INPUT_WORDS)))


def distinct_inputs(seed: int, count: int) -> list[str]:
    """``count`` different input texts, a pure function of ``seed``."""
    rng, seen = random.Random(seed), {}
    while len(seen) < count:
        seen.setdefault(random_text(rng))
    return list(seen)


def generate_samples(
    tasks: tuple[Task, ...], seed: int, count: int, prefix: str
) -> Iterator[Sample]:
    """``count`` samples, each of a task drawn uniformly from ``tasks`` on a random input."""
    if not tasks:
        raise InputError("no tasks to draw samples from")
    rng = random.Random(seed)
    for index in range(count):
        task = rng.choice(tasks)
        yield task.sample(random_text(rng), f"{prefix}-{index}")

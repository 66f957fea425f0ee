"""CoTACS against direct answering with the same model and test inputs, per task: the
comparison behind ``benchmarks/experiments/cotacs.py`` (``cotacs.json``'s schema), kept here so
that the tests check the numbers the experiment reports without importing a benchmark.

- ``zero_shot``: the instruction and input, then ``Answer:``; the answer is the first line;
- ``two_shot``: the same after two solved examples of the task (from its search pool);
- ``cogex_per_instance``: the model writes its own program for each input and emulates it;
- ``cotacs_k1`` / ``cotacs_k3``: one search per task (on the pool: search set, then dev set),
  then the best program, or the best three with a majority vote, emulated on each test input.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from functools import partial
from statistics import mean

from datamodules.formats import CoGEXFormat
from datamodules.formats.cogex import read_direct
from datamodules.sources.cogex import TaskExample
from generation.engine import GenerationOptions
from grading.answers import AnswerMatcher
from grading.emulation import answer_value, answers_match, grade
from program_search.emulator import Emulator
from program_search.generate import Generate
from program_search.programs import Program, program_sampler
from program_search.search import SearchOptions, search
from program_search.vote import apply_programs

CONDITIONS = ("zero_shot", "two_shot", "cogex_per_instance", "cotacs_k1", "cotacs_k3")


@dataclass(frozen=True)
class Budget:
    """Test inputs per task and the longest generation of each kind, in tokens."""

    test_size: int = 100
    program_tokens: int = 256
    emulation_tokens: int = 128
    answer_tokens: int = 32


def direct_accuracy(
    generate: Generate,
    format: CoGEXFormat,
    examples: Sequence[TaskExample],
    demonstrations: Sequence[TaskExample],
    matcher: AnswerMatcher,
    max_new_tokens: int,
) -> float:
    shots = [demo.sample() for demo in demonstrations]
    prompts = [format.direct_prompt(example.sample(), shots) for example in examples]
    texts = generate(prompts, GenerationOptions(max_new_tokens))
    return mean(
        answers_match(answer_value(read_direct(text)), example.answer, matcher)
        for text, example in zip(texts, examples)
    )


def per_instance_accuracy(
    generate: Generate,
    format: CoGEXFormat,
    examples: Sequence[TaskExample],
    matcher: AnswerMatcher,
    max_new_tokens: int,
) -> float:
    texts = generate(
        [format.prompt(e.sample()) for e in examples], GenerationOptions(max_new_tokens)
    )
    return mean(
        grade(format.read(text), example.answer, matcher) for text, example in zip(texts, examples)
    )


def cotacs_accuracy(
    programs: Sequence[Program],
    test: Sequence[TaskExample],
    emulator: Emulator,
    matcher: AnswerMatcher,
    seed: int,
) -> float:
    """The searched programs applied by emulation (a majority vote when there are several)."""
    if not programs:
        return 0.0
    votes = apply_programs(programs, test, emulator, seed)
    return mean(
        vote is not None and answers_match(vote.answer, example.answer, matcher)
        for vote, example in zip(votes, test)
    )


def compare(
    tasks: dict[str, list[TaskExample]],
    generate: Generate,
    format: CoGEXFormat,
    options: SearchOptions,
    budget: Budget,
    matcher: AnswerMatcher,
) -> tuple[dict[str, float], dict[str, dict[str, float]]]:
    """The summary in ``cotacs.json``'s schema, and each task's accuracies. The last
    ``test_size`` examples of each task are its test inputs, the rest its search pool."""
    emulator = Emulator(generate, format, budget.emulation_tokens)
    sample = program_sampler(generate, format, max_new_tokens=budget.program_tokens)
    per_task, emulations, wall_s = {}, 0, 0.0
    for task, examples in tasks.items():
        pool, test = examples[: -budget.test_size], examples[-budget.test_size :]
        result = search(pool, sample, emulator, matcher, replace(options, keep=3))
        emulations, wall_s = emulations + result.emulations, wall_s + result.wall_s
        programs = [candidate.program for candidate in result.programs]
        cotacs = partial(cotacs_accuracy, test=test, emulator=emulator, matcher=matcher)
        direct = partial(direct_accuracy, generate, format, test)
        per_task[task] = {
            "zero_shot": direct((), matcher, budget.answer_tokens),
            "two_shot": direct(pool[:2], matcher, budget.answer_tokens),
            "cogex_per_instance": per_instance_accuracy(
                generate, format, test, matcher, budget.program_tokens
            ),
            "cotacs_k1": cotacs(programs[:1], seed=options.seed),
            "cotacs_k3": cotacs(programs[:3], seed=options.seed),
        }
    summary = {"tasks": len(per_task)}
    summary |= {name: mean(scores[name] for scores in per_task.values()) for name in CONDITIONS}
    summary |= {"emulations": emulations, "search_wall_s": round(wall_s, 1)}
    return summary, per_task

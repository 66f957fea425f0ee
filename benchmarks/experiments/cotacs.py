"""CoTACS against direct answering on the embedded held-out CoGEX tasks (compositions the model
never trained on), with the same model and the same test inputs for every condition:

- ``zero_shot``: the instruction and input, then ``Answer:``; the answer is the first line;
- ``two_shot``: the same after two solved examples of the task (from its search pool);
- ``cogex_per_instance``: the model writes its own program for each input and emulates it;
- ``cotacs_k1`` / ``cotacs_k3``: one search per task (on the pool: search set, then dev set),
  then the best program, or the best three with a majority vote, emulated on each test input.

Accuracies are per task, then averaged over tasks; ``emulations`` and ``search_wall_s`` are the
searches' cost, all tasks together. Run from the repository root:

    python benchmarks/cotacs.py --ckpt_path runs/cogex_quickstart/version_0/checkpoints/last.ckpt

Results go to ``benchmarks/results/cotacs.json`` (``--out``); a per-task table is printed.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from dataclasses import dataclass, replace
from functools import partial
from pathlib import Path
from statistics import mean

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from cotacs import add_model_arguments, model_from_checkpoint  # noqa: E402
from datamodules.cogex_sources import TaskExample, embedded_task_examples  # noqa: E402
from datamodules.formats import CoGEXFormat  # noqa: E402
from datamodules.formats.cogex import read_direct  # noqa: E402
from generation.engine import GenerationOptions  # noqa: E402
from metrics.answers import AnswerMatcher  # noqa: E402
from metrics.emulation import answer_value, answers_match, grade  # noqa: E402
from program_search.emulator import Emulator  # noqa: E402
from program_search.generate import Generate  # noqa: E402
from program_search.programs import Program, program_sampler  # noqa: E402
from program_search.search import SearchOptions, search  # noqa: E402
from program_search.vote import apply_programs  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results" / "cotacs.json"
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


def table(per_task: dict[str, dict[str, float]]) -> str:
    lines = ["| task | " + " | ".join(CONDITIONS) + " |", "|---|" + "---:|" * len(CONDITIONS)]
    for task, scores in per_task.items():
        cells = " | ".join(f"{100 * scores[name]:.1f}" for name in CONDITIONS)
        lines.append(f"| {task} | {cells} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description="CoTACS vs direct answering, held-out tasks")
    add_model_arguments(parser)
    defaults, budget = SearchOptions(), Budget()
    parser.add_argument("--search_size", type=int, default=defaults.search_size)
    parser.add_argument("--dev_size", type=int, default=100, help="dev examples per task")
    parser.add_argument("--test_size", type=int, default=budget.test_size)
    parser.add_argument("--threshold", type=float, default=defaults.threshold, help="α")
    parser.add_argument("--max_retries", type=int, default=defaults.max_retries)
    parser.add_argument("--tasks", type=int, default=None, help="only the first N tasks")
    parser.add_argument("--seed", type=int, default=defaults.seed)
    parser.add_argument("--out", default=str(RESULTS))
    args = parser.parse_args()
    per_task = args.search_size + args.dev_size + args.test_size
    tasks = embedded_task_examples(per_task, args.seed)
    tasks = dict(list(tasks.items())[: args.tasks])
    generate, format = model_from_checkpoint(args)
    options = SearchOptions(
        search_size=args.search_size,
        threshold=args.threshold,
        max_retries=args.max_retries,
        seed=args.seed,
    )
    sizes = replace(budget, test_size=args.test_size, emulation_tokens=args.emulation_tokens)
    summary, scores = compare(tasks, generate, format, options, sizes, AnswerMatcher())
    print(table(scores))
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(summary, indent=2), f"\n-> {out}")


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from cli.errors import run_entry_point

    sys.exit(run_entry_point(lambda _: main()))

"""CoTACS: adapt a trained CoGEX model to a task with no gradient updates (arXiv 2405.16337).

    # one program file per task (<out>/<task>.json); the embedded held-out tasks by default
    python cotacs.py search --ckpt_path runs/cogex_quickstart/version_0/checkpoints/last.ckpt \\
        --out runs/cotacs
    python cotacs.py search --ckpt_path <ckpt> --examples my_task.jsonl --keep 3 --out runs/cotacs
    # answer new inputs with a saved program file: no search
    python cotacs.py apply --ckpt_path <ckpt> --programs runs/cotacs/<task>.json \\
        --examples new_inputs.jsonl --out predictions.jsonl

The model is rebuilt from the run's ``config.yaml`` (beside ``checkpoints/``, or ``--config``)
with the checkpoint's weights, as ``export.py`` does. Task files are ``.jsonl`` or ``.json`` lists
of ``{"instruction", "input", "answer"}`` records (``datamodules.sources.cogex``). A mistake in
the arguments or a file prints one line; ``--debug`` shows the traceback.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import fields
from pathlib import Path

import torch

from checks import InputError
from cli.errors import run_entry_point
from datamodules.formats import CoGEXFormat
from datamodules.sources.cogex import TaskExample, embedded_task_examples, read_task_examples
from export import rebuild
from grading.answers import AnswerMatcher
from grading.emulation import answers_match
from program_search.emulator import Emulator
from program_search.generate import TextGenerator
from program_search.programs import (
    TEMPERATURE,
    load_programs,
    program_file,
    program_sampler,
    save_programs,
)
from program_search.search import SearchOptions, search
from program_search.vote import apply_programs

DEVICE = "cuda" if torch.cuda.is_available() else "cpu"


def model_from_checkpoint(args: argparse.Namespace) -> tuple[TextGenerator, CoGEXFormat]:
    module = rebuild(args.ckpt_path, args.config)
    if not isinstance(module.format, CoGEXFormat):
        raise InputError(
            f"{args.ckpt_path}: not a CoGEX run (format {type(module.format).__name__})"
        )
    model = module.model.eval().to(args.device)
    return TextGenerator(model, module.tokenizer, module.format, args.batch_size), module.format


def run_search(args: argparse.Namespace) -> None:
    generate, format = model_from_checkpoint(args)
    tasks = (
        read_task_examples(args.examples)
        if args.examples
        else embedded_task_examples(args.per_task, args.data_seed)
    )
    options = SearchOptions(**{f.name: getattr(args, f.name) for f in fields(SearchOptions)})
    emulator = Emulator(generate, format, args.emulation_tokens)
    sample = program_sampler(generate, format, args.temperature, args.program_tokens)
    matcher = AnswerMatcher()
    for task, examples in tasks.items():
        result = search(examples, sample, emulator, matcher, options)
        record = result.record(task, examples[0].instruction, options)
        path = save_programs(program_file(args.out, task), record)
        best = result.programs[0] if result.programs else None
        scores = f"search {best.search_score:.3f}, dev {best.dev_score}" if best else "no program"
        print(
            f"{task}: {scores}; {result.emulations} emulations in {result.wall_s:.1f} s -> {path}"
        )


def run_apply(args: argparse.Namespace) -> None:
    task, programs = load_programs(args.programs)
    examples: list[TaskExample] = [
        example for group in read_task_examples(args.examples).values() for example in group
    ]
    generate, format = model_from_checkpoint(args)
    emulator = Emulator(generate, format, args.emulation_tokens)
    votes = apply_programs(programs[: args.keep], examples, emulator, args.seed)
    matcher, correct = AnswerMatcher(), 0
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("w", encoding="utf-8") as lines:
        for example, vote in zip(examples, votes):
            right = vote is not None and answers_match(vote.answer, example.answer, matcher)
            correct += right
            record = {
                "id": example.id,
                "task": task,
                "input": example.input,
                "gold": example.answer,
                "answer": None if vote is None else repr(vote.answer),
                "votes": None if vote is None else vote.votes,
                "correct": right,
            }
            lines.write(json.dumps(record, ensure_ascii=False) + "\n")
    print(
        f"{task}: {correct}/{len(examples)} correct with {min(args.keep, len(programs))} "
        f"program(s); {emulator.emulations} emulations -> {out}"
    )


def add_model_arguments(parser: argparse.ArgumentParser) -> None:
    """Where the CoGEX model comes from and how it generates."""
    parser.add_argument("--ckpt_path", required=True, help="a CoGEX run's checkpoint")
    parser.add_argument("--config", help="the run's config (default: its config.yaml)")
    parser.add_argument("--device", default=DEVICE, help="where the model runs")
    parser.add_argument("--batch_size", type=int, default=64, help="prompts per generate call")
    parser.add_argument("--emulation_tokens", type=int, default=128, help="longest output")


def parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    defaults = SearchOptions()
    for name, run, helptext in (
        ("search", run_search, "find and save one program per task"),
        ("apply", run_apply, "answer new inputs with a saved program file"),
    ):
        command = commands.add_parser(name, help=helptext)
        command.set_defaults(run=run)
        add_model_arguments(command)
        command.add_argument("--keep", type=int, default=defaults.keep, help="programs kept (k)")
        command.add_argument("--seed", type=int, default=defaults.seed, help="split, samples, ties")
    search_command, apply_command = commands.choices["search"], commands.choices["apply"]
    search_command.add_argument("--examples", help="a task file (default: embedded held-out)")
    search_command.add_argument("--per_task", type=int, default=400, help="embedded examples")
    search_command.add_argument("--data_seed", type=int, default=0, help="embedded inputs' seed")
    search_command.add_argument("--out", default="runs/cotacs", help="folder of program files")
    search_command.add_argument("--program_tokens", type=int, default=256, help="longest sample")
    search_command.add_argument("--search_size", type=int, default=defaults.search_size)
    search_command.add_argument("--threshold", type=float, default=defaults.threshold, help="α")
    search_command.add_argument("--max_retries", type=int, default=defaults.max_retries)
    search_command.add_argument("--temperature", type=float, default=TEMPERATURE)
    apply_command.add_argument("--programs", required=True, help="a program file of `search`")
    apply_command.add_argument("--examples", required=True, help="a task file of new inputs")
    apply_command.add_argument("--out", default="predictions.jsonl", help="jsonl of answers")
    return parser


def command_line(argv: list[str] | None = None) -> int:
    return run_entry_point(run, argv)


def run(argv: list[str]) -> None:
    args = parser().parse_args(argv)
    args.run(args)


if __name__ == "__main__":
    sys.exit(command_line())

"""CoTACS against direct answering on the embedded held-out CoGEX tasks (compositions the model
never trained on), with the same model and the same test inputs for every condition (the
conditions: ``program_search.comparison``).

Accuracies are per task, then averaged over tasks; ``emulations`` and ``search_wall_s`` are the
searches' cost, all tasks together. Run from the repository root:

    python -m benchmarks.experiments.cotacs \
        --ckpt_path runs/cogex_quickstart/version_0/checkpoints/last.ckpt

Results go to ``benchmarks/results/cotacs.json`` (``--out``); a per-task table is printed.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import replace
from pathlib import Path

from benchmarks import RESULTS_DIR
from cotacs import add_model_arguments, model_from_checkpoint
from datamodules.sources.cogex import embedded_task_examples
from grading.answers import AnswerMatcher
from program_search.comparison import CONDITIONS, Budget, compare
from program_search.search import SearchOptions

RESULTS = RESULTS_DIR / "cotacs.json"


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
    from cli.errors import run_entry_point

    sys.exit(run_entry_point(lambda _: main()))

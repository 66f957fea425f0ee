"""GRPO on a real model, reported: the reward curve of a ``configs/htl/smollm2_grpo.yaml`` run
and GSM8K / MAWPS subset accuracy of the policy before and after it.

"Before" and "after" are ``configs/eval/htl_subsets.yaml`` test runs (the same first-100 subsets,
greedy, HTL's fallback cascade) of the SFT checkpoint the run started from and of the exported
GRPO policy; the reward is what the run logged per rollout batch (``reward/mean``, HTL's error
assessment of sampled rollouts). The recipe's header has the commands that make the three runs.

    python -m benchmarks.reports.rl_smollm2_report --run runs/smollm2_grpo/version_0 \\
        --before runs/eval/htl_subsets/version_2 --after runs/eval_grpo/htl_subsets/version_0

Writes the ``smollm2`` part of ``benchmarks/results/rl.json`` (other parts are kept) and
``benchmarks/results/rl_smollm2.md``. "reward_before" and "reward_after" are the means of the
first and the last ``--window`` batches: one batch of 16 rollouts is too noisy to stand alone.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from benchmarks import RESULTS_DIR, record_part
from benchmarks.reports.real_model_report import read_records, summarise, training_summary
from run_logs import Point, read_scalars

SETS = ("gsm8k", "mawps")
REWARD = "reward/mean"


def reward_curve(run: Path, scalars: dict[str, list[Point]]) -> list[tuple[int, float]]:
    """(rollout batch, mean reward) for every logged batch of the run."""
    points = scalars.get(REWARD, [])
    if not points:
        raise SystemExit(f"{run}: no {REWARD} logged (is it a PPOModule run folder?)")
    return [(index + 1, point.value) for index, point in enumerate(points)]


def set_tables(folders: list[Path]) -> dict[str, dict]:
    """Each of ``SETS``'s per-metric table from the records of one evaluation."""
    tables = summarise([r for r in read_records(folders) if r["dataset"] in SETS])
    missing = [name for name in SETS if name not in tables]
    if missing:
        raise SystemExit(f"{', '.join(missing)}: not graded in {', '.join(map(str, folders))}")
    return {name: tables[name] for name in SETS}


def mean(values: list[float]) -> float:
    return sum(values) / len(values)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--run", type=Path, required=True, help="the GRPO run's version folder")
    parser.add_argument("--before", type=Path, nargs="+", required=True, help="eval run folder(s)")
    parser.add_argument("--after", type=Path, nargs="+", required=True, help="eval run folder(s)")
    parser.add_argument("--window", type=int, default=5, help="batches averaged at each end")
    args = parser.parse_args()

    scalars = read_scalars(args.run)
    curve = reward_curve(args.run, scalars)
    rewards = [value for _, value in curve]
    before, after = set_tables(args.before), set_tables(args.after)
    result = {
        "reward_before": round(mean(rewards[: args.window]), 4),
        "reward_after": round(mean(rewards[-args.window :]), 4),
        "gsm8k_before": before["gsm8k"]["exec_acc"],
        "gsm8k_after": after["gsm8k"]["exec_acc"],
        "mawps_before": before["mawps"]["exec_acc"],
        "mawps_after": after["mawps"]["exec_acc"],
        "n": before["gsm8k"]["n"],
        "rollout_batches": len(rewards),
        "wall_s": training_summary(scalars)["wall_s"],
        "reward_window": args.window,
    }
    record_part(RESULTS_DIR / "rl.json", ("smollm2",), result)
    (RESULTS_DIR / "rl_smollm2.md").write_text(report(result, curve, before, after))
    print(json.dumps(result, indent=2))


def report(result: dict, curve: list[tuple[int, float]], before: dict, after: dict) -> str:
    lines = [
        "# GRPO on SmolLM2-135M (HTL fine-tune), HTL's error-assessment reward",
        "",
        "Written by `benchmarks/reports/rl_smollm2_report.py`; "
        "the runs: `configs/htl/smollm2_grpo.yaml`.",
        "",
        f"Mean reward, first {result['reward_window']} batches: {result['reward_before']:+.3f}; "
        f"last {result['reward_window']}: {result['reward_after']:+.3f} "
        f"({result['rollout_batches']} rollout batches, {result['wall_s']} s).",
        "",
        "| set (first 100) | metric | before | after |",
        "|---|---|---:|---:|",
    ]
    for name in SETS:
        for metric in ("exec_acc", "reasoning_acc", "program_acc", "cte_rate", "mean_gen_tokens"):
            old, new = before[name][metric], after[name][metric]
            shown = (
                (f"{old:.1f}", f"{new:.1f}")
                if metric == "mean_gen_tokens"
                else (f"{old:.0%}", f"{new:.0%}")
            )
            lines.append(f"| {name} | {metric} | {shown[0]} | {shown[1]} |")
    lines += ["", "Reward per rollout batch:", ""]
    lines += [f"- {batch}: {value:+.3f}" for batch, value in curve]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    from cli.errors import run_entry_point

    sys.exit(run_entry_point(lambda _: main()))

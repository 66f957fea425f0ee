"""bf16-mixed against fp32 training on a real recipe: the same steps, the loss and the speed.

Two runs of one recipe, same seed (same data order and focus-attention draws), one with
``--trainer.precision bf16-mixed`` and one with ``32-true``; the second may stop early (the
comparison covers the steps both logged). The loss is compared as the mean over windows of
logged steps, since one step's loss swings with its batch; the speed as the mean logged tokens/s.

    python -m benchmarks.reports.precision --bf16 runs/smollm2_sft_bf16/version_0 \\
        --fp32 runs/smollm2_sft_fp32/version_0 --window 20

Writes ``benchmarks/results/precision.json`` and prints the table of ``precision.md``.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from benchmarks import RESULTS_DIR
from run_logs import read_scalars

LOSS, SPEED = "train/loss", "train/tokens_per_sec"


def logged(folders: list[Path]) -> dict[str, dict[int, float]]:
    """A run's loss and tokens/s by step, over its folders (a resumed run logs into a new one;
    a step logged twice keeps its last value)."""
    values: dict[str, dict[int, float]] = {LOSS: {}, SPEED: {}}
    for folder in folders:
        scalars = read_scalars(folder)
        for tag, by_step in values.items():
            by_step.update({point.step: point.value for point in scalars.get(tag, [])})
    for tag, by_step in values.items():
        if not by_step:
            raise SystemExit(f"{', '.join(map(str, folders))}: no {tag} logged")
    return values


def windows(first: dict[int, float], second: dict[int, float], size: int) -> list[dict[str, float]]:
    """Mean losses of both runs over consecutive windows of ``size`` steps that both logged."""
    shared = sorted(first.keys() & second.keys())
    rows = []
    for start in range(0, shared[-1] + 1, size) if shared else []:
        steps = [step for step in shared if start <= step < start + size]
        if steps:
            rows.append(
                {
                    "steps": f"{steps[0]}-{steps[-1]}",
                    "bf16": sum(first[s] for s in steps) / len(steps),
                    "fp32": sum(second[s] for s in steps) / len(steps),
                }
            )
    return rows


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--bf16", type=Path, action="append", required=True, help="run folder")
    parser.add_argument("--fp32", type=Path, action="append", required=True, help="run folder")
    parser.add_argument("--window", type=int, default=20, help="steps per loss window")
    parser.add_argument("--output", type=Path, default=RESULTS_DIR / "precision.json")
    args = parser.parse_args(argv)
    runs = [logged(args.bf16), logged(args.fp32)]
    losses, speeds = [run[LOSS] for run in runs], [run[SPEED] for run in runs]
    rows = windows(*losses, args.window)
    shared = sorted(losses[0].keys() & losses[1].keys())
    result = {
        "steps_compared": len(shared),
        "last_step": shared[-1],
        "loss_bf16": sum(losses[0][s] for s in shared) / len(shared),
        "loss_fp32": sum(losses[1][s] for s in shared) / len(shared),
        "tokens_per_s_bf16": sum(speeds[0].values()) / len(speeds[0]),
        "tokens_per_s_fp32": sum(speeds[1].values()) / len(speeds[1]),
        "windows": rows,
    }
    result["speedup"] = result["tokens_per_s_bf16"] / result["tokens_per_s_fp32"]
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(result, indent=2) + "\n")
    print("| steps | loss bf16-mixed | loss fp32 |\n|---|---:|---:|")
    for row in rows:
        print(f"| {row['steps']} | {row['bf16']:.3f} | {row['fp32']:.3f} |")
    both = f"{result['loss_bf16']:.3f} | {result['loss_fp32']:.3f}"
    print(
        f"| all {len(shared)} logged steps | {both} |"
        f"\n\ntokens/s: bf16-mixed {result['tokens_per_s_bf16']:.1f}, fp32 "
        f"{result['tokens_per_s_fp32']:.1f} ({result['speedup']:.2f}x)"
    )


if __name__ == "__main__":
    from cli.errors import run_entry_point

    sys.exit(run_entry_point(main))

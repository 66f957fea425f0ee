"""The quickstart's learning curve, read from a finished run's TensorBoard events.

    python main.py fit --config configs/quickstart.yaml             # -> runs/quickstart/version_N
    python -m benchmarks.reports.quickstart_curve runs/quickstart/version_N

Writes ``benchmarks/results/quickstart.json``: held-out accuracy at every validation, training
loss and focus-attention coverage at every logged step, tokens/s, and the run's wall time from
its first to its last event (the README's figures and ``scripts/figures.py`` read it, so the
run folder, which is not committed, need not be kept)."""

from __future__ import annotations

import argparse
import datetime
import json
import sys
from pathlib import Path

from benchmarks import RESULTS_DIR
from checks import InputError
from run_logs import Point, read_scalars

RESULTS = RESULTS_DIR / "quickstart.json"
TAGS = {  # results key -> logged tag
    "exec_acc": "val/exec_acc",
    "reasoning_acc": "val/reasoning_acc",
    "loss": "train/loss",
    "coverage": "focus/coverage",
    "tokens_per_s": "train/tokens_per_sec",
}


def curve(points: list[Point]) -> list[list[float]]:
    """``[step, value]`` pairs; Lightning logs validation at the last step's index (249 for
    250 steps), so steps are counted as optimizer steps done."""
    return [[point.step + 1, round(point.value, 6)] for point in points]


def summary(run: Path, note: str) -> dict:
    scalars = read_scalars(run)
    missing = [tag for tag in TAGS.values() if tag not in scalars]
    if missing:
        raise InputError(f"{run}: not a finished quickstart run (no {', '.join(missing)})")
    times = [point.wall_time for points in scalars.values() for point in points]
    return {
        "date": datetime.date.today().isoformat(),
        "run": str(run),
        "note": note,
        "wall_s_first_to_last_event": round(max(times) - min(times)),
        **{key: curve(scalars[tag]) for key, tag in TAGS.items()},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("run", type=Path, help="a quickstart run folder (its version_N)")
    parser.add_argument("--note", default="", help="the machine and how busy it was")
    args = parser.parse_args()
    RESULTS.write_text(json.dumps(summary(args.run, args.note), indent=1) + "\n")
    print(RESULTS)


if __name__ == "__main__":
    from cli.errors import run_entry_point

    sys.exit(run_entry_point(lambda _: main()))

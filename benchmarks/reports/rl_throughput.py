"""Where an RL run's hour goes: rollouts per hour, and each rollout batch split between
generation, scoring + update, and pushing the new weights to the engine, from the ``time/*``
scalars a ``PPOModule`` run logs.

    python -m benchmarks.reports.rl_throughput --name smollm2_grpo_vllm \\
        --run runs/smollm2_grpo/version_0 [--run runs/smollm2_grpo/version_1 ...]

Each ``--run`` is one sitting of the run (a resumed run logs to a new version folder). The first
batch of a sitting carries the engine's warm-up (vLLM compiles its graph on its first generate):
it is reported apart, and the steady figures are the means over the other batches. Writes
``throughput.NAME`` in ``benchmarks/results/rl.json`` (or ``--output``; other parts are kept).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from statistics import fmean

import yaml

from benchmarks import RESULTS_DIR, record_part
from run_logs import read_scalars

PARTS = ("rollout_s", "score_and_update_s", "weight_push_s")


def rollouts_per_batch(run: Path) -> int:
    """Problems per batch x samples per problem, from the sitting's resolved recipe."""
    config = yaml.safe_load((run / "config.yaml").read_text())
    problems = config["data"]["init_args"]["batch_size"]
    return problems * config["model"]["init_args"]["rollout"]["num_samples"]


def batch_times(run: Path) -> list[dict[str, float]]:
    """Each logged rollout batch's seconds in each part."""
    scalars = read_scalars(run)
    columns = {part: [p.value for p in scalars.get(f"time/{part}", [])] for part in PARTS}
    if not columns["rollout_s"]:
        raise SystemExit(f"{run}: no time/rollout_s logged (is it a PPOModule run folder?)")
    return [dict(zip(PARTS, values, strict=True)) for values in zip(*columns.values(), strict=True)]


def throughput(runs: list[Path]) -> dict:
    """The record: batches, the first batches of the sittings, the steady means and shares."""
    sizes = {rollouts_per_batch(run) for run in runs}
    if len(sizes) != 1:
        raise SystemExit(f"the sittings differ in rollouts per batch: {sorted(sizes)}")
    sittings = [batch_times(run) for run in runs]
    first = [times[0] for times in sittings]
    steady = [batch for times in sittings for batch in times[1:]]
    if not steady:
        raise SystemExit("one batch per sitting: nothing past the warm-up to average")
    means = {part: round(fmean([batch[part] for batch in steady]), 2) for part in PARTS}
    batch_s = sum(means.values())
    size = sizes.pop()
    return {
        "rollouts_per_batch": size,
        "batches": sum(len(times) for times in sittings),
        "first_batch_s": {part: round(fmean([b[part] for b in first]), 2) for part in PARTS},
        "steady_batches": len(steady),
        "steady_batch_s": means | {"total": round(batch_s, 2)},
        "share": {part: round(means[part] / batch_s, 4) for part in PARTS},
        "rollouts_per_hour": round(size * 3600 / batch_s, 1),
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--name", required=True, help="the record's key under 'throughput'")
    parser.add_argument("--run", type=Path, action="append", required=True, help="a sitting")
    parser.add_argument("--note", default="", help="machine and settings, kept with the record")
    parser.add_argument("--output", type=Path, default=RESULTS_DIR / "rl.json", help="the record")
    args = parser.parse_args(argv)
    result = throughput(args.run) | ({"note": args.note} if args.note else {})
    record_part(args.output, ("throughput", args.name), result)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    from cli.errors import run_entry_point

    sys.exit(run_entry_point(lambda _: main()))

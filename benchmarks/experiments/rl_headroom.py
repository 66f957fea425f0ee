"""Does RL raise accuracy where there is room? GRPO, RLOO and PPO-GAE from the same early SFT
checkpoint, each run by ``main.py`` with ``configs/quickstart_rl.yaml``.

"Before" is ``main.py validate`` on the starting weights (the 256 held-out problems, greedy, the
programs run in the sandbox); "after" is each run's last ``val/exec_acc``. Wall and CPU seconds
are the ``main.py`` process's, sandboxed programs included. Run from the repository root after
the quickstart: ``python -m benchmarks.experiments.rl_headroom``. Writes the ``embedded`` part of
``benchmarks/results/rl.json`` (other parts are kept) and ``benchmarks/results/rl_headroom.md``
(the table and every run's accuracy curve).
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

from benchmarks import RESULTS_DIR, ROOT, record_part
from run_logs import read_scalars

RECIPE = [
    "--config",
    "configs/quickstart.yaml",
    "--config",
    "configs/quickstart_ppo.yaml",
    "--config",
    "configs/quickstart_rl.yaml",
]
ACCURACY = "val/exec_acc"
# PPO with a critic has no per-prompt baseline: prompts whose samples all fail push every token
# they wrote down, and the policy drifts. DAPO's dynamic sampling leaves those groups out, and a
# larger step lets the fresh linear value head catch up (README, "RL with headroom").
ESTIMATOR_FLAGS = {
    "gae": [
        "--model.init_args.ppo.dynamic_sampling",
        "true",
        "--model.init_args.ppo.value_head_lr",
        "1.0e-2",
    ]
}


def run_main(arguments: list[str], log: Path) -> tuple[float, float]:
    """Runs ``main.py`` to completion; its wall and CPU seconds (children included)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    with log.open("w") as output:
        done = subprocess.run(
            [sys.executable, "main.py", *arguments], cwd=ROOT, stdout=output, stderr=output
        )
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode:
        raise SystemExit(f"main.py {arguments[0]} failed (exit {done.returncode}); see {log}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def latest_version(folder: Path) -> Path:
    return max(folder.glob("version_*"), key=lambda path: int(path.name.split("_")[1]))


def accuracy_curve(folder: Path) -> list[tuple[int, float]]:
    return [(point.step, point.value) for point in read_scalars(folder)[ACCURACY]]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--estimators", nargs="+", default=["grpo", "rloo", "gae"])
    parser.add_argument("--root", type=Path, default=ROOT / "runs" / "rl_headroom")
    args, overrides = parser.parse_known_args()  # anything else: main.py flags for every run

    args.root.mkdir(parents=True, exist_ok=True)
    before_root = args.root / "before"
    run_main(
        ["validate", *RECIPE, "--trainer.default_root_dir", str(before_root), *overrides],
        args.root / "before.log",
    )
    before = accuracy_curve(latest_version(before_root))[-1][1]
    print(f"before: {before:.4f}")

    for estimator in args.estimators:
        root = args.root / estimator
        flags = ["--model.init_args.ppo.advantage", estimator, *ESTIMATOR_FLAGS.get(estimator, [])]
        wall, cpu = run_main(
            ["fit", *RECIPE, *flags, "--trainer.default_root_dir", str(root), *overrides],
            args.root / f"{estimator}.log",
        )
        timing = {"wall_s": wall, "cpu_s": cpu, "flags": flags + overrides}
        (root / "timing.json").write_text(json.dumps(timing))
        after = accuracy_curve(latest_version(root))[-1][1]
        print(f"{estimator}: {before:.4f} -> {after:.4f} in {wall:.0f} s ({cpu:.0f} CPU-s)")

    runs = {  # every estimator run under the root so far, this invocation's or an earlier one's
        root.name: {
            "curve": accuracy_curve(latest_version(root)),
            **json.loads((root / "timing.json").read_text()),
        }
        for root in sorted(args.root.iterdir())
        if (root / "timing.json").is_file()
    }
    embedded = {
        name: {
            "before": round(before, 4),
            "after": round(run["curve"][-1][1], 4),
            "wall_s": round(run["wall_s"]),
        }
        for name, run in runs.items()
    }
    record_part(RESULTS_DIR / "rl.json", ("embedded",), embedded)
    (RESULTS_DIR / "rl_headroom.md").write_text(report(before, runs))


def report(before: float, runs: dict) -> str:
    lines = [
        "# RL with headroom: the quickstart stopped at step 500",
        "",
        "`python -m benchmarks.experiments.rl_headroom`; each run's own flags (beyond"
        " `configs/quickstart_rl.yaml`) are listed below the table.",
        "",
        "| estimator | before | after | best | wall s | CPU s |",
        "|---|---|---|---|---|---|",
    ]
    for name, run in runs.items():
        values = [value for _, value in run["curve"]]
        lines.append(
            f"| {name} | {before:.1%} | {values[-1]:.1%} | {max(values):.1%} | "
            f"{run['wall_s']:.0f} | {run['cpu_s']:.0f} |"
        )
    lines += ["", "Held-out `val/exec_acc` after each 10 rollout batches:", ""]
    for name, run in runs.items():
        points = ", ".join(f"{step + 1}: {value:.1%}" for step, value in run["curve"])
        lines.append(f"- {name}: 0: {before:.1%}, {points}")
    lines += ["", "Flags:", ""]
    lines += [f"- {name}: `{' '.join(run['flags'])}`" for name, run in runs.items()]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    from cli.errors import run_entry_point

    sys.exit(run_entry_point(lambda _: main()))

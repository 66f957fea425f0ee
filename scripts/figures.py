"""Render the README's and docs' figures from the recorded results (``benchmarks/results/``).

    pip install -c constraints.txt -e ".[docs]"     # matplotlib
    python scripts/figures.py                       # -> docs/figures/*.png

Every number drawn is read from a results file; nothing is typed in here. A figure whose
results file is missing is skipped with a line saying which file to produce first."""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Callable
from pathlib import Path
from statistics import fmean
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from matplotlib.figure import Figure

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
FIGURES = ROOT / "docs" / "figures"
SIZE, DPI = (6.0, 3.4), 90  # small files: a few tens of kB each
REAL_MODEL_CONDITIONS = {  # real_model.json key -> label; those the record holds are drawn
    "base": "base (chat, markdown PoT)",
    "pot": "program-only fine-tune",
    "htl_dense": "HTL, dense attention",
    "htl": "HTL, focus attention",
    "htl_grpo": "HTL + GRPO",
}
_CURVE_LINE = re.compile(r"^- (\w+): ((?:\d+: [\d.]+%(?:, )?)+)$")


def cells(line: str) -> list[str]:
    return [cell.strip() for cell in line.strip().strip("|").split("|")]


def markdown_table(path: Path, first_header: str) -> list[dict[str, str]]:
    """The rows of the first Markdown table in ``path`` whose first column is ``first_header``."""
    lines = path.read_text(encoding="utf-8").splitlines()
    for index, line in enumerate(lines):
        if line.startswith("|") and cells(line)[0] == first_header:
            rows = []
            for row in lines[index + 2 :]:  # after the header and its |---| line
                if not row.startswith("|"):
                    break
                rows.append(dict(zip(cells(line), cells(row))))
            return rows
    raise ValueError(f"{path}: no table with a {first_header!r} column")


def quickstart(figure: Figure) -> None:
    """Held-out accuracy (programs run in the sandbox) and training loss over the steps."""
    axes = figure.add_subplot()
    run = json.loads((RESULTS / "quickstart.json").read_text())
    for key, label in (("exec_acc", "execution-verified"), ("reasoning_acc", "reasoning only")):
        steps, values = zip(*run[key])
        axes.plot(steps, [100 * value for value in values], marker="o", label=label)
    axes.set(xlabel="optimizer step", ylabel="held-out accuracy (%)", ylim=(0, 100))
    loss = axes.twinx()
    steps, values = zip(*run["loss"])
    loss.plot(steps, values, color="grey", alpha=0.5, linewidth=1, label="training loss")
    loss.set_ylabel("training loss")
    axes.legend(loc="center left")
    axes.set_title("Quickstart: a 0.6M Llama from scratch on 2 CPU cores")


def rl_headroom(figure: Figure) -> None:
    """Greedy held-out accuracy every 10 rollout batches, one line per estimator."""
    axes = figure.add_subplot()
    for line in (RESULTS / "rl_headroom.md").read_text(encoding="utf-8").splitlines():
        if match := _CURVE_LINE.match(line):
            points = [point.split(": ") for point in match[2].split(", ")]
            axes.plot(
                [int(batch) for batch, _ in points],
                [float(value.rstrip("%")) for _, value in points],
                marker="o",
                label=match[1].upper(),
            )
    axes.set(xlabel="rollout batches", ylabel="held-out exec_acc (%)")
    axes.legend()
    axes.set_title("RL from the quickstart's step 500")


def real_model(figure: Figure) -> None:
    """exec_acc per set and condition for SmolLM2-135M."""
    axes = figure.add_subplot()
    record = json.loads((RESULTS / "real_model.json").read_text())
    sets, ci95 = record["sets"], record["ci95"]
    names = list(sets)
    drawn = {key: label for key, label in REAL_MODEL_CONDITIONS.items() if key in ci95}
    width = 0.8 / len(drawn)
    for index, (key, label) in enumerate(drawn.items()):
        offsets = [p + (index - (len(drawn) - 1) / 2) * width for p in range(len(names))]
        values = [100 * sets[name][key] for name in names]
        errors = [
            [value - 100 * ci95[key][name][0] for value, name in zip(values, names, strict=True)],
            [100 * ci95[key][name][1] - value for value, name in zip(values, names, strict=True)],
        ]
        axes.bar(offsets, values, width, yerr=errors, capsize=1, label=label)
    axes.set_xticks(range(len(names)), names, rotation=30)
    sizes = sorted({sets[name]["n"] for name in names})
    axes.set(ylabel=f"exec_acc (%), first {'/'.join(map(str, sizes))} (95% CI)")
    axes.legend(fontsize="small")
    axes.set_title("SmolLM2-135M on HTL's eight sets")


def real_model_rl(figure: Figure) -> None:
    """The RL conditions' reward per rollout batch (and its 5-batch running mean) beside the
    share of rollouts that dynamic sampling kept, from the record's training curves."""
    reward_axes, kept_axes = figure.subplots(1, 2)
    training = json.loads((RESULTS / "real_model.json").read_text())["training"]
    for key, summary in training.items():
        if "curve" not in summary:
            continue
        batches = [row["batch"] for row in summary["curve"]]
        rewards = [row["reward"] for row in summary["curve"]]
        running = [fmean(rewards[max(0, i - 4) : i + 1]) for i in range(len(rewards))]
        label = REAL_MODEL_CONDITIONS.get(key, key)
        (line,) = reward_axes.plot(batches, rewards, alpha=0.35, linewidth=1)
        reward_axes.plot(batches, running, color=line.get_color(), label=label)
        kept = [100 * row["loss_fraction"] for row in summary["curve"]]
        kept_axes.plot(batches, kept, color=line.get_color(), label=label)
    reward_axes.set(xlabel="rollout batch", ylabel="mean reward (5-batch mean)")
    reward_axes.legend(fontsize="small")
    kept_axes.set(xlabel="rollout batch", ylabel="rollouts kept by dynamic sampling (%)")
    figure.suptitle("SmolLM2-135M: RL from the HTL fine-tune", fontsize="medium")


def throughput(figure: Figure) -> None:
    """Sandbox programs/s against HTL's and ToRA's executors; engine tokens/s against
    transformers' ``generate``."""
    sandbox_axes, generation_axes = figure.subplots(1, 2)
    rows = markdown_table(RESULTS / "sandbox_throughput.md", "method")
    rate = "programs/s (median of rounds)"
    sandbox_axes.barh([row["method"] for row in rows], [float(row[rate]) for row in rows])
    sandbox_axes.set(xlabel="GSM-Hard programs/s", xscale="log")
    sandbox_axes.set_title("Sandbox (2 cores)", fontsize="medium")
    measured = json.loads((RESULTS / "real_model_throughput.json").read_text())["generation"]
    engine = max(round_["wall"] for round_ in measured["engine"])
    generate = max(round_["wall"] for round_ in measured["generate"])
    labels = ["thinkcode\nengine", "transformers\ngenerate"]
    generation_axes.bar(labels, [engine, generate], color=["C0", "C1"])
    generation_axes.set(ylabel="new tokens/s (best round)")
    generation_axes.set_title("SmolLM2-135M, batch 32", fontsize="medium")


Draw = Callable[["Figure"], None]
FIGURES_BY_NAME: dict[str, tuple[Draw, tuple[str, ...]]] = {
    "quickstart.png": (quickstart, ("quickstart.json",)),
    "rl_headroom.png": (rl_headroom, ("rl_headroom.md",)),
    "real_model.png": (real_model, ("real_model.json",)),
    "real_model_rl.png": (real_model_rl, ("real_model.json",)),
    "throughput.png": (
        throughput,
        ("sandbox_throughput.md", "real_model_throughput.json"),
    ),
}


def render(name: str, draw: Draw, out: Path) -> Path:
    import matplotlib  # the docs extra: only rendering needs it

    matplotlib.use("Agg")  # files only, no display
    import matplotlib.pyplot as plt

    figure = plt.figure(figsize=SIZE, layout="constrained")
    draw(figure)
    path = out / name
    figure.savefig(path, dpi=DPI)
    plt.close(figure)
    return path


def run(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=FIGURES, help="folder of the PNG files")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    for name, (draw, sources) in FIGURES_BY_NAME.items():
        missing = [source for source in sources if not (RESULTS / source).is_file()]
        if missing:
            print(f"{name}: skipped, no benchmarks/results/{missing[0]} yet")
            continue
        print(render(name, draw, args.out))


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    from cli.errors import run_entry_point

    sys.exit(run_entry_point(run))

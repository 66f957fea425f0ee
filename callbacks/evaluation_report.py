"""The report of a ``main.py test`` run: a per-dataset table and one record per sample.

The table is read back from the logged ``test/{metric}`` and ``test/{dataset}/{metric}`` values,
so it shows exactly what TensorBoard shows. The records come from ``test_step``'s return value;
each rank appends its own part file and rank 0 joins them once every rank is done, so no two
processes ever write the same file.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import lightning as L
import torch

from metrics.evaluation import METRICS, OVERALL

COLUMNS = ("samples", *METRICS)


class EvaluationReport(L.Callback):
    """At test end, writes ``{name}.md`` and ``{name}.csv`` (the table, also printed and sent to
    TensorBoard as text) and ``{name}_samples.jsonl`` (prompt, generation, executions, fallbacks,
    extracted answers, verdict and reasons per sample).

    Args:
        directory: where the files go; default: the run folder (``trainer.log_dir``).
        name: the files' common stem.
    """

    def __init__(self, directory: str | None = None, name: str = "evaluation") -> None:
        self.directory, self.name = directory, name
        self._folder = Path(".")

    def _part(self, rank: int) -> Path:
        return self._folder / f"{self.name}_samples.rank{rank}.jsonl"

    def on_test_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._folder = Path(self.directory or trainer.log_dir or trainer.default_root_dir)
        self._folder.mkdir(parents=True, exist_ok=True)
        self._part(trainer.global_rank).write_text("")

    def on_test_batch_end(
        self,
        trainer: L.Trainer,
        pl_module: L.LightningModule,
        outputs: Any,
        batch: Any,
        batch_idx: int,
        dataloader_idx: int = 0,
    ) -> None:
        with self._part(trainer.global_rank).open("a", encoding="utf-8") as out:
            for record in outputs or ():
                out.write(json.dumps(record, ensure_ascii=False) + "\n")

    def on_test_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        trainer.strategy.barrier()  # every rank's part is complete
        if not trainer.is_global_zero:
            return
        self._join_parts(trainer.world_size)
        rows = results_table(trainer.callback_metrics, "test")
        markdown = markdown_table(rows)
        (self._folder / f"{self.name}.md").write_text(f"{markdown}\n\n{legend()}", encoding="utf-8")
        write_csv(self._folder / f"{self.name}.csv", rows)
        print(f"\n{markdown}\n\nreport and per-sample records in {self._folder}")
        for logger in trainer.loggers:
            experiment = getattr(logger, "experiment", None)
            if hasattr(experiment, "add_text"):
                experiment.add_text("test/report", markdown, trainer.global_step)

    def _join_parts(self, world_size: int) -> None:
        with (self._folder / f"{self.name}_samples.jsonl").open("w", encoding="utf-8") as out:
            for rank in range(world_size):
                part = self._part(rank)
                out.write(part.read_text(encoding="utf-8"))
                part.unlink()


def results_table(
    logged: Mapping[str, torch.Tensor | float], stage: str
) -> dict[str, dict[str, float]]:
    """``{dataset: {column: value}}`` from logged ``{stage}/[{dataset}/]{metric}`` values, the
    datasets in logging order and the overall row (``all``) last."""
    rows: dict[str, dict[str, float]] = {}
    for key, value in logged.items():
        path = key.split("/")
        if path[0] != stage or path[-1] not in COLUMNS or len(path) not in (2, 3):
            continue
        dataset = path[1] if len(path) == 3 else OVERALL
        rows.setdefault(dataset, {})[path[-1]] = float(value)
    if OVERALL in rows:
        rows[OVERALL] = rows.pop(OVERALL)
    return rows


def _cell(column: str, value: float | None) -> str:
    if value is None:
        return ""
    if column == "samples":
        return f"{value:.0f}"
    if column == "mean_gen_tokens":
        return f"{value:.1f}"
    return f"{100 * value:.1f}"


def markdown_table(rows: Mapping[str, Mapping[str, float]]) -> str:
    """Rates in percent, tokens per sample, samples as counts."""
    lines = [
        "| dataset | " + " | ".join(COLUMNS) + " |",
        "|---|" + "---:|" * len(COLUMNS),
    ]
    for dataset, values in rows.items():
        cells = (_cell(column, values.get(column)) for column in COLUMNS)
        lines.append(f"| {dataset} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def legend() -> str:
    return (
        "\n".join(f"- `{metric}`: {meaning}" for metric, (_, meaning) in METRICS.items())
        + "\n\nRates are percentages of the samples; `mean_gen_tokens` is per sample.\n"
    )


def _count(value: float | str) -> float | int | str:
    """Whole numbers (sample counts) without a trailing ``.0``."""
    return int(value) if isinstance(value, float) and value.is_integer() else value


def write_csv(path: Path, rows: Mapping[str, Mapping[str, float]]) -> None:
    """The raw values (rates as fractions), one row per dataset."""
    with path.open("w", encoding="utf-8", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(("dataset", *COLUMNS))
        for dataset, values in rows.items():
            cells = (values.get(column, "") for column in COLUMNS)
            writer.writerow((dataset, *(_count(cell) for cell in cells)))

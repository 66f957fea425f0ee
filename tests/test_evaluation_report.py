"""``main.py test`` with the benchmark recipe writes the per-dataset table and the records."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from callbacks.evaluation_report import markdown_table, results_table
from main import main

CONFIGS = Path(__file__).resolve().parents[1] / "configs"
TINY_UNTRAINED = {  # the quickstart architecture, shrunk; generations are random and short
    "--model.init_args.network.model_config.hidden_size": "32",
    "--model.init_args.network.model_config.intermediate_size": "64",
    "--model.init_args.network.model_config.num_hidden_layers": "1",
    "--model.init_args.evaluation.generation.max_new_tokens": "12",
    "--data.train.init_args.count": "200",
    "--data.vocab_size": "400",
    "--data.eval_batch_size": "4",
    "--data.test.init_args.names": "[gsm8k, svamp]",
    "--data.test.init_args.limit": "3",
}


def test_table_reads_the_logged_values() -> None:
    logged = {
        "test/exec_acc": 0.5,
        "test/samples": 4.0,
        "test/loss": 1.0,  # not an evaluation metric: left out
        "test/svamp/exec_acc": 1.0,
        "test/svamp/samples": 2.0,
        "test/gsm8k/exec_acc": 0.0,
        "val/exec_acc": 0.9,  # another stage
    }
    rows = results_table(logged, "test")
    assert list(rows) == ["svamp", "gsm8k", "all"]
    assert rows["all"] == {"exec_acc": 0.5, "samples": 4.0}
    table = markdown_table(rows).splitlines()
    assert table[0].startswith("| dataset | samples | exec_acc | reasoning_acc |")
    assert table[2].startswith("| svamp | 2 | 100.0 |")


@pytest.mark.slow
def test_benchmark_recipe_writes_table_and_records(tmp_path: Path, shared_data: Path) -> None:
    overrides = [item for pair in TINY_UNTRAINED.items() for item in pair]
    cli = main(
        [
            "test",
            "--config",
            str(CONFIGS / "quickstart.yaml"),
            "--config",
            str(CONFIGS / "eval" / "htl_benchmarks.yaml"),
            *overrides,
            "--data.test.init_args.path",
            str(shared_data / "benchmarks"),
            "--trainer.default_root_dir",
            str(tmp_path),
        ]
    )
    run = Path(cli.trainer.log_dir)
    with (run / "evaluation.csv").open() as table:
        rows = {row["dataset"]: row for row in csv.DictReader(table)}
    assert list(rows) == ["gsm8k", "svamp", "all"]
    assert [rows[name]["samples"] for name in rows] == ["3", "3", "6"]
    assert 0.0 <= float(rows["all"]["exec_acc"]) <= 1.0
    markdown = (run / "evaluation.md").read_text()
    assert "| gsm8k | 3 |" in markdown and "`cte_rate`" in markdown

    lines = (run / "evaluation_samples.jsonl").read_text().splitlines()
    records = [json.loads(line) for line in lines]
    assert sorted(record["id"] for record in records) == [
        "gsm8k-0",
        "gsm8k-1",
        "gsm8k-2",
        "svamp-0",
        "svamp-1",
        "svamp-2",
    ]
    fields = {
        "prompt",
        "generation",
        "executions",
        "fallbacks",
        "text_answer",
        "program_answer",
        "final_answer",
        "correct",
        "stage",
        "reasons",
        "gold",
        "dataset",
    }
    assert fields <= set(records[0])
    # An untrained model rarely answers: the cascade re-asks for a program, then for words.
    unanswered = [record for record in records if record["program_answer"] is None]
    assert all(
        [attempt["stage"] for attempt in record["fallbacks"]][:1] == ["program"]
        for record in unanswered
    )
    assert not list(run.glob("evaluation_samples.rank*.jsonl"))  # parts joined
    assert cli.trainer.callback_metrics["test/svamp/samples"] == 3


def test_quickstart_recipe_layers_on_the_training_recipe(capsys: pytest.CaptureFixture) -> None:
    recipes = ["--config", str(CONFIGS / "quickstart.yaml")]
    recipes += ["--config", str(CONFIGS / "eval" / "quickstart.yaml")]
    with pytest.raises(SystemExit) as exit_info:
        main(["test", *recipes, "--print_config"])
    assert exit_info.value.code == 0
    printed = capsys.readouterr().out
    assert "callbacks.evaluation_report.EvaluationReport" in printed
    assert "MaskCoverage" not in printed  # the training callbacks are replaced
    assert "cascade: true" in printed and "model_type: llama" in printed

"""End to end through the real CLIs: fit a tiny CoGEX model with the quickstart recipe, then
search and apply programs with ``cotacs.py`` and run the comparison on its checkpoint."""

from __future__ import annotations

import json
from argparse import Namespace
from pathlib import Path

import pytest
import torch

from cotacs import command_line, model_from_checkpoint
from datamodules.sources.cogex import embedded_task_examples
from grading.answers import AnswerMatcher
from main import main
from program_search.comparison import Budget, compare
from program_search.search import SearchOptions
from tests.test_cli import TINY  # the HTL quickstart's tiny settings fit this recipe too

RECIPE = str(Path(__file__).resolve().parents[1] / "configs" / "cogex" / "quickstart.yaml")


@pytest.mark.slow
def test_fit_then_search_and_apply_programs(tmp_path: Path) -> None:
    settings = [item for pair in TINY.items() for item in pair]
    cli = main(["fit", "--config", RECIPE, *settings, "--trainer.default_root_dir", str(tmp_path)])
    logged = cli.trainer.logged_metrics
    assert {"train/loss", "val/loss", "val/emulation_acc", "val/parse_failure_rate"} <= set(logged)
    assert (
        cli.trainer.global_step == 4
        and torch.isfinite(logged["val/loss"])
        and 0 <= float(logged["val/emulation_acc"]) <= 1
    )
    task = cli.datamodule.val_examples[0].sample.dataset
    assert f"val/{task}/emulation_acc" in logged
    last = Path(cli.trainer.log_dir) / "checkpoints" / "last.ckpt"
    assert last.is_file()

    out = tmp_path / "programs"
    small = ["--per_task", "4", "--search_size", "2", "--max_retries", "0", "--device", "cpu"]
    tokens = ["--program_tokens", "16", "--emulation_tokens", "8"]
    args = ["search", "--ckpt_path", str(last), *small, *tokens, "--out", str(out)]
    assert command_line(args) == 0
    files = sorted(out.glob("*.json"))
    assert len(files) == 10  # one per held-out task, whatever the untrained model wrote
    assert {"task", "programs", "emulations", "search_wall_s"} <= set(
        json.loads(files[0].read_text())
    )

    program = {"program": "def f(text):\n    return {'answer': g(text)}", "function": "f"}
    (tmp_path / "f.json").write_text(json.dumps({"task": "t", "programs": [program]}))
    (tmp_path / "new.jsonl").write_text(
        '{"instruction": "Do it.", "input": "a b", "answer": "2"}\n'
    )
    predictions = tmp_path / "predictions.jsonl"
    apply = ["apply", "--ckpt_path", str(last), "--programs", str(tmp_path / "f.json")]
    apply += ["--examples", str(tmp_path / "new.jsonl"), "--out", str(predictions)]
    assert command_line([*apply, "--emulation_tokens", "8", "--device", "cpu"]) == 0
    (record,) = map(json.loads, predictions.read_text().splitlines())
    assert record["id"] == "new-1" and record["gold"] == "2" and record["correct"] in (True, False)
    assert (
        command_line(
            [
                "apply",
                "--ckpt_path",
                str(last),
                "--programs",
                "missing.json",
                "--examples",
                str(tmp_path / "new.jsonl"),
            ]
        )
        == 1
    )

    model = Namespace(ckpt_path=last, config=None, device="cpu", batch_size=8)
    generate, format = model_from_checkpoint(model)
    tasks = dict(list(embedded_task_examples(per_task=6).items())[:2])
    budget = Budget(test_size=2, program_tokens=16, emulation_tokens=8, answer_tokens=4)
    options = SearchOptions(search_size=2, max_retries=0)
    summary, _ = compare(tasks, generate, format, options, budget, AnswerMatcher())
    assert summary["tasks"] == 2 and all(0 <= summary[k] <= 1 for k in ("zero_shot", "cotacs_k3"))

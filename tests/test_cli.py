"""End to end through the real CLI: fit a tiny model, resume it, export it."""

from __future__ import annotations

import json
from pathlib import Path

import lightning as L
import pytest
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from export import export
from main import main

RECIPE = str(Path(__file__).resolve().parents[1] / "configs" / "quickstart.yaml")


class StepRecorder(L.Callback):
    """Remembers the optimizer step at every training batch, to see where a run (re)started."""

    def __init__(self) -> None:
        self.steps: list[int] = []

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:
        self.steps.append(trainer.global_step)


TINY = {  # a 1-layer model on 200 problems: the whole pipeline in seconds
    "--trainer.max_steps": "4",
    "--trainer.max_time": "null",
    "--trainer.val_check_interval": "2",
    "--trainer.log_every_n_steps": "1",
    "--model.init_args.network.model_config.hidden_size": "32",
    "--model.init_args.network.model_config.intermediate_size": "64",
    "--model.init_args.network.model_config.num_hidden_layers": "1",
    "--model.init_args.evaluation.generation.max_new_tokens": "24",
    "--data.train.init_args.count": "200",
    "--data.val.init_args.count": "8",
    "--data.vocab_size": "400",
    "--data.batch_size": "4",
    "--data.eval_batch_size": "8",
}


def tiny_run(root: Path, *extra: str, subcommand: str = "fit") -> list[str]:
    settings = [item for pair in TINY.items() for item in pair]
    return [
        subcommand,
        "--config",
        RECIPE,
        *settings,
        "--trainer.default_root_dir",  # moves everything: events, checkpoints, config.yaml
        str(root),
        "--trainer.callbacks+=tests.test_cli.StepRecorder",
        *extra,
    ]


def recorder(cli) -> StepRecorder:
    return next(c for c in cli.trainer.callbacks if isinstance(c, StepRecorder))


def predict(root: Path, checkpoint: Path, *extra: str) -> list[dict]:
    """The records of a tiny ``predict`` run from ``checkpoint``."""
    predictions = root / "predictions.jsonl"
    predictions.unlink(missing_ok=True)
    main(
        tiny_run(
            root,
            *extra,
            "--ckpt_path",
            str(checkpoint),
            "--trainer.callbacks+=callbacks.prediction_writer.JsonlPredictionWriter",
            f"--trainer.callbacks.path={predictions}",
            subcommand="predict",
        )
    )
    return [json.loads(line) for line in predictions.read_text().splitlines()]


@pytest.mark.slow
def test_fit_resume_and_export(tmp_path: Path) -> None:
    cli = main(tiny_run(tmp_path))
    assert cli.trainer.global_step == 4
    assert recorder(cli).steps == [0, 1, 2, 3]
    logged = cli.trainer.logged_metrics
    assert {"train/loss", "val/exec_acc", "val/reasoning_acc", "val/loss"} <= set(logged)
    assert 0.0 <= float(logged["val/exec_acc"]) <= 1.0
    assert torch.isfinite(logged["train/loss"])
    run_dir = Path(cli.trainer.log_dir)
    assert run_dir.parent == tmp_path  # under --trainer.default_root_dir, not the recipe's runs/
    assert (run_dir / "config.yaml").is_file()  # the resolved recipe travels with the run
    assert list(run_dir.glob("events.out.tfevents.*"))
    last = run_dir / "checkpoints" / "last.ckpt"
    assert torch.load(last, weights_only=False)["global_step"] == 4  # saved after validating

    resumed = main(tiny_run(tmp_path, "--trainer.max_steps", "6", "--ckpt_path", str(last)))
    assert recorder(resumed).steps == [4, 5]  # continues at the saved step, not from zero
    assert resumed.trainer.global_step == 6
    # a fit that stops between validations (every 2 steps) still leaves its final weights
    stopped = main(tiny_run(tmp_path, "--trainer.max_steps", "7", "--ckpt_path", str(last)))
    final = Path(stopped.trainer.log_dir) / "checkpoints" / "last.ckpt"
    assert torch.load(final, weights_only=False)["global_step"] == 7

    records = predict(tmp_path, last)
    assert len(records) == 8
    assert {"id", "question", "gold", "generation", "correct", "program_answer"} <= set(records[0])

    folder = export(last, tmp_path / "hf")
    model = AutoModelForCausalLM.from_pretrained(folder)
    tokenizer = AutoTokenizer.from_pretrained(folder)
    assert model.get_input_embeddings().weight.shape[0] == len(tokenizer)
    assert "<Code>" in tokenizer.get_vocab()


def test_print_config_shows_the_resolved_recipe(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(
            [
                "fit",
                "--config",
                RECIPE,
                "--model.init_args.optimization.optimizer.init_args.lr",
                "1e-5",
                "--print_config",
            ]
        )
    assert exit_info.value.code == 0
    printed = capsys.readouterr().out
    assert "lr: 1.0e-05" in printed and "model_type: llama" in printed


def test_a_saved_config_reads_back_with_its_defaults(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Every value of the resolved recipe is written as settings (not an object's repr), so the
    run's saved config.yaml is itself a recipe: export.py and `--config <run>/config.yaml`."""
    recipe = str(Path(RECIPE).parent / "data" / "self_distill_smollm2.yaml")  # matcher unset
    with pytest.raises(SystemExit):
        main(["predict", "--config", recipe, "--print_config"])
    saved = tmp_path / "config.yaml"
    saved.write_text(capsys.readouterr().out)
    assert "Unable to serialize" not in saved.read_text()
    with pytest.raises(SystemExit) as exit_info:
        main(["predict", "--config", str(saved), "--print_config"])
    assert exit_info.value.code == 0
    assert "rel_tol: 0.0001" in capsys.readouterr().out


@pytest.mark.slow
def test_a_layered_recipe_not_the_checkpoint_decides_evaluation(tmp_path: Path) -> None:
    """``--ckpt_path`` brings weights; the recipe's decoding stands (Lightning's default would
    re-apply the checkpoint's saved hyper-parameters: one greedy sample per problem here)."""
    quick = ("--trainer.max_steps", "1", "--trainer.limit_val_batches", "0")
    fit = main(tiny_run(tmp_path, *quick))
    last = Path(fit.trainer.log_dir) / "checkpoints" / "last.ckpt"
    sampling = (
        *("--model.init_args.evaluation.generation.do_sample", "true"),
        *("--model.init_args.evaluation.generation.num_samples", "3"),
    )
    assert len(predict(tmp_path, last, *sampling)) == 8 * 3

    wider = ("--model.init_args.network.model_config.hidden_size", "48")
    with pytest.raises(ValueError, match=r"shape .*config\.yaml"):
        main(tiny_run(tmp_path, *wider, "--ckpt_path", str(last), subcommand="validate"))

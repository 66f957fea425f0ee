"""The PPO recipe end to end through the real CLI: the quickstart layered with PPO, 2 steps."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
import yaml

from main import main
from rl.rewards import RewardCase

CONFIGS = Path(__file__).resolve().parents[1] / "configs"
TINY = {  # a 1-layer model from scratch, 8 problems a batch: the whole loop in seconds
    "--trainer.max_steps": "2",
    "--trainer.max_time": "null",
    "--trainer.val_check_interval": "1",
    "--trainer.num_sanity_val_steps": "0",
    "--trainer.log_every_n_steps": "1",
    "--model.init_args.init_checkpoint": "null",
    "--model.init_args.network.model_config.hidden_size": "32",
    "--model.init_args.network.model_config.intermediate_size": "64",
    "--model.init_args.network.model_config.num_hidden_layers": "1",
    "--model.init_args.evaluation.generation.max_new_tokens": "24",
    "--model.init_args.rollout.max_new_tokens": "24",
    "--model.init_args.ppo.advantage": "gae",  # the value head's losses are logged too
    "--model.init_args.rollout.num_samples": "1",
    "--model.init_args.ppo.epochs": "1",
    "--model.init_args.ppo.minibatch_size": "4",
    "--data.init_args.train.init_args.count": "200",
    "--data.init_args.val.init_args.count": "4",
    "--data.init_args.vocab_size": "400",
    "--data.init_args.batch_size": "8",
    "--data.init_args.eval_batch_size": "4",
}


@pytest.mark.slow
def test_ppo_recipe_fits_two_steps_and_logs_what_ppo_needs(tmp_path: Path) -> None:
    settings = [item for pair in TINY.items() for item in pair]
    cli = main(
        [
            "fit",
            "--config",
            str(CONFIGS / "quickstart.yaml"),
            "--config",
            str(CONFIGS / "quickstart_ppo.yaml"),
            *settings,
            "--trainer.default_root_dir",
            str(tmp_path),
        ]
    )
    assert cli.trainer.global_step == 2  # one rollout batch of 8: 2 minibatches of 4
    logged = cli.trainer.logged_metrics
    expected = {
        "reward/mean",
        "reward/std",
        "reward/no_answer",
        "reward/both_correct",
        "ppo/kl",
        "ppo/kl_coef",
        "ppo/clip_fraction",
        "ppo/value_loss",
        "ppo/entropy",
        "rollout/response_length",
        "rollout/execution_error_rate",
        "val/exec_acc",
    }
    assert expected <= set(logged), expected - set(logged)
    assert -1.0 <= float(logged["reward/mean"]) <= 1.0
    assert all(torch.isfinite(torch.as_tensor(logged[name])) for name in expected)
    cases = sum(float(logged[f"reward/{case.value}"]) for case in RewardCase)
    assert cases == 8  # every rollout of the batch falls in exactly one case
    checkpoint = torch.load(
        Path(cli.trainer.log_dir) / "checkpoints" / "last.ckpt", weights_only=False
    )
    assert "kl_controller" in checkpoint


def test_the_rl_headroom_recipe_starts_from_a_checkpoint_the_quickstart_keeps() -> None:
    quickstart = yaml.safe_load((CONFIGS / "quickstart.yaml").read_text())
    headroom = yaml.safe_load((CONFIGS / "quickstart_rl.yaml").read_text())
    start = Path(headroom["model"]["init_args"]["init_checkpoint"])
    step = int(start.stem.removeprefix("step"))
    kept = [
        callback["init_args"]
        for callback in quickstart["trainer"]["callbacks"]
        if callback.get("init_args", {}).get("filename") == "step{step}"
    ]
    assert len(kept) == 1 and kept[0]["save_top_k"] == -1
    assert not kept[0]["auto_insert_metric_name"]  # "step500.ckpt", not "step=500.ckpt"
    assert step % kept[0]["every_n_train_steps"] == 0 and step < quickstart["trainer"]["max_steps"]
    root = quickstart["trainer"]["default_root_dir"]
    assert start == Path(root) / "version_0" / "checkpoints" / f"step{step}.ckpt"

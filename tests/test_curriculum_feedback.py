"""The curriculum fed by RL: group outcomes reach the sampler, and a PPO fit wires it end to end."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest
import torch

from callbacks.curriculum import CurriculumFeedback
from datamodules.pipeline.curriculum import MixedGroupCurriculum
from main import main
from rl.filters import mixed_groups
from tests.test_ppo_cli import CONFIGS, TINY


class LogRecorder:
    def __init__(self) -> None:
        self.logged: dict[str, float] = {}

    def log(self, name: str, value: float, **_: object) -> None:
        self.logged[name] = value


def test_mixed_groups_marks_prompts_whose_samples_scored_differently():
    scores = torch.tensor([1.0, 1.0, 0.0, 1.0, -1.0, -1.0])
    assert mixed_groups(scores, 2).tolist() == [False, True, False]
    assert mixed_groups(scores, 3).tolist() == [True, True]


def test_feedback_moves_the_rates_and_logs_the_chances():
    curriculum = MixedGroupCurriculum(["gsm8k", "synthetic"], floor=0.0, decay=0.5)
    trainer = SimpleNamespace(datamodule=SimpleNamespace(curriculum=curriculum))
    module = LogRecorder()
    outputs = {"groups": [("gsm8k", False), ("gsm8k", False), ("synthetic", True)]}
    CurriculumFeedback().on_train_batch_end(trainer, module, outputs, batch=None, batch_idx=0)
    assert curriculum.rates == {"gsm8k": 0.25, "synthetic": 1.0}
    assert module.logged["curriculum/p/gsm8k"] == pytest.approx(0.2)
    assert module.logged["curriculum/mixed/synthetic"] == 1.0


def test_feedback_without_a_curriculum_says_which_setting_is_missing():
    trainer = SimpleNamespace(datamodule=SimpleNamespace())
    with pytest.raises(ValueError, match="curriculum_floor"):
        CurriculumFeedback().setup(trainer, LogRecorder(), "fit")


@pytest.mark.slow
def test_grpo_fit_feeds_the_curriculum_and_checkpoints_it(tmp_path: Path) -> None:
    settings = {
        **TINY,
        "--model.init_args.ppo.advantage": "grpo",
        "--model.init_args.rollout.num_samples": "2",
        "--data.init_args.batch_size": "4",  # 4 prompts x 2 samples: 2 minibatches of 4
        "--data.init_args.curriculum_floor": "0.2",
        "--trainer.callbacks+=callbacks.curriculum.CurriculumFeedback": None,
    }
    arguments = [part for key, value in settings.items() for part in (key, value) if part]
    cli = main(
        [
            "fit",
            "--config", str(CONFIGS / "quickstart.yaml"),
            "--config", str(CONFIGS / "quickstart_ppo.yaml"),
            *arguments,
            "--trainer.default_root_dir", str(tmp_path),
        ]
    )  # fmt: skip
    source = "synthetic-0"  # the quickstart's training problems: one source
    assert float(cli.trainer.logged_metrics[f"curriculum/p/{source}"]) == pytest.approx(1.0)
    rate = float(cli.trainer.logged_metrics[f"curriculum/mixed/{source}"])
    assert cli.datamodule.curriculum.rates[source] == pytest.approx(rate)
    checkpoint = torch.load(
        Path(cli.trainer.log_dir) / "checkpoints" / "last.ckpt", weights_only=False
    )
    saved = checkpoint["PromptDataModule"]["curriculum"]
    assert saved["rates"][source] == pytest.approx(rate)

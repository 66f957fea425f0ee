"""The streaming recipe through the real CLI: SFT on packed rows streamed from jsonl files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from datamodules.generators.synthetic import generate_problems
from datamodules.pipeline.streaming import COUNTED, SampleStream
from main import main
from tests.test_streaming import record

CONFIGS = Path(__file__).resolve().parents[1] / "configs"


@pytest.mark.slow
def test_streaming_recipe_trains_a_tiny_model_on_packed_rows(tmp_path: Path) -> None:
    for shard in range(2):
        samples = generate_problems(seed=20 + shard, count=100)
        lines = [json.dumps(record(sample)) + "\n" for sample in samples]
        (tmp_path / f"train-{shard}.jsonl").write_text("".join(lines))
    cli = main(
        [
            "fit",
            "--config",
            str(CONFIGS / "quickstart.yaml"),
            "--config",
            str(CONFIGS / "streaming" / "jsonl.yaml"),
            "--data.train.init_args.files",
            str(tmp_path / "train-*.jsonl"),
            "--data.train.init_args.shuffle_buffer",
            "64",
            "--trainer.max_steps",
            "3",
            "--trainer.max_time",
            "null",
            "--trainer.limit_val_batches",
            "0",
            "--trainer.log_every_n_steps",
            "1",
            "--trainer.default_root_dir",
            str(tmp_path),
            "--model.init_args.network.model_config.num_hidden_layers",
            "1",
            "--data.vocab_size",
            "400",
            "--data.batch_size",
            "2",
        ]
    )
    assert isinstance(cli.datamodule.train_source, SampleStream)
    assert cli.trainer.global_step == 3
    assert torch.isfinite(cli.trainer.logged_metrics["train/loss"])
    progress = cli.datamodule.train_stream.progress
    assert sum(cursor.batches for cursor in progress.cursors.values()) == 3  # one packed chunk
    logged = cli.trainer.logged_metrics  # the epoch's counts, as the map path names them
    assert {name: int(logged[f"data/{name}"]) for name in COUNTED} == progress.totals()

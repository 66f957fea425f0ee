"""A Lightning fit stopped mid-epoch and resumed from its checkpoint trains every streamed record
exactly once per epoch, with Lightning's prefetching and an early ``estimated_stepping_batches``
(which loads the training data before the checkpoint is restored) in the way."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import lightning as L
import pytest
import torch
from lightning.pytorch.callbacks import ModelCheckpoint

from datamodules.generators.synthetic import generate_problems
from datamodules.pipeline.streaming import SampleStream
from datamodules.sft import SFTDataModule
from datamodules.sources.synthetic import SyntheticProblems
from tests.test_streaming import FORMAT, MAX_LENGTH, expected_rows, rows_of, write_shards


class Recorder(L.LightningModule):
    """Trains nothing; remembers which sequences each epoch's training steps received."""

    def __init__(self) -> None:
        super().__init__()
        self.weight = torch.nn.Parameter(torch.zeros(1))
        self.rows: list[tuple[int, tuple[int, ...]]] = []

    def training_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> torch.Tensor:
        assert "stream_cursor" not in batch  # the datamodule took it
        self.rows += [(self.current_epoch, row) for row in rows_of(batch)]
        return self.weight.sum() * 0.0 + batch["input_ids"].float().mean() * self.weight.sum()

    def configure_optimizers(self) -> torch.optim.Optimizer:
        assert self.trainer.estimated_stepping_batches > 0  # as SFTModule's scheduler asks
        return torch.optim.SGD(self.parameters(), lr=0.0)


def fit(data: SFTDataModule, root: Path, max_steps: int, ckpt_path: str | None = None) -> Recorder:
    module = Recorder()
    trainer = L.Trainer(
        max_epochs=2,
        max_steps=max_steps,
        accelerator="cpu",
        logger=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        default_root_dir=root,
        callbacks=[ModelCheckpoint(dirpath=root, every_n_train_steps=5, save_top_k=-1)],
    )
    trainer.fit(module, datamodule=data, ckpt_path=ckpt_path)
    return module


@pytest.mark.slow
def test_resumed_fit_sees_every_record_once_per_epoch(tmp_path: Path, tokenizer) -> None:
    samples = list(generate_problems(seed=13, count=60))
    pattern = write_shards(tmp_path, samples, 3)

    def data() -> SFTDataModule:
        module = SFTDataModule(
            train=SampleStream(files=pattern, shuffle_buffer=16, seed=3),
            val=SyntheticProblems(seed=1, count=4),
            format=FORMAT,
            max_length=MAX_LENGTH,
            batch_size=4,
            num_workers=2,
        )
        module.tokenizer = tokenizer  # the shared test tokenizer instead of training one
        return module

    first = fit(data(), tmp_path, max_steps=5)
    (checkpoint,) = tmp_path.glob("*step=5.ckpt")
    second = fit(data(), tmp_path, max_steps=1000, ckpt_path=str(checkpoint))  # 2 epochs first
    expected = expected_rows(samples, tokenizer)
    epoch0 = Counter(row for epoch, row in first.rows + second.rows if epoch == 0)
    epoch1 = Counter(row for epoch, row in second.rows if epoch == 1)
    assert len(first.rows) > 0 and epoch0 == expected
    assert epoch1 == expected

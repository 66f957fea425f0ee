"""MaskCoverage: its schedules, and what a real Trainer sees (accumulation, validation, resume)."""

from __future__ import annotations

import csv
from pathlib import Path

import lightning.pytorch as pl
import pytest
import torch
from jsonargparse import ArgumentParser
from lightning.pytorch.callbacks import ModelCheckpoint
from lightning.pytorch.loggers import CSVLogger
from torch.utils.data import DataLoader, IterableDataset, TensorDataset

from callbacks.mask_coverage import MaskCoverage
from checks import InputError
from lightning_modules.focus_attention import FocusAttentionMixin

BATCHES_PER_EPOCH, ACCUMULATE = 8, 2
STEPS_PER_EPOCH = BATCHES_PER_EPOCH // ACCUMULATE


class Recorder(FocusAttentionMixin, pl.LightningModule):
    """A BoringModel with the mixin that records the coverage each hook sees."""

    def __init__(self) -> None:
        super().__init__()
        self.layer = torch.nn.Linear(4, 1)
        self.train_seen: list[tuple[int, float]] = []
        self.val_seen: list[tuple[int, float, bool]] = []

    def training_step(self, batch: list[torch.Tensor], batch_idx: int) -> torch.Tensor:
        self.train_seen.append((self.global_step, self.focus_coverage))
        return self.layer(batch[0]).pow(2).mean()

    def validation_step(self, batch: list[torch.Tensor], batch_idx: int) -> None:
        self.val_seen.append((self.global_step, self.focus_coverage, self.training))

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return torch.optim.SGD(self.parameters(), lr=0.01)

    def train_dataloader(self) -> DataLoader:
        return DataLoader(TensorDataset(torch.randn(2 * BATCHES_PER_EPOCH, 4)), batch_size=2)

    def val_dataloader(self) -> DataLoader:
        return DataLoader(TensorDataset(torch.randn(4, 4)), batch_size=2)


def trainer(
    tmp_path: Path, callback: MaskCoverage, epochs: int = 2, **options: object
) -> pl.Trainer:
    return pl.Trainer(
        default_root_dir=tmp_path,
        max_epochs=epochs,
        accumulate_grad_batches=ACCUMULATE,
        val_check_interval=4,
        log_every_n_steps=1,
        callbacks=[callback, *options.pop("callbacks", [])],
        logger=CSVLogger(tmp_path),
        enable_progress_bar=False,
        enable_model_summary=False,
        **options,
    )


def test_quadratic_schedule_is_dense_at_both_ends_and_full_in_the_middle() -> None:
    schedule = MaskCoverage()
    assert [schedule.coverage_at(p) for p in (0.0, 0.05, 0.1, 0.9, 0.95, 1.0)] == [0.0] * 6
    assert [schedule.coverage_at(p) for p in (0.24, 0.5, 0.76)] == [1.0] * 3
    assert schedule.coverage_at(0.2) == pytest.approx(-11 * 0.09 + 1.76)
    assert schedule.coverage_at(0.8) == pytest.approx(-11 * 0.09 + 1.76)


def test_other_schedules() -> None:
    assert MaskCoverage("constant", value=0.3).coverage_at(0.9) == 0.3
    assert MaskCoverage("linear", value=0.8).coverage_at(0.5) == pytest.approx(0.4)
    assert MaskCoverage("none").coverage_at(0.5) == 0.0
    assert MaskCoverage(a=-4.0, b=1.0).coverage_at(0.25) == pytest.approx(0.75)
    with pytest.raises(ValueError, match="schedule"):
        MaskCoverage("cosine")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="value"):
        MaskCoverage("constant", value=1.5)


def test_built_from_plain_config_values() -> None:
    parser = ArgumentParser()
    parser.add_class_arguments(MaskCoverage, "coverage")
    config = parser.parse_args(["--coverage.schedule=linear", "--coverage.value=0.5"])
    callback = parser.instantiate(config).coverage
    assert isinstance(callback, MaskCoverage) and callback.coverage_at(1.0) == 0.5


def test_coverage_follows_optimizer_steps_and_is_logged_every_step(tmp_path: Path) -> None:
    module, callback = Recorder(), MaskCoverage("linear")
    trainer(tmp_path, callback).fit(module)
    total = 2 * STEPS_PER_EPOCH
    assert callback.total_steps == total
    # Two micro-batches per optimizer step see the same c; validation never moves it.
    steps = [i // ACCUMULATE for i in range(2 * BATCHES_PER_EPOCH)]
    assert [step for step, _ in module.train_seen] == steps
    assert [coverage for _, coverage in module.train_seen] == pytest.approx(
        [step / total for step in steps]
    )
    assert module.val_seen and all(not training for _, _, training in module.val_seen)
    with open(Path(module.logger.log_dir) / "metrics.csv") as file:
        logged = {
            int(row["step"]): float(row["focus/coverage"])
            for row in csv.DictReader(file)
            if row["focus/coverage"]
        }
    assert logged == pytest.approx({step: step / total for step in range(total)})


@pytest.mark.filterwarnings("ignore:The dirpath has changed")  # each run checkpoints apart
def test_resumed_run_continues_at_the_same_coverage(tmp_path: Path) -> None:
    def fit(module: Recorder, name: str, **options: object) -> None:
        every_epoch = ModelCheckpoint(
            tmp_path / name, every_n_train_steps=STEPS_PER_EPOCH, save_top_k=-1
        )
        run = trainer(tmp_path, MaskCoverage("linear"), callbacks=[every_epoch], **options)
        run.fit(module, ckpt_path=checkpoint if name != "first" else None)

    checkpoint = tmp_path / "first" / f"epoch=0-step={STEPS_PER_EPOCH}.ckpt"
    first = Recorder()
    fit(first, "first")
    state = torch.load(checkpoint, weights_only=False)["callbacks"]
    assert [s for key, s in state.items() if key.startswith("MaskCoverage")] == [{"total_steps": 8}]

    resumed = Recorder()
    fit(resumed, "resumed")
    assert resumed.train_seen == first.train_seen[BATCHES_PER_EPOCH:]

    # A longer run resumed from it keeps the checkpoint's schedule length, and says so.
    longer = Recorder()
    with pytest.warns(UserWarning, match="schedule length"):
        fit(longer, "longer", epochs=4)
    assert longer.train_seen[:BATCHES_PER_EPOCH] == first.train_seen[BATCHES_PER_EPOCH:]
    assert longer.train_seen[-1] == (15, 1.0)


def test_a_new_fit_measures_its_own_length(tmp_path: Path) -> None:
    callback = MaskCoverage("linear")
    trainer(tmp_path, callback).fit(Recorder())
    again = Recorder()
    trainer(tmp_path, callback, epochs=4).fit(again)
    assert callback.total_steps == 4 * STEPS_PER_EPOCH
    assert again.train_seen[-1] == (15, 15 / 16)


def test_refuses_a_module_without_the_mixin(tmp_path: Path) -> None:
    class Plain(pl.LightningModule):
        pass

    with pytest.raises(InputError, match="FocusAttentionMixin"):
        MaskCoverage().on_fit_start(trainer(tmp_path, MaskCoverage()), Plain())


def test_refuses_at_fit_start_a_model_attention_that_cannot_take_the_mask(
    tmp_path: Path, tiny_llama
) -> None:
    module = Recorder()
    module.model = tiny_llama(16, hidden_size=8, intermediate_size=16)
    module.model.config._attn_implementation = "flash_attention_2"
    with pytest.raises(ValueError, match="attn_implementation"):
        trainer(tmp_path, MaskCoverage()).fit(module)
    trainer(tmp_path, MaskCoverage("none"), max_steps=1).fit(module)  # dense: nothing to refuse


def test_progress_schedule_needs_a_known_length(tmp_path: Path) -> None:
    class Endless(IterableDataset):
        def __iter__(self):
            while True:
                yield torch.randn(4)

    module = Recorder()
    module.train_dataloader = lambda: DataLoader(Endless(), batch_size=2)  # type: ignore[method-assign]
    with pytest.raises(ValueError, match="max_steps"):
        trainer(tmp_path, MaskCoverage(), limit_val_batches=0).fit(module)
    trainer(tmp_path, MaskCoverage(), limit_val_batches=0, max_steps=3).fit(module)
    assert len(module.train_seen) == 3 * ACCUMULATE

"""The SFT datamodule: held-out problems never train, long sequences are counted, loaders batch."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from datamodules.formats import HTLFormat
from datamodules.pipeline.encoding import IGNORE_INDEX
from datamodules.sample import Sample
from datamodules.sft import SFTDataModule
from datamodules.sources.base import SampleSource
from datamodules.sources.files import SampleFile
from datamodules.sources.synthetic import SyntheticProblems


def make(**overrides) -> SFTDataModule:
    settings = dict(
        train=SyntheticProblems(seed=0, count=300),
        val=SyntheticProblems(seed=1, count=40),
        format=HTLFormat(insert_ratio=0.3),
        vocab_size=400,
        batch_size=8,
        eval_batch_size=16,
    )
    return SFTDataModule(**(settings | overrides))


def test_held_out_questions_are_removed_from_training(tmp_path: Path) -> None:
    held_out = list(SyntheticProblems(seed=1, count=40))
    overlapping = tmp_path / "train.jsonl"
    with overlapping.open("w") as out:
        for sample in [*SyntheticProblems(seed=0, count=30), *held_out[:5]]:
            record = {
                "id": sample.id + "x",
                "question": sample.question,
                "answer": sample.answer,
                "blocks": [{"kind": b.kind, "content": b.content} for b in sample.blocks],
            }
            out.write(json.dumps(record) + "\n")
    data = make(train=SampleFile(overlapping), format=HTLFormat(insert_ratio=0.0))
    data.setup("fit")
    assert data.stats["train/removed_held_out_overlap"] == 5
    assert len(data.train_sequences) == 30
    train_text = {data.tokenizer.decode(s.input_ids) for s in data.train_sequences}
    assert not any(sample.question in text for sample in held_out for text in train_text)


@pytest.mark.parametrize("policy", ["drop", "truncate"])
def test_overlong_policy_is_applied_and_counted(policy: str) -> None:
    data = make(max_length=120, overlong=policy)
    data.setup("fit")
    key = f"train/{'dropped' if policy == 'drop' else 'truncated'}_overlong"
    assert data.stats[key] > 0
    assert all(len(sequence) <= 120 for sequence in data.train_sequences)
    rendered = sum(len(HTLFormat(insert_ratio=0.3).render(s)) for s in data.train_samples)
    expected = rendered - data.stats[key] if policy == "drop" else rendered
    assert len(data.train_sequences) == expected


def test_loaders_produce_training_and_generation_batches() -> None:
    data = make()
    data.setup("fit")
    batch = next(iter(data.train_dataloader()))
    assert batch["input_ids"].shape[0] == 8
    assert (batch["labels"] != IGNORE_INDEX).any() and batch["focus_queries"].any()
    val = next(iter(data.val_dataloader()))
    assert val["prompt_input_ids"].shape[0] == 16 and len(val["problems"]) == 16
    assert (val["prompt_input_ids"][:, -1] == data.tokenizer.convert_tokens_to_ids("<text>")).all()
    assert "labels" in val  # synthetic problems carry solutions: validation loss is computed


def test_test_and_predict_default_to_held_out_problems() -> None:
    data = make()
    data.setup("test")
    data.setup("predict")
    assert [e.sample.id for e in data.test_examples] == [e.sample.id for e in data.predict_examples]
    assert len(data.test_examples) == 40


def test_problems_without_solutions_are_generated_but_not_scored_for_loss() -> None:
    questions = [Sample(f"q{i}", "bench", f"What is {i} + 1?", (), str(i + 1)) for i in range(3)]
    data = make(test=ListSource(questions))
    data.setup("test")
    batch = next(iter(data.test_dataloader()))
    answers = [problem.answer for problem in batch["problems"]]
    assert answers == ["1", "2", "3"] and "labels" not in batch


class ListSource(SampleSource):
    def __init__(self, samples: list[Sample]) -> None:
        self.samples = samples

    def __iter__(self):
        return iter(self.samples)


def padding_share(loader) -> float:
    """Padding tokens over all token slots, across an epoch of training batches."""
    slots = real = 0
    for batch in loader:
        slots += batch["attention_mask"].numel()
        real += int(batch["attention_mask"].sum())
    return 1 - real / slots


def test_packing_and_length_grouping_cut_padding() -> None:
    plain, packed, grouped = make(), make(packing=True), make(group_by_length=True)
    for data in (plain, packed, grouped):
        data.setup("fit")
    packed_batch = next(iter(packed.train_dataloader()))
    assert packed_batch["segment_ids"].max() > 1  # several samples share a row
    assert sum(len(row) for row in packed.train_rows) == len(packed.train_sequences)
    shares = [padding_share(d.train_dataloader()) for d in (plain, grouped, packed)]
    assert shares[0] > 3 * shares[1] and shares[0] > 3 * shares[2], shares
    with pytest.raises(ValueError, match="one of packing and group_by_length"):
        make(packing=True, group_by_length=True)


def test_the_problems_travel_with_the_batch_to_the_device() -> None:
    """Lightning's device transfer refuses frozen dataclasses; the batch's Problems pass as is."""
    from lightning.fabric.utilities.apply_func import move_data_to_device

    data = make()
    data.setup("validate")
    batch = next(iter(data.val_dataloader()))
    moved = move_data_to_device(batch, torch.device("cpu"))
    assert moved["problems"] is batch["problems"]
    assert [p.id for p in moved["problems"]] == [e.sample.id for e in data.val_examples[:16]]

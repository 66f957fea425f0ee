"""Packing and length grouping: nothing lost or repeated, and a packed row computes each of its
samples exactly as if it were alone (tiny Llama, fp32), with and without focus masking."""

from __future__ import annotations

import random

import pytest
import torch
from torch.utils.data import SequentialSampler

from datamodules.pipeline.encoding import IGNORE_INDEX, EncodedSequence, collate_training
from datamodules.pipeline.packing import (
    LengthGroupedBatchSampler,
    collate_packed,
    length_grouped_batches,
    pack_sequences,
)
from lightning_modules.focus_attention import sink_positions
from tests.test_focus_attention import VOCAB, Focused, tiny_model


def htl_sequence(prompt: int, reasoning: int, program: int, seed: int) -> EncodedSequence:
    """An HTL-shaped sequence: BOS + prompt (focus keys), reasoning, program (focus queries)."""
    generator = torch.Generator().manual_seed(seed)
    length = 1 + prompt + reasoning + program
    ids = torch.randint(1, VOCAB, (length,), generator=generator).tolist()
    code = 1 + prompt + reasoning
    return EncodedSequence(
        ids,
        [IGNORE_INDEX] * (1 + prompt) + ids[1 + prompt :],
        [position >= code for position in range(length)],
        [0 < position <= prompt for position in range(length)],
    )


def lengths_sequences(lengths: list[int]) -> list[EncodedSequence]:
    return [htl_sequence(n - 3, 1, 1, seed) for seed, n in enumerate(lengths)]


def test_packing_keeps_every_sequence_once_within_the_row_length() -> None:
    rng = random.Random(0)
    sequences = lengths_sequences([rng.randint(5, 60) for _ in range(200)])
    rows = pack_sequences(sequences, max_length=64)
    packed = [id(sequence) for row in rows for sequence in row]
    assert sorted(packed) == sorted(id(sequence) for sequence in sequences)
    assert all(sum(len(s) for s in row) <= 64 for row in rows)
    lower_bound = -(-sum(len(s) for s in sequences) // 64)
    assert len(rows) <= lower_bound * 1.1 + 1  # best-fit decreasing packs nearly tight
    with pytest.raises(ValueError, match="exceeds max_length 64"):
        pack_sequences(lengths_sequences([65]), 64)


def test_packed_batch_carries_segments_and_restarting_positions() -> None:
    a, b, c = lengths_sequences([4, 3, 5])
    batch = collate_packed([(a, b), (c,)], pad_token_id=0)
    assert batch["segment_ids"].tolist() == [[1, 1, 1, 1, 2, 2, 2], [1, 1, 1, 1, 1, 0, 0]]
    assert batch["position_ids"].tolist() == [[0, 1, 2, 3, 0, 1, 2], [0, 1, 2, 3, 4, 0, 0]]
    assert batch["input_ids"][0].tolist() == a.input_ids + b.input_ids
    assert batch["attention_mask"].tolist() == [[1] * 7, [1] * 5 + [0, 0]]
    sinks = sink_positions(batch["attention_mask"], 2, batch["segment_ids"])
    assert sinks.nonzero().tolist() == [[0, 0], [0, 1], [0, 4], [0, 5], [1, 0], [1, 1]]


def forward(module: Focused, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
    output = module.model(
        input_ids=batch["input_ids"],
        attention_mask=module.focus_attention_mask(batch),
        position_ids=batch.get("position_ids"),
        labels=batch["labels"],
    )
    return output.logits, output.loss


@pytest.mark.parametrize("attention", ["sdpa", "eager"])
@pytest.mark.parametrize("coverage", [0.0, 1.0])
def test_a_packed_row_computes_each_sample_as_if_alone(attention: str, coverage: float) -> None:
    model = tiny_model()
    model.set_attn_implementation(attention)
    module = Focused(model, sinks=2, coverage=coverage).train()
    sequences = [htl_sequence(9, 4, 6, seed=1), htl_sequence(5, 3, 8, 2), htl_sequence(7, 2, 5, 3)]
    packed_logits, packed_loss = forward(module, collate_packed([tuple(sequences)], 0))
    start, weighted, tokens = 0, 0.0, 0
    for sequence in sequences:
        logits, loss = forward(module, collate_training([sequence], 0))
        stop = start + len(sequence)
        torch.testing.assert_close(packed_logits[0, start:stop], logits[0], atol=1e-5, rtol=1e-5)
        trained = sum(label != IGNORE_INDEX for label in sequence.labels[1:])
        weighted, tokens, start = weighted + loss * trained, tokens + trained, stop
    torch.testing.assert_close(packed_loss, weighted / tokens, atol=1e-5, rtol=1e-5)
    # Without the segments the samples would see each other: the check above can fail.
    naive = collate_packed([tuple(sequences)], 0)
    del naive["segment_ids"]
    leaked, _ = forward(Focused(model, sinks=2, coverage=0.0), naive)
    assert not torch.allclose(leaked[0, len(sequences[0]) :], packed_logits[0, len(sequences[0]) :])


def test_packed_rows_stay_block_diagonal_at_evaluation_and_with_padding() -> None:
    sequences = lengths_sequences([6, 5, 9])
    batch = collate_packed([(sequences[0], sequences[1]), (sequences[2],)], 0)
    module = Focused(tiny_model(), sinks=2, coverage=1.0).eval()
    mask = module.focus_attention_mask(batch)
    assert mask.shape == (2, 1, 11, 11)
    assert not mask[0, 0, 6:, :6].any() and mask[0, 0, 6:, 6:].any()  # 2nd sample: own keys only
    assert mask[1, 0].diagonal().all()  # padding rows see themselves: no NaN rows in SDPA
    logits, _ = forward(module, batch)
    assert torch.isfinite(logits).all()


def test_length_grouping_keeps_every_index_once_and_pads_less() -> None:
    rng = random.Random(1)
    lengths = [rng.randint(10, 300) for _ in range(640)]
    batches = length_grouped_batches(lengths, 32, random.Random(0))
    assert sorted(i for batch in batches for i in batch) == list(range(640))

    def padding(groups: list[list[int]]) -> int:
        return sum(
            max(lengths[i] for i in group) * len(group) - sum(lengths[i] for i in group)
            for group in groups
        )

    plain = [list(range(start, start + 32)) for start in range(0, 640, 32)]
    assert padding(batches) * 5 < padding(plain)
    sampler = LengthGroupedBatchSampler(
        SequentialSampler(lengths), 32, drop_last=False, lengths=lengths, group_batches=4
    )
    grouped = list(sampler)
    assert sorted(i for batch in grouped for i in batch) == list(range(640))
    assert len(grouped) == len(sampler) == 20 and padding(grouped) * 2 < padding(plain)

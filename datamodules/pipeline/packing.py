"""Less padding: rows of similar length (grouping) or several samples per row (packing).

A packed row keeps its samples apart: ``segment_ids`` (1, 2, ... per sample, 0 on padding) let
the focus-attention mixin build a block-diagonal causal mask, and ``position_ids`` restart at 0
for every sample, so each sample is computed exactly as if it were alone in its row.
"""

from __future__ import annotations

import bisect
import random
from collections.abc import Iterator, Sequence

import torch
from torch.utils.data import BatchSampler, Sampler

from datamodules.pipeline.encoding import EncodedSequence, collate_training

PackedRow = tuple[EncodedSequence, ...]
GROUP_BATCHES = 64  # batches' worth of sequences sorted (grouping) or packed together


def pack_sequences(sequences: Sequence[EncodedSequence], max_length: int) -> list[PackedRow]:
    """Best-fit decreasing: each sequence, longest first, goes to the fullest row it fits in.

    Deterministic (ties keep input order), so a replayed chunk packs into the same rows.
    """
    order = sorted(range(len(sequences)), key=lambda index: -len(sequences[index]))
    rows: list[list[EncodedSequence]] = []
    free: list[tuple[int, int]] = []  # (free tokens, row index), sorted
    for index in order:
        sequence = sequences[index]
        if len(sequence) > max_length:
            raise ValueError(
                f"a sequence of {len(sequence)} tokens exceeds max_length {max_length}"
            )
        slot = bisect.bisect_left(free, (len(sequence), -1))
        if slot < len(free):
            space, row = free.pop(slot)
        else:
            space, row = max_length, len(rows)
            rows.append([])
        rows[row].append(sequence)
        bisect.insort(free, (space - len(sequence), row))
    return [tuple(row) for row in rows]


def collate_packed(rows: Sequence[PackedRow], pad_token_id: int) -> dict[str, torch.Tensor]:
    """``collate_training`` of the concatenated rows, plus ``segment_ids`` and ``position_ids``."""
    joined = [_concatenate(row) for row in rows]
    batch = collate_training(joined, pad_token_id)
    segment_ids = torch.zeros_like(batch["input_ids"])
    position_ids = torch.zeros_like(batch["input_ids"])
    for row_index, row in enumerate(rows):
        start = 0
        for segment, sequence in enumerate(row, start=1):
            stop = start + len(sequence)
            segment_ids[row_index, start:stop] = segment
            position_ids[row_index, start:stop] = torch.arange(len(sequence))
            start = stop
    return batch | {"segment_ids": segment_ids, "position_ids": position_ids}


def _concatenate(row: PackedRow) -> EncodedSequence:
    return EncodedSequence(
        [token for sequence in row for token in sequence.input_ids],
        [label for sequence in row for label in sequence.labels],
        [flag for sequence in row for flag in sequence.focus_queries],
        [flag for sequence in row for flag in sequence.focus_keys],
    )


def length_grouped_batches(
    lengths: Sequence[int], batch_size: int, rng: random.Random
) -> list[list[int]]:
    """Indices sorted by length and cut into batches, in a shuffled batch order (so long and
    short batches alternate rather than follow the sort). The last batch may be smaller."""
    order = sorted(range(len(lengths)), key=lambda index: lengths[index])
    batches = [order[start : start + batch_size] for start in range(0, len(order), batch_size)]
    rng.shuffle(batches)
    return batches


class LengthGroupedBatchSampler(BatchSampler):
    """Batches of similar lengths for a map-style dataset.

    Takes ``batch_size * group_batches`` indices at a time from ``sampler`` (shuffled, and split
    across ranks when Lightning swaps in a ``DistributedSampler``) and groups those by length:
    the data order still changes every epoch, but a batch pads only to its own similar lengths.
    """

    def __init__(
        self,
        sampler: Sampler[int],
        batch_size: int,
        drop_last: bool,
        lengths: Sequence[int],
        group_batches: int = GROUP_BATCHES,
    ) -> None:
        super().__init__(sampler, batch_size, drop_last)
        self.lengths, self.group_batches = lengths, group_batches

    def __iter__(self) -> Iterator[list[int]]:
        indices = list(self.sampler)
        group = self.batch_size * self.group_batches
        for start in range(0, len(indices), group):
            members = indices[start : start + group]
            rng = random.Random(members[0])  # reproducible from the sampler's own order
            for batch in length_grouped_batches(
                [self.lengths[index] for index in members], self.batch_size, rng
            ):
                if len(batch) == self.batch_size or not self.drop_last:
                    yield [members[position] for position in batch]

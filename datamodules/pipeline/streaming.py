"""Training data streamed with Hugging Face ``datasets``: every record exactly once per epoch.

Records are read lazily (local jsonl / parquet files, or a hub dataset), shuffled by a seeded
buffer, split across ranks and then across each rank's dataloader workers with
``split_dataset_by_node`` (whole shards when their number divides the ranks x workers, else every
n-th record: either way each record goes to exactly one worker), and only then parsed, rendered and
tokenized, inside the workers.

Mid-epoch resume is exact, shuffle buffer included: a worker's stream is a pure function of
(seed, epoch, rank, worker), so a worker's position is a ``Cursor`` (the record and rendered
sequence where its current chunk began, and how many batches of that chunk were trained) and
resuming replays the stream up to it. Skipped records are read but not parsed or tokenized.
Every batch carries its cursor; the datamodule records it when the batch reaches the training step
(after Lightning's prefetching), so a checkpoint never counts a fetched-but-untrained batch.
"""

from __future__ import annotations

import glob
import itertools
import json
import random
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, NamedTuple

import torch
from datasets import IterableDataset, load_dataset
from datasets.distributed import split_dataset_by_node
from torch.utils.data import IterableDataset as TorchIterableDataset
from torch.utils.data import get_worker_info
from transformers import PreTrainedTokenizerBase

from checks import InputError, MissingInput
from datamodules.formats import SolutionFormat
from datamodules.pipeline.encoding import (
    EncodedSequence,
    LengthLimit,
    collate_training,
    encode_many,
)
from datamodules.pipeline.packing import (
    GROUP_BATCHES,
    collate_packed,
    length_grouped_batches,
    pack_sequences,
)
from datamodules.sample import Sample
from datamodules.sources.base import DataRecordError, JsonlSource, OnError, SampleSource, utf8_lines
from datamodules.sources.files import LCETrajectories, SampleFile

RecordType = Literal["samples", "lce"]
PARSERS: dict[str, type[JsonlSource]] = {"samples": SampleFile, "lce": LCETrajectories}
PARSE_BLOCK = 64  # records rendered and tokenized per tokenizer call
# What a pass leaves out or cuts, under the names the map-style path logs (``data/train/...``).
COUNTED = (
    "train/removed_held_out_overlap",
    "train/skipped_records",
    "train/dropped_overlong",
    "train/truncated_overlong",
)


class SampleStream(SampleSource):
    """Where streamed training records come from, and how they are shuffled.

    Args:
        files: local ``.jsonl`` / ``.parquet`` files or glob patterns; each file is one shard.
        hub: instead of files, a Hugging Face dataset id, streamed from the hub.
        split: the hub dataset's split.
        record_type: ``samples`` (this project's records) or ``lce`` (MathCoder rows).
        on_error: a malformed record stops the run naming file and line (``raise``), or is
            ``skip``-ped and counted.
        shuffle_buffer: records in the seeded shuffle buffer (0: file order).
        seed: shuffle seed; each epoch reshuffles shards and buffer from (seed, epoch).
        tokenizer_records: leading records a corpus tokenizer is trained on (no pretrained one).
    """

    def __init__(
        self,
        files: str | list[str] | None = None,
        hub: str | None = None,
        split: str = "train",
        record_type: RecordType = "samples",
        on_error: OnError = "raise",
        shuffle_buffer: int = 1000,
        seed: int = 0,
        tokenizer_records: int = 5000,
    ) -> None:
        if (files is None) == (hub is None):
            raise InputError("give exactly one of `files` and `hub` to stream from")
        if record_type not in PARSERS:
            raise InputError(f"record_type must be one of {tuple(PARSERS)}, got {record_type!r}")
        self.files = _expand(files) if files is not None else []
        self.hub, self.split = hub, split
        self.record_type, self.on_error = record_type, on_error
        self.shuffle_buffer, self.seed = shuffle_buffer, seed
        self.tokenizer_records = tokenizer_records

    def records(self, rank: int = 0, world_size: int = 1) -> IterableDataset:
        """This rank's share of the raw records ``{source, line, text}``, shuffled."""
        records = self._raw_records()
        if self.shuffle_buffer > 0:
            records = records.shuffle(seed=self.seed, buffer_size=self.shuffle_buffer)
        return split_dataset_by_node(records, rank, world_size)

    def _raw_records(self) -> IterableDataset:
        if self.hub is None:
            return IterableDataset.from_generator(_read_files, gen_kwargs={"paths": self.files})
        rows = load_dataset(self.hub, split=self.split, streaming=True)
        return rows.map(
            _hub_record,
            with_indices=True,
            fn_kwargs={"source": self.hub},
            remove_columns=list(rows.column_names or []),
        )

    def parser(self) -> RecordParser:
        return RecordParser(self.record_type, self.on_error)

    def __iter__(self) -> Iterator[Sample]:
        """All samples in file order, unshuffled (the tokenizer corpus reads the first few)."""
        parser = self.parser()
        for source, line, text in _raw(self._raw_records()):
            sample = parser.parse(source, line, text)
            self.skipped = parser.skipped
            if sample is not None:
                yield sample


def _raw(records: IterableDataset) -> Iterator[tuple[str, int, str]]:
    """(source, line, text) of each raw record, read in blocks."""
    for block in records.iter(batch_size=PARSE_BLOCK):
        yield from zip(block["source"], block["line"], block["text"])


def _expand(files: str | list[str]) -> list[str]:
    """Globs expanded and sorted (a stable shard order); a pattern matching nothing is an error."""
    paths = []
    for pattern in [files] if isinstance(files, str) else files:
        matches = sorted(glob.glob(str(Path(pattern).expanduser())))
        if not matches:
            raise MissingInput(f"data file not found: {pattern}")
        paths += matches
    return paths


def _read_files(paths: list[str]) -> Iterator[dict[str, Any]]:
    """Raw records with their origin; jsonl lines stay text until a worker parses its own."""
    for path in paths:
        if path.endswith(".parquet"):
            import pyarrow.parquet as pq

            for number, row in enumerate(pq.read_table(path).to_pylist(), start=1):
                yield {"source": path, "line": number, "text": json.dumps(row)}
            continue
        for number, text in utf8_lines(path):
            yield {"source": path, "line": number, "text": text}


def _hub_record(row: dict[str, Any], index: int, source: str) -> dict[str, Any]:
    return {"source": source, "line": index + 1, "text": json.dumps(row)}


@dataclass
class RecordParser:
    """Raw records to samples with the file sources' parsing (one parser per file, for its name)."""

    record_type: RecordType
    on_error: OnError
    skipped: int = 0
    _by_source: dict[str, JsonlSource] = field(default_factory=dict)

    def parse(self, source: str, line: int, text: str) -> Sample | None:
        if source not in self._by_source:
            self._by_source[source] = PARSERS[self.record_type](source, self.on_error)
        try:
            return self._by_source[source].parse_line(text, line)
        except DataRecordError:
            if self.on_error == "raise":
                raise
            self.skipped += 1
            return None


class Cursor(NamedTuple):
    """Where a worker's stream stands after a batch: its chunk began at (``record``, rendered
    sequence ``offset``) of the worker's stream, and ``batches`` of that chunk are done."""

    epoch: int
    worker: int
    record: int
    offset: int
    batches: int
    final: bool  # the worker's last batch of the epoch

    @property
    def position(self) -> tuple[int, int, int]:
        """How far into the epoch: later batches compare greater."""
        return self.record, self.offset, self.batches


@dataclass
class StreamProgress:
    """What training has consumed of the stream: the epoch, each worker's latest cursor, and what
    each worker has left out or cut so far this epoch (:data:`COUNTED`; a resumed epoch counts
    from where it resumed, since the records before a cursor are not parsed again)."""

    num_workers: int
    epoch: int = 0
    cursors: dict[int, Cursor] = field(default_factory=dict)
    counts: dict[int, dict[str, int]] = field(default_factory=dict)

    def start(self) -> tuple[int, dict[int, Cursor]]:
        """Where a new pass begins: here, or at the next epoch once every worker has finished."""
        if self.cursors and all(cursor.final for cursor in self.cursors.values()):
            return self.epoch + 1, {}
        return self.epoch, dict(self.cursors)

    def record(self, cursor: Cursor) -> None:
        """Counts a batch as trained; a batch that is not past its worker's last one means the
        stream repeats records (it started before a checkpoint's position was loaded)."""
        if cursor.epoch > self.epoch:
            self.epoch, self.cursors, self.counts = cursor.epoch, {}, {}
        last = self.cursors.get(cursor.worker)
        if cursor.epoch < self.epoch or (last is not None and cursor.position <= last.position):
            raise RuntimeError(
                f"worker {cursor.worker} of the training stream is back at epoch {cursor.epoch}, "
                f"position {cursor.position} (last trained: epoch {self.epoch}, "
                f"{last.position if last else 'none'}): the stream started "
                "before the checkpoint's position was loaded (strategies that restore checkpoints "
                "after setup, e.g. FSDP, cannot resume a stream mid-epoch)"
            )
        self.cursors[cursor.worker] = cursor

    def count(self, cursor: Cursor, counts: Mapping[str, int]) -> None:
        """Keeps the running counts that came with a worker's batch (its last batch's are final)."""
        self.counts[cursor.worker] = dict(counts)

    def totals(self) -> dict[str, int]:
        """This rank's counts, summed over its workers: every name of :data:`COUNTED`, zeros too
        (ranks sum them, so each must log the same names)."""
        return {name: sum(counts[name] for counts in self.counts.values()) for name in COUNTED}

    def state_dict(self) -> dict[str, Any]:
        return {
            "num_workers": self.num_workers,
            "epoch": self.epoch,
            "cursors": [list(cursor) for cursor in self.cursors.values()],
        }

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        if state["num_workers"] != self.num_workers:
            raise InputError(
                f"the checkpoint's stream position was saved with num_workers="
                f"{state['num_workers']}; resume with the same number (now {self.num_workers})"
            )
        self.epoch = state["epoch"]
        cursors = [Cursor(*fields) for fields in state["cursors"]]
        self.cursors = {cursor.worker: cursor for cursor in cursors}


@dataclass(frozen=True)
class Batching:
    """How a worker turns sequences into batches: plain, grouped by length, or packed."""

    batch_size: int
    max_length: int
    packing: bool = False
    group_by_length: bool = False

    @property
    def chunk(self) -> int:
        """Sequences arranged together: one batch, or a window that grouping / packing sorts."""
        return self.batch_size * (GROUP_BATCHES if self.packing or self.group_by_length else 1)

    def arrange(
        self, sequences: list[EncodedSequence], pad_token_id: int, rng: random.Random
    ) -> list[dict[str, torch.Tensor]]:
        """Collated batches of one chunk; deterministic given ``rng`` (replayed on resume)."""
        size = self.batch_size
        if self.packing:
            rows = pack_sequences(sequences, self.max_length)
            rng.shuffle(rows)
            return [
                collate_packed(rows[start : start + size], pad_token_id)
                for start in range(0, len(rows), size)
            ]
        if self.group_by_length:
            groups = length_grouped_batches([len(s) for s in sequences], size, rng)
            return [
                collate_training([sequences[i] for i in group], pad_token_id) for group in groups
            ]
        return [collate_training(sequences, pad_token_id)]


class TrainingStream(TorchIterableDataset):
    """One rank's training batches, produced in dataloader workers (or in the main process).

    Each worker takes its own part of ``records`` and resumes from its cursor in ``progress``
    (read when the dataloader starts its workers). Records whose question is held out are left
    out, malformed ones skipped (``on_error: skip``) and overlong sequences dropped or cut
    (``limit``), as in the map-style datamodule; each batch carries the worker's running counts of
    them (``stream_counts``, :data:`COUNTED`), which the datamodule sums over workers.
    """

    def __init__(
        self,
        records: IterableDataset,
        parser: RecordParser,
        format: SolutionFormat,
        tokenizer: PreTrainedTokenizerBase,
        batching: Batching,
        limit: LengthLimit,
        held_out: frozenset[str],
        progress: StreamProgress,
        seed: int = 0,
    ) -> None:
        self.records, self.parser, self.format, self.tokenizer = records, parser, format, tokenizer
        self.batching, self.limit, self.held_out = batching, limit, held_out
        self.progress, self.seed = progress, seed
        self.removed_held_out = 0

    def __iter__(self) -> Iterator[dict[str, Any]]:
        info = get_worker_info()
        worker, workers = (info.id, info.num_workers) if info is not None else (0, 1)
        if workers != self.progress.num_workers:
            raise ValueError(f"stream progress expects {self.progress.num_workers} workers")
        epoch, cursors = self.progress.start()
        mine = split_dataset_by_node(self.records, worker, workers) if workers > 1 else self.records
        mine.set_epoch(epoch)
        cursor = cursors.get(worker, Cursor(epoch, worker, 0, 0, 0, False))
        self.removed_held_out = self.parser.skipped = self.limit.dropped = self.limit.truncated = 0
        batches = self._batches(mine, epoch, worker, cursor)
        # Look one batch ahead, so the last batch of the epoch says so (and counts it all).
        previous = next(batches, None)
        for batch in batches:
            yield previous | {"stream_counts": self.counts()}
            previous = batch
        if previous is not None:
            previous["stream_cursor"] = previous["stream_cursor"]._replace(final=True)
            yield previous | {"stream_counts": self.counts()}

    def counts(self) -> dict[str, int]:
        """What this worker has left out or cut so far in this pass (:data:`COUNTED`)."""
        counted = (self.removed_held_out, self.parser.skipped, self.limit.dropped)
        return dict(zip(COUNTED, (*counted, self.limit.truncated)))

    def _batches(
        self, records: IterableDataset, epoch: int, worker: int, resume: Cursor
    ) -> Iterator[dict[str, Any]]:
        sequences = self._sequences(records, resume.record, resume.offset)
        while chunk := list(itertools.islice(sequences, self.batching.chunk)):
            (record, offset), _ = chunk[0]
            rng = random.Random(f"{self.seed}/{epoch}/{worker}/{record}/{offset}")
            arranged = self.batching.arrange(
                [sequence for _, sequence in chunk], self.tokenizer.pad_token_id, rng
            )
            done = resume.batches if (record, offset) == (resume.record, resume.offset) else 0
            for index in range(done, len(arranged)):
                cursor = Cursor(epoch, worker, record, offset, index + 1, False)
                yield arranged[index] | {"stream_cursor": cursor}

    def _sequences(
        self, records: IterableDataset, start_record: int, start_offset: int
    ) -> Iterator[tuple[tuple[int, int], EncodedSequence]]:
        """Fitted training sequences with their (record, rendered sequence) position."""
        numbered = itertools.islice(enumerate(_raw(records)), start_record, None)  # read only
        while block := list(itertools.islice(numbered, PARSE_BLOCK)):
            renderings = [
                (number, rendering)
                for number, (source, line, text) in block
                for rendering in self._render(source, line, text)
            ]
            encoded = encode_many([spans for _, spans in renderings], self.tokenizer)
            offsets: dict[int, int] = {}
            for (number, _), sequence in zip(renderings, encoded):
                offset = offsets[number] = offsets.get(number, -1) + 1
                if number == start_record and offset < start_offset:
                    continue
                fitted = self.limit.fit(sequence)
                if fitted is not None:
                    yield (number, offset), fitted

    def _render(self, source: str, line: int, text: str) -> list[Any]:
        sample = self.parser.parse(source, line, text)
        if sample is None:
            return []
        if sample.question in self.held_out:
            self.removed_held_out += 1
            return []
        return self.format.render(sample)


def gather_ranks(state: dict[str, Any]) -> list[dict[str, Any]]:
    """Every rank's stream state (checkpoints are written by rank 0 only, for all ranks)."""
    if not (torch.distributed.is_available() and torch.distributed.is_initialized()):
        return [state]
    states: list[Any] = [None] * torch.distributed.get_world_size()
    torch.distributed.all_gather_object(states, state)
    return states


def pick_rank(states: Sequence[dict[str, Any]], rank: int, world_size: int) -> dict[str, Any]:
    if len(states) != world_size:
        raise InputError(
            f"the checkpoint's stream position covers {len(states)} ranks; resume on the same "
            f"number of ranks (now {world_size})"
        )
    return states[rank]

"""Streaming: every record exactly once per epoch across ranks and workers, exact mid-epoch resume,
bad records named by file and line. Records are counted by their token ids, so a sequence seen
twice or never shows up as a difference of multisets."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Iterator
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from torch.utils.data import DataLoader

from datamodules.formats import HTLFormat
from datamodules.generators.synthetic import generate_problems
from datamodules.pipeline.encoding import LengthLimit, encode_many
from datamodules.pipeline.streaming import (
    Batching,
    SampleStream,
    StreamProgress,
    TrainingStream,
)
from datamodules.sample import Sample
from datamodules.sources.base import DataRecordError

FORMAT = HTLFormat(insert_ratio=0.5)  # many records render two sequences: offsets matter
MAX_LENGTH = 400


def record(sample: Sample) -> dict:
    blocks = [{"kind": block.kind, "content": block.content} for block in sample.blocks]
    fields = {"id": sample.id, "dataset": sample.dataset, "question": sample.question}
    return fields | {"answer": sample.answer, "blocks": blocks}


def write_shards(folder: Path, samples: list[Sample], shards: int) -> str:
    for shard in range(shards):
        with (folder / f"part{shard}.jsonl").open("w") as out:
            out.writelines(json.dumps(record(s)) + "\n" for s in samples[shard::shards])
    return str(folder / "part*.jsonl")


def expected_rows(samples: Iterable[Sample], tokenizer) -> Counter:
    """Every training sequence once (those over MAX_LENGTH are dropped, as the stream does)."""
    renderings = [spans for sample in samples for spans in FORMAT.render(sample)]
    encoded = encode_many(renderings, tokenizer)
    return Counter(tuple(s.input_ids) for s in encoded if len(s) <= MAX_LENGTH)


def rows_of(batch: dict) -> Iterator[tuple[int, ...]]:
    """Each sequence of a batch, cut out of its (padded or packed) row."""
    lengths = batch["attention_mask"].sum(1).tolist()
    segments = batch.get("segment_ids")
    for row, length in enumerate(lengths):
        ids = batch["input_ids"][row, :length]
        if segments is None:
            yield tuple(ids.tolist())
            continue
        for segment in segments[row, :length].unique().tolist():
            yield tuple(ids[segments[row, :length] == segment].tolist())


def stream(
    pattern: str,
    tokenizer,
    rank: int = 0,
    world_size: int = 1,
    workers: int = 2,
    progress: StreamProgress | None = None,
    max_length: int = MAX_LENGTH,
    **batching: bool,
) -> TrainingStream:
    source = SampleStream(files=pattern, shuffle_buffer=16, seed=7)
    return TrainingStream(
        source.records(rank, world_size),
        source.parser(),
        FORMAT,
        tokenizer,
        Batching(batch_size=4, max_length=max_length, **batching),
        LengthLimit(max_length, "drop"),
        frozenset(),
        progress or StreamProgress(num_workers=max(1, workers)),
        seed=7,
    )


def loader(data: TrainingStream, workers: int = 2) -> DataLoader:
    return DataLoader(data, batch_size=None, num_workers=workers)


@pytest.fixture(scope="module")
def samples() -> list[Sample]:
    return list(generate_problems(seed=11, count=90))


@pytest.mark.parametrize("shards", [1, 3, 4])  # 4 shards split evenly over 2 ranks x 2 workers
def test_every_record_once_across_two_ranks_and_two_workers(
    tmp_path: Path, samples: list[Sample], tokenizer, shards: int
) -> None:
    pattern = write_shards(tmp_path, samples, shards)
    seen: Counter = Counter()
    for rank in range(2):
        for batch in loader(stream(pattern, tokenizer, rank, world_size=2)):
            seen.update(rows_of(batch))
    assert seen == expected_rows(samples, tokenizer)


def test_shuffle_buffer_is_seeded_and_changes_with_the_epoch(
    tmp_path: Path, samples: list[Sample], tokenizer
) -> None:
    pattern = write_shards(tmp_path, samples, 3)

    def order(epoch: int) -> list[tuple[int, ...]]:
        progress = StreamProgress(num_workers=1, epoch=epoch)
        data = stream(pattern, tokenizer, workers=0, progress=progress)
        return [row for batch in loader(data, 0) for row in rows_of(batch)]

    first = order(0)
    assert order(0) == first
    assert Counter(order(1)) == Counter(first) and order(1) != first
    in_file_order = expected_rows(samples[0::3] + samples[1::3] + samples[2::3], tokenizer)
    assert first != list(in_file_order)


@pytest.mark.parametrize("batching", [{}, {"group_by_length": True}, {"packing": True}])
def test_mid_epoch_resume_neither_repeats_nor_skips(
    tmp_path: Path, samples: list[Sample], tokenizer, batching: dict
) -> None:
    pattern = write_shards(tmp_path, samples, 3)
    progress = StreamProgress(num_workers=2)
    seen: Counter = Counter()
    interrupted = stream(pattern, tokenizer, progress=progress, **batching)
    for index, batch in enumerate(loader(interrupted)):
        if index == 5:
            break  # batch 5 was fetched (as Lightning prefetches) but never trained
        progress.record(batch.pop("stream_cursor"))
        seen.update(rows_of(batch))
    restored = StreamProgress(num_workers=2)
    restored.load_state_dict(json.loads(json.dumps(progress.state_dict())))
    for batch in loader(stream(pattern, tokenizer, progress=restored, **batching)):
        restored.record(batch.pop("stream_cursor"))
        seen.update(rows_of(batch))
    assert seen == expected_rows(samples, tokenizer)
    assert restored.start()[0] == 1  # every worker finished: the next pass is the next epoch


def test_a_stream_replayed_before_its_position_is_refused(
    tmp_path: Path, samples: list[Sample], tokenizer
) -> None:
    pattern = write_shards(tmp_path, samples, 1)
    batches = list(loader(stream(pattern, tokenizer, workers=0), 0))
    progress = StreamProgress(num_workers=1)
    progress.record(batches[3]["stream_cursor"])
    with pytest.raises(RuntimeError, match="stream started before the checkpoint"):
        progress.record(batches[0]["stream_cursor"])


def test_resuming_with_other_worker_counts_is_refused() -> None:
    state = StreamProgress(num_workers=2).state_dict()
    with pytest.raises(ValueError, match="num_workers=2"):
        StreamProgress(num_workers=4).load_state_dict(state)


def test_parquet_files_stream_like_jsonl(tmp_path: Path, samples: list[Sample], tokenizer) -> None:
    rows = [record(sample) for sample in samples[:20]]
    pq.write_table(pa.Table.from_pylist(rows), tmp_path / "train.parquet")
    streamed = list(SampleStream(files=str(tmp_path / "train.parquet"), shuffle_buffer=0))
    assert [s.id for s in streamed] == [s.id for s in samples[:20]]
    assert streamed[3] == samples[3]


def test_bad_record_names_file_and_line(tmp_path: Path, samples: list[Sample], tokenizer) -> None:
    path = tmp_path / "train.jsonl"
    lines = [json.dumps(record(s)) for s in samples[:5]]
    lines[2] = json.dumps({"id": "x", "answer": "1"})
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(DataRecordError, match=r"train\.jsonl:3: missing field 'question'"):
        list(loader(stream(str(path), tokenizer, workers=0), 0))
    # From a worker process the error arrives re-raised by the dataloader, message intact.
    with pytest.raises(Exception, match=r"train\.jsonl:3: missing field 'question'"):
        list(loader(stream(str(path), tokenizer, workers=1), 1))
    skipping = SampleStream(files=str(path), on_error="skip", shuffle_buffer=0)
    assert len(list(skipping)) == 4 and skipping.skipped == 1


def test_stream_arguments_are_checked(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="nowhere"):
        SampleStream(files=str(tmp_path / "nowhere*.jsonl"))
    with pytest.raises(ValueError, match="exactly one of `files` and `hub`"):
        SampleStream()
    with pytest.raises(ValueError, match="record_type"):
        SampleStream(files=str(tmp_path), record_type="csv")


def test_the_stream_counts_overlong_sequences_like_the_map_path(
    tmp_path: Path, samples: list[Sample], tokenizer
) -> None:
    data = stream(write_shards(tmp_path, samples, 1), tokenizer, workers=0, max_length=120)
    kept = sum(sum(1 for _ in rows_of(batch)) for batch in loader(data, workers=0))
    renderings = [spans for sample in samples for spans in FORMAT.render(sample)]
    too_long = sum(len(s) > 120 for s in encode_many(renderings, tokenizer))
    assert too_long > 0 and data.limit.stats() == {"train/dropped_overlong": too_long}
    assert kept == len(renderings) - too_long


def test_the_stream_counts_what_it_leaves_out_summed_over_workers(
    tmp_path: Path, samples: list[Sample], tokenizer
) -> None:
    lines = [json.dumps(record(s)) for s in samples[:40]]
    lines[7] = lines[20] = json.dumps({"id": "bad", "answer": "1"})  # no question: skipped
    (tmp_path / "train.jsonl").write_text("\n".join(lines) + "\n")
    held_out = frozenset(s.question for s in samples[:6])
    source = SampleStream(files=str(tmp_path / "train.jsonl"), on_error="skip", shuffle_buffer=0)
    progress = StreamProgress(num_workers=2)
    data = TrainingStream(
        source.records(),
        source.parser(),
        FORMAT,
        tokenizer,
        Batching(batch_size=4, max_length=280),
        LengthLimit(280, "drop"),  # about a third of the sequences are longer
        held_out,
        progress,
    )
    for batch in loader(data, workers=2):
        progress.record(batch["stream_cursor"])
        progress.count(batch["stream_cursor"], batch["stream_counts"])
    read = [s for index, s in enumerate(samples[:40]) if index not in (7, 20)]
    trained = [s for s in read if s.question not in held_out]
    renderings = [spans for sample in trained for spans in FORMAT.render(sample)]
    too_long = sum(len(s) > 280 for s in encode_many(renderings, tokenizer))
    assert too_long > 0 and len(progress.counts) == 2  # both workers reported
    assert progress.totals() == {
        "train/removed_held_out_overlap": len(read) - len(trained),
        "train/skipped_records": 2,
        "train/dropped_overlong": too_long,
        "train/truncated_overlong": 0,
    }

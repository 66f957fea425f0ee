"""Samples/s of the training data pipeline alone (no model): map-style vs streaming, 0 or 2 workers.

The same generated HTL problems, written as jsonl shards, go through each pipeline for one epoch:
map-style = ``SFTDataModule.setup("fit")`` (render + tokenize everything up front) plus iterating
its dataloader; streaming = iterating the ``SampleStream`` dataloader (read, shuffle, parse,
render, tokenize and batch on the fly, in the workers). Each arm is timed ``--rounds`` times in
alternating order and its best time kept (other processes on a shared machine only add time).

Run from the repository root: ``python -m benchmarks.speed.data_pipeline``; the results go to
``benchmarks/results/data_pipeline.md``.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import torch

from benchmarks import RESULTS_DIR
from datamodules.formats import HTLFormat
from datamodules.generators.synthetic import generate_problems
from datamodules.pipeline.streaming import SampleStream
from datamodules.sft import SFTDataModule
from datamodules.sources.base import SampleSource
from datamodules.sources.files import SampleFile
from datamodules.sources.synthetic import SyntheticProblems

RESULTS = RESULTS_DIR / "data_pipeline.md"
SHARDS = 4


def write_shards(folder: Path, count: int) -> str:
    samples = list(generate_problems(seed=0, count=count))
    for shard in range(SHARDS):
        with (folder / f"train-{shard}.jsonl").open("w") as out:
            for sample in samples[shard::SHARDS]:
                blocks = [{"kind": b.kind, "content": b.content} for b in sample.blocks]
                fields = {"id": sample.id, "question": sample.question, "answer": sample.answer}
                out.write(json.dumps(fields | {"blocks": blocks}) + "\n")
    return str(folder / "train-*.jsonl")


class Files(SampleSource):
    """The shards read whole, for the map-style arm."""

    def __init__(self, pattern: str) -> None:
        self.paths = sorted(Path(pattern).parent.glob(Path(pattern).name))

    def __iter__(self):  # type: ignore[no-untyped-def]
        for path in self.paths:
            yield from SampleFile(path)


def epoch(data: SFTDataModule) -> tuple[int, int]:
    """Sets the data up and iterates one epoch: (rows, real tokens)."""
    data.setup("fit")
    rows = tokens = 0
    for batch in data.train_dataloader():
        rows += batch["input_ids"].shape[0]
        tokens += int(batch["attention_mask"].sum())
    return rows, tokens


def arms(pattern: str, tokenizer, batch_size: int) -> dict[str, Callable[[], SFTDataModule]]:
    def make(train: SampleSource, **options: int | bool) -> SFTDataModule:
        data = SFTDataModule(
            train=train,
            val=SyntheticProblems(seed=1, count=8),
            format=HTLFormat(),
            max_length=320,
            batch_size=batch_size,
            **options,
        )
        data.tokenizer = tokenizer
        return data

    def stream() -> SampleStream:
        return SampleStream(files=pattern, shuffle_buffer=10000)

    return {
        "map-style, 0 workers": lambda: make(Files(pattern)),
        "map-style, 2 workers": lambda: make(Files(pattern), num_workers=2),
        "streaming, 0 workers": lambda: make(stream()),
        "streaming, 2 workers": lambda: make(stream(), num_workers=2),
        "streaming + packing, 2 workers": lambda: make(stream(), num_workers=2, packing=True),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=4000)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    with tempfile.TemporaryDirectory() as folder:
        pattern = write_shards(Path(folder), args.samples)
        tokenizer = SFTDataModule(train=Files(pattern), vocab_size=1024).tokenizer
        factories = arms(pattern, tokenizer, args.batch_size)
        best: dict[str, float] = {}
        counts: dict[str, tuple[int, int]] = {}
        for round_index in range(args.rounds):
            order = list(factories) if round_index % 2 == 0 else list(reversed(factories))
            for name in order:
                start = time.perf_counter()
                counts[name] = epoch(factories[name]())
                elapsed = time.perf_counter() - start
                best[name] = min(best.get(name, elapsed), elapsed)
                print(f"{name}: {elapsed:.2f} s", flush=True)
    write_results(args, best, counts)


def write_results(
    args: argparse.Namespace, best: dict[str, float], counts: dict[str, tuple[int, int]]
) -> None:
    baseline = best["map-style, 0 workers"]
    lines = [
        "# Data pipeline: samples/s without a model",
        "",
        f"- date: {datetime.date.today()}",
        f"- machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
        f"torch.get_num_threads() = {torch.get_num_threads()}, Python {platform.python_version()}"
        f", 1-minute load average at the end {os.getloadavg()[0]:.2f} (a shared machine)",
        f"- command: `python -m benchmarks.speed.data_pipeline --samples {args.samples} "
        f"--batch-size {args.batch_size} --rounds {args.rounds}`",
        f"- data: {args.samples} generated HTL problems in {SHARDS} jsonl shards (30% also "
        "rendered as insert copies), corpus BPE (vocab 1024), max_length 320, batch "
        f"{args.batch_size}; one epoch per arm, best of {args.rounds} alternating rounds",
        "",
        "| pipeline | epoch (s) | samples/s | rows | real tokens | vs map-style, 0 workers |",
        "|---|---|---|---|---|---|",
    ]
    for name, seconds in best.items():
        rows, tokens = counts[name]
        lines.append(
            f"| {name} | {seconds:.2f} | {args.samples / seconds:,.0f} | {rows} | {tokens:,} | "
            f"{baseline / seconds:.2f}x |"
        )
    RESULTS.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    from cli.errors import run_entry_point

    sys.exit(run_entry_point(lambda _: main()))

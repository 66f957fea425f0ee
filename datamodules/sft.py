"""The SFT datamodule: samples from sources, rendered by a format, tokenized, batched."""

from __future__ import annotations

import itertools
import logging
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from functools import cached_property, partial
from typing import Any

import lightning as L
from torch.utils.data import DataLoader, RandomSampler
from transformers import PreTrainedTokenizerBase

from checks import InputError
from datamodules.formats import HTLFormat, SolutionFormat
from datamodules.pipeline.encoding import (
    EncodedSequence,
    LengthLimit,
    Overlong,
    collate_prompts,
    collate_training,
    encode_many,
)
from datamodules.pipeline.packing import (
    LengthGroupedBatchSampler,
    PackedRow,
    collate_packed,
    pack_sequences,
)
from datamodules.pipeline.streaming import (
    Batching,
    Cursor,
    SampleStream,
    StreamProgress,
    TrainingStream,
    gather_ranks,
    pick_rank,
)
from datamodules.pipeline.tokenizer import (
    add_format_tokens,
    load_pretrained_tokenizer,
    train_corpus_tokenizer,
)
from datamodules.sample import Problems, Sample
from datamodules.sources.base import SampleSource
from datamodules.sources.synthetic import SyntheticProblems

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class EvalExample:
    """A held-out problem: its generation prompt and, when it has a solution, its full encoding."""

    sample: Sample
    prompt_ids: list[int]
    encoded: EncodedSequence | None


class SFTDataModule(L.LightningDataModule):
    """Train, validation, test and predict data for supervised fine-tuning.

    Args:
        train: training samples (default: the embedded arithmetic problems, seed 0); a
            ``datamodules.pipeline.streaming.SampleStream`` streams them instead of loading them all
            (tokenized in the dataloader workers, each record once per epoch, resumable mid-epoch).
        val: held-out problems generated and graded during training (default: seed 1).
        test: problems for ``main.py test`` (default: the validation source).
        predict: problems for ``main.py predict`` (default: the test source).
        format: how samples become text (HTL by default).
        pretrained_tokenizer: hub id, folder or GGUF file (linked from ``model.model``); ``None``
            trains a byte-level BPE on the training corpus and caches it.
        vocab_size: size of that corpus tokenizer.
        max_length: longest training sequence in tokens.
        overlong: what to do with longer ones: ``drop`` them or ``truncate`` them (both counted).
        batch_size: training sequences per batch.
        eval_batch_size: problems per generation batch.
        num_workers: dataloader worker processes.
        packing: several training sequences per row, up to ``max_length`` tokens, each sample
            attending only to itself (block-diagonal masks, positions restarting per sample):
            almost no padding.
        group_by_length: batches of sequences of similar length (shuffled within windows of
            64 batches), so a batch pads only to its own longest sequence.
    """

    def __init__(
        self,
        train: SampleSource | None = None,
        val: SampleSource | None = None,
        test: SampleSource | None = None,
        predict: SampleSource | None = None,
        format: SolutionFormat | None = None,
        pretrained_tokenizer: str | None = None,
        vocab_size: int = 1024,
        max_length: int = 512,
        overlong: Overlong = "drop",
        batch_size: int = 32,
        eval_batch_size: int = 64,
        num_workers: int = 0,
        packing: bool = False,
        group_by_length: bool = False,
    ) -> None:
        super().__init__()
        if packing and group_by_length:
            raise InputError("choose one of packing and group_by_length (packed rows are full)")
        self.train_source = train if train is not None else SyntheticProblems(seed=0, count=20000)
        self.val_source = val if val is not None else SyntheticProblems(seed=1, count=256)
        self.test_source = test if test is not None else self.val_source
        self.predict_source = predict if predict is not None else self.test_source
        self.format = format if format is not None else HTLFormat()
        self.pretrained_tokenizer = pretrained_tokenizer
        self.vocab_size = vocab_size
        self.max_length = max_length
        self.overlong = overlong
        self.batch_size = batch_size
        self.eval_batch_size = eval_batch_size
        self.num_workers = num_workers
        self.packing, self.group_by_length = packing, group_by_length
        self.stats: dict[str, int] = {}
        self.train_stream: TrainingStream | None = None

    @cached_property
    def train_samples(self) -> list[Sample]:
        return list(self.train_source)

    @cached_property
    def tokenizer(self) -> PreTrainedTokenizerBase:
        """Built on first use (the model needs it at construction to size its embeddings)."""
        if self.pretrained_tokenizer is not None:
            tokenizer = load_pretrained_tokenizer(self.pretrained_tokenizer)
        else:
            corpus = [  # rendered text, so the format's instruction gets tokens of its own
                span.text
                for sample in self._corpus_samples()
                for spans in self.format.render(sample)
                for span in spans
            ]
            tokenizer = train_corpus_tokenizer(corpus, self.vocab_size)
        add_format_tokens(tokenizer, self.format.special_tokens)
        return tokenizer

    def _corpus_samples(self) -> Iterable[Sample]:
        """What a corpus tokenizer learns from: all training samples, or a stream's first ones."""
        if isinstance(self.train_source, SampleStream):
            return itertools.islice(self.train_source, self.train_source.tokenizer_records)
        return self.train_samples

    def setup(self, stage: str) -> None:
        if stage == "fit":
            self.val_examples = self._eval_examples(self.val_source)
            if isinstance(self.train_source, SampleStream):
                self.train_stream = self._training_stream(self.train_source)
                return
            self.train_sequences = self._training_sequences(self._training_samples())
            self.train_rows: list[PackedRow] = (
                pack_sequences(self.train_sequences, self.max_length) if self.packing else []
            )
            self.stats["train/skipped_records"] = self.train_source.skipped
            log.info("training data: %s", self.stats)
        elif stage == "validate":
            self.val_examples = self._eval_examples(self.val_source)
        elif stage == "test":
            self.test_examples = self._eval_examples(self.test_source)
        elif stage == "predict":  # no loss: the samples' own solutions, if any, are not encoded
            self.predict_examples = self._eval_examples(self.predict_source, with_solutions=False)

    def exclude_predict(self, ids: Collection[str]) -> int:
        """Leaves the predict problems with these ids out (those a resumed run has finished);
        returns how many. Ids must then be unique, or "finished" would be ambiguous."""
        seen: set[str] = set()
        for example in self.predict_examples:
            if example.sample.id in seen:
                raise InputError(
                    f"predict problems must have unique ids; {example.sample.id!r} repeats"
                )
            seen.add(example.sample.id)
        kept = [example for example in self.predict_examples if example.sample.id not in ids]
        left_out = len(self.predict_examples) - len(kept)
        self.predict_examples = kept
        return left_out

    def _held_out_questions(self) -> frozenset[str]:
        """Questions of the validation problems: training never sees them, in either path."""
        return frozenset(example.sample.question for example in self.val_examples)

    def _training_samples(self) -> list[Sample]:
        """The training samples without the held-out questions (counted when any collide)."""
        held_out = self._held_out_questions()
        kept = [sample for sample in self.train_samples if sample.question not in held_out]
        self.stats["train/removed_held_out_overlap"] = len(self.train_samples) - len(kept)
        return kept

    def _training_stream(self, stream: SampleStream) -> TrainingStream:
        rank, world_size = self._rank_and_world_size()
        return TrainingStream(
            stream.records(rank, world_size),
            stream.parser(),
            self.format,
            self.tokenizer,
            Batching(self.batch_size, self.max_length, self.packing, self.group_by_length),
            LengthLimit(self.max_length, self.overlong),
            self._held_out_questions(),
            StreamProgress(num_workers=max(1, self.num_workers)),
            stream.seed,
        )

    def _rank_and_world_size(self) -> tuple[int, int]:
        trainer = self.trainer
        return (trainer.global_rank, trainer.world_size) if trainer is not None else (0, 1)

    def _training_sequences(self, samples: Sequence[Sample]) -> list[EncodedSequence]:
        renderings = [spans for sample in samples for spans in self.format.render(sample)]
        limit = LengthLimit(self.max_length, self.overlong)
        fitted = [limit.fit(sequence) for sequence in encode_many(renderings, self.tokenizer)]
        self.stats |= limit.stats()
        return [sequence for sequence in fitted if sequence is not None]

    def _eval_examples(
        self, source: SampleSource, with_solutions: bool = True
    ) -> list[EvalExample]:
        samples = list(source)
        prompts = encode_many([self.format.prompt(sample) for sample in samples], self.tokenizer)
        solved = [sample for sample in samples if sample.blocks and with_solutions]
        full = encode_many([self.format.render(sample)[0] for sample in solved], self.tokenizer)
        encodings = {id(sample): sequence for sample, sequence in zip(solved, full)}
        return [
            EvalExample(sample, prompt.input_ids, self._eval_fit(encodings.get(id(sample))))
            for sample, prompt in zip(samples, prompts)
        ]

    def _eval_fit(self, sequence: EncodedSequence | None) -> EncodedSequence | None:
        """Held-out solutions only feed the validation loss: cut, never dropped."""
        return None if sequence is None else sequence.truncated(self.max_length)

    def _collate_eval(self, examples: Sequence[EvalExample]) -> dict[str, Any]:
        """Prompts for generation, gold answers for grading, full sequences for the loss."""
        pad = self.tokenizer.pad_token_id
        prompts = collate_prompts([example.prompt_ids for example in examples], pad)
        batch: dict[str, Any] = {
            "prompt_input_ids": prompts["input_ids"],
            "prompt_attention_mask": prompts["attention_mask"],
            "problems": Problems(example.sample for example in examples),
        }
        if all(example.encoded is not None for example in examples):
            batch |= collate_training([example.encoded for example in examples], pad)
        return batch

    def train_dataloader(self) -> DataLoader:
        if self.train_stream is not None:  # batched in the workers, which restart every epoch
            return DataLoader(self.train_stream, batch_size=None, num_workers=self.num_workers)
        pad = self.tokenizer.pad_token_id
        shared = {"num_workers": self.num_workers, "persistent_workers": self.num_workers > 0}
        if self.packing:
            collate = partial(collate_packed, pad_token_id=pad)
            return DataLoader(
                self.train_rows,
                self.batch_size,
                shuffle=True,
                drop_last=True,
                collate_fn=collate,
                **shared,
            )
        collate = partial(collate_training, pad_token_id=pad)
        if self.group_by_length:
            batches = LengthGroupedBatchSampler(
                RandomSampler(self.train_sequences),
                self.batch_size,
                drop_last=True,
                lengths=[len(sequence) for sequence in self.train_sequences],
            )
            return DataLoader(
                self.train_sequences, batch_sampler=batches, collate_fn=collate, **shared
            )
        return DataLoader(
            self.train_sequences,
            self.batch_size,
            shuffle=True,  # by keyword: Lightning re-creates the loader with its own sampler
            drop_last=True,
            collate_fn=collate,
            **shared,
        )

    def on_before_batch_transfer(self, batch: Any, dataloader_idx: int) -> Any:
        """A streamed batch reaching the training step: its records now count as consumed, and
        its worker's counts of what it left out as reported."""
        cursor: Cursor | None = (
            batch.pop("stream_cursor", None) if isinstance(batch, dict) else None
        )
        if cursor is not None and self.train_stream is not None:
            self.train_stream.progress.record(cursor)
            self.train_stream.progress.count(cursor, batch.pop("stream_counts"))
        return batch

    def state_dict(self) -> dict[str, Any]:
        """The stream position of every rank (saved in checkpoints, for an exact resume)."""
        if self.train_stream is None:
            return {}
        return {"stream": gather_ranks(self.train_stream.progress.state_dict())}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        if "stream" not in state_dict:
            return
        if self.train_stream is None:
            raise InputError("the checkpoint holds a stream position, but `train` is not a stream")
        state = pick_rank(state_dict["stream"], *self._rank_and_world_size())
        self.train_stream.progress.load_state_dict(state)

    def _eval_loader(self, examples: list[EvalExample]) -> DataLoader:
        return DataLoader(
            examples,
            batch_size=self.eval_batch_size,
            num_workers=self.num_workers,
            collate_fn=self._collate_eval,
        )

    def val_dataloader(self) -> DataLoader:
        return self._eval_loader(self.val_examples)

    def test_dataloader(self) -> DataLoader:
        return self._eval_loader(self.test_examples)

    def predict_dataloader(self) -> DataLoader:
        return self._eval_loader(self.predict_examples)

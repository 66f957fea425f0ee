"""The SFT datamodule: samples from sources, rendered by a format, tokenized, batched."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property, partial
from typing import Any

import lightning as L
from torch.utils.data import DataLoader
from transformers import PreTrainedTokenizerBase

from datamodules.encoding import (
    EncodedSequence,
    Overlong,
    collate_prompts,
    collate_training,
    encode_many,
)
from datamodules.formats import HTLFormat, SolutionFormat
from datamodules.sample import Sample
from datamodules.sources import SampleSource, SyntheticProblems
from datamodules.tokenizer import (
    add_format_tokens,
    load_pretrained_tokenizer,
    train_corpus_tokenizer,
)

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
        train: training samples (default: the embedded arithmetic problems, seed 0).
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
    ) -> None:
        super().__init__()
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
        self.stats: dict[str, int] = {}

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
                for sample in self.train_samples
                for spans in self.format.render(sample)
                for span in spans
            ]
            tokenizer = train_corpus_tokenizer(corpus, self.vocab_size)
        add_format_tokens(tokenizer, self.format.special_tokens)
        return tokenizer

    def setup(self, stage: str) -> None:
        if stage == "fit":
            self.val_examples = self._eval_examples(self.val_source)
            held_out = {example.sample.question for example in self.val_examples}
            kept = [sample for sample in self.train_samples if sample.question not in held_out]
            self.stats["train/removed_held_out_overlap"] = len(self.train_samples) - len(kept)
            self.train_sequences = self._training_sequences(kept)
            self.stats["train/skipped_records"] = self.train_source.skipped
            log.info("training data: %s", self.stats)
        elif stage == "validate":
            self.val_examples = self._eval_examples(self.val_source)
        elif stage == "test":
            self.test_examples = self._eval_examples(self.test_source)
        elif stage == "predict":
            self.predict_examples = self._eval_examples(self.predict_source)

    def _fits(self, sequence: EncodedSequence) -> EncodedSequence | None:
        """Applies the overlong policy, counting what it does."""
        if len(sequence) <= self.max_length:
            return sequence
        key = "train/dropped_overlong" if self.overlong == "drop" else "train/truncated_overlong"
        self.stats[key] = self.stats.get(key, 0) + 1
        return None if self.overlong == "drop" else sequence.truncated(self.max_length)

    def _training_sequences(self, samples: Sequence[Sample]) -> list[EncodedSequence]:
        renderings = [spans for sample in samples for spans in self.format.render(sample)]
        fitted = (self._fits(sequence) for sequence in encode_many(renderings, self.tokenizer))
        return [sequence for sequence in fitted if sequence is not None]

    def _eval_examples(self, source: SampleSource) -> list[EvalExample]:
        samples = list(source)
        prompts = encode_many([self.format.prompt(sample) for sample in samples], self.tokenizer)
        solved = [sample for sample in samples if sample.blocks]
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
            "ids": [example.sample.id for example in examples],
            "datasets": [example.sample.dataset for example in examples],
            "questions": [example.sample.question for example in examples],
            "answers": [example.sample.answer for example in examples],
        }
        if all(example.encoded is not None for example in examples):
            batch |= collate_training([example.encoded for example in examples], pad)
        return batch

    def train_dataloader(self) -> DataLoader:
        return DataLoader(
            self.train_sequences,
            batch_size=self.batch_size,
            shuffle=True,
            drop_last=True,
            num_workers=self.num_workers,
            collate_fn=partial(collate_training, pad_token_id=self.tokenizer.pad_token_id),
            persistent_workers=self.num_workers > 0,
        )

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

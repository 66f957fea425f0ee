"""Spans → token ids, labels and focus tags; batches with padding on either side."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import torch
from transformers import PreTrainedTokenizerBase

from datamodules.formats.base import Span

IGNORE_INDEX = -100
Overlong = Literal["drop", "truncate"]


@dataclass(frozen=True)
class EncodedSequence:
    input_ids: list[int]
    labels: list[int]
    focus_queries: list[bool]
    focus_keys: list[bool]

    def __len__(self) -> int:
        return len(self.input_ids)

    def truncated(self, max_length: int) -> EncodedSequence:
        return EncodedSequence(
            self.input_ids[:max_length],
            self.labels[:max_length],
            self.focus_queries[:max_length],
            self.focus_keys[:max_length],
        )


@dataclass
class LengthLimit:
    """The overlong policy of both training-data paths (map-style and streaming): a sequence
    longer than ``max_length`` is dropped or truncated, and counted either way.

    Each dataloader worker of a stream counts its own sequences (the stream's batches carry the
    counts, summed over workers and ranks when logged)."""

    max_length: int
    overlong: Overlong = "drop"
    dropped: int = 0
    truncated: int = 0

    def fit(self, sequence: EncodedSequence) -> EncodedSequence | None:
        """The sequence kept, cut to ``max_length``, or dropped (None)."""
        if len(sequence) <= self.max_length:
            return sequence
        if self.overlong == "drop":
            self.dropped += 1
            return None
        self.truncated += 1
        return sequence.truncated(self.max_length)

    def stats(self) -> dict[str, int]:
        """The non-zero counts, under the names the datamodule logs (``data/train/...``)."""
        counts = {"dropped_overlong": self.dropped, "truncated_overlong": self.truncated}
        return {f"train/{name}": count for name, count in counts.items() if count}


def encode_spans(
    spans: Sequence[Span], tokenizer: PreTrainedTokenizerBase, add_bos: bool = True
) -> EncodedSequence:
    """Tokenizes each span on its own, so every token knows its span's loss and focus role."""
    return encode_many([spans], tokenizer, add_bos)[0]


def encode_many(
    renderings: Sequence[Sequence[Span]], tokenizer: PreTrainedTokenizerBase, add_bos: bool = True
) -> list[EncodedSequence]:
    """``encode_spans`` for many sequences with a single (parallel, batched) tokenizer call."""
    # Renderings repeat texts (the instruction, HTL's insert copies): tokenize each text once.
    unique = list(
        dict.fromkeys(span.text for spans in renderings for span in spans if not span.eos)
    )
    token_ids = (
        dict(zip(unique, tokenizer(unique, add_special_tokens=False)["input_ids"]))
        if unique
        else {}
    )
    eos, bos_id = tokenizer.eos_token_id, tokenizer.bos_token_id
    encoded = []
    for spans in renderings:
        # A text that already opens with BOS (a chat turn, where BOS is ``<|im_start|>``) has it.
        opens = (
            bool(spans) and tokenizer.bos_token and spans[0].text.startswith(tokenizer.bos_token)
        )
        bos = [bos_id] if add_bos and bos_id is not None and not opens else []
        ids, labels = list(bos), [IGNORE_INDEX] * len(bos)
        queries, keys = [False] * len(bos), [False] * len(bos)
        for span in spans:
            span_ids = [eos] if span.eos else token_ids[span.text]
            ids += span_ids
            labels += span_ids if span.trainable else [IGNORE_INDEX] * len(span_ids)
            queries += [span.focus == "query"] * len(span_ids)
            keys += [span.focus == "key"] * len(span_ids)
        encoded.append(EncodedSequence(ids, labels, queries, keys))
    return encoded


def collate_training(
    sequences: Sequence[EncodedSequence], pad_token_id: int
) -> dict[str, torch.Tensor]:
    """Right-padded training batch; padding is neither a focus query nor a focus key.

    Rows are filled into numpy arrays: an order of magnitude faster than ``torch.tensor`` on
    each list, which made collation as slow as tokenizing in the streaming workers."""
    length = max(len(sequence) for sequence in sequences)

    def padded(rows: Sequence[list], fill: int | bool, dtype: type) -> torch.Tensor:
        array = np.full((len(rows), length), fill, dtype=dtype)
        for index, row in enumerate(rows):
            array[index, : len(row)] = row
        return torch.from_numpy(array)

    return {
        "input_ids": padded([s.input_ids for s in sequences], pad_token_id, np.int64),
        "labels": padded([s.labels for s in sequences], IGNORE_INDEX, np.int64),
        "attention_mask": padded([[1] * len(s) for s in sequences], 0, np.int64),
        "focus_queries": padded([s.focus_queries for s in sequences], False, np.bool_),
        "focus_keys": padded([s.focus_keys for s in sequences], False, np.bool_),
    }


def collate_prompts(prompts: Sequence[list[int]], pad_token_id: int) -> dict[str, torch.Tensor]:
    """Left-padded prompts, as decoder-only generation needs."""
    length = max(len(prompt) for prompt in prompts)
    input_ids = torch.full((len(prompts), length), pad_token_id, dtype=torch.long)
    attention_mask = torch.zeros((len(prompts), length), dtype=torch.long)
    for row, prompt in enumerate(prompts):
        input_ids[row, length - len(prompt) :] = torch.tensor(prompt)
        attention_mask[row, length - len(prompt) :] = 1
    return {"input_ids": input_ids, "attention_mask": attention_mask}

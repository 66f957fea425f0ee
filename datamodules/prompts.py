"""Prompts and gold answers for RL: the SFT datamodule's data, without the solutions."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any

import torch
from torch.utils.data import DataLoader

from datamodules.encoding import collate_prompts, encode_many
from datamodules.sample import Problems, Sample
from datamodules.sft import SFTDataModule


@dataclass(frozen=True)
class PromptExample:
    """A training problem as the policy sees it, with its gold answer for the reward."""

    sample: Sample
    prompt_ids: list[int]
    focus_keys: list[bool]


class PromptDataModule(SFTDataModule):
    """Training batches of prompts (left-padded) with their gold answers; validation, test and
    predict exactly as :class:`SFTDataModule` (generate, run, grade).

    Same arguments as ``SFTDataModule`` (``main.py`` links the tokenizer and format the same
    way); ``batch_size`` counts prompts per rollout batch (each sampled ``num_samples`` times).
    Training samples need a gold ``answer``; their solutions, if any, are not used.
    """

    def setup(self, stage: str) -> None:
        if stage != "fit":
            super().setup(stage)
            return
        self.val_examples = self._eval_examples(self.val_source)
        kept = self._training_samples()
        self.stats["train/skipped_records"] = self.train_source.skipped
        unanswered = [sample.id for sample in kept if not sample.answer.strip()]
        if unanswered:
            raise ValueError(
                f"{len(unanswered)} training samples have no gold answer to reward against "
                f"(first: {unanswered[0]!r})"
            )
        self.train_prompts = self._prompt_examples(kept)

    def _prompt_examples(self, samples: Sequence[Sample]) -> list[PromptExample]:
        prompts = encode_many([self.format.prompt(sample) for sample in samples], self.tokenizer)
        return [
            PromptExample(sample, prompt.input_ids, prompt.focus_keys)
            for sample, prompt in zip(samples, prompts)
        ]

    def train_dataloader(self) -> DataLoader:
        return DataLoader(
            self.train_prompts,
            batch_size=self.batch_size,
            shuffle=True,
            drop_last=True,
            num_workers=self.num_workers,
            collate_fn=partial(collate_prompt_examples, pad_token_id=self.tokenizer.pad_token_id),
            persistent_workers=self.num_workers > 0,
        )


def collate_prompt_examples(examples: Sequence[PromptExample], pad_token_id: int) -> dict[str, Any]:
    """Left-padded prompts (with the question tokens focus attention may hide) and the problems
    themselves (their gold answers feed the reward)."""
    prompts = collate_prompts([example.prompt_ids for example in examples], pad_token_id)
    length = prompts["input_ids"].shape[1]
    focus_keys = torch.zeros((len(examples), length), dtype=torch.bool)
    for row, example in enumerate(examples):
        focus_keys[row, length - len(example.focus_keys) :] = torch.tensor(example.focus_keys)
    return {
        "prompt_input_ids": prompts["input_ids"],
        "prompt_attention_mask": prompts["attention_mask"],
        "prompt_focus_keys": focus_keys,
        "problems": Problems(example.sample for example in examples),
    }

"""Prompts and gold answers for RL: the SFT datamodule's data, without the solutions."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any

import torch
from torch.utils.data import DataLoader

from checks import InputError
from datamodules.pipeline.curriculum import MixedGroupCurriculum
from datamodules.pipeline.encoding import collate_prompts, encode_many
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

    Args:
        curriculum_floor: set, the prompts are drawn by a :class:`MixedGroupCurriculum` over the
            samples' ``dataset`` (fed by ``callbacks.curriculum.CurriculumFeedback``), this share
            of draws spread evenly; None: a plain shuffle.
        curriculum_decay: the curriculum's memory per observed group.
    """

    def __init__(
        self,
        *args: Any,
        curriculum_floor: float | None = None,
        curriculum_decay: float = 0.9,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.curriculum_floor, self.curriculum_decay = curriculum_floor, curriculum_decay
        self.curriculum: MixedGroupCurriculum | None = None

    def setup(self, stage: str) -> None:
        if stage != "fit":
            super().setup(stage)
            return
        self.val_examples = self._eval_examples(self.val_source)
        kept = self._training_samples()
        self.stats["train/skipped_records"] = self.train_source.skipped
        unanswered = [sample.id for sample in kept if not sample.answer.strip()]
        if unanswered:
            raise InputError(
                f"{len(unanswered)} training samples have no gold answer to reward against "
                f"(first: {unanswered[0]!r})"
            )
        self.train_prompts = self._prompt_examples(kept)
        if self.curriculum_floor is not None:
            sources = [example.sample.dataset for example in self.train_prompts]
            self.curriculum = MixedGroupCurriculum(
                sources, self.curriculum_floor, self.curriculum_decay, seed=torch.initial_seed()
            )

    def _prompt_examples(self, samples: Sequence[Sample]) -> list[PromptExample]:
        prompts = encode_many([self.format.prompt(sample) for sample in samples], self.tokenizer)
        return [
            PromptExample(sample, prompt.input_ids, prompt.focus_keys)
            for sample, prompt in zip(samples, prompts)
        ]

    def train_dataloader(self) -> DataLoader:
        order = {"sampler": self.curriculum} if self.curriculum is not None else {"shuffle": True}
        return DataLoader(
            self.train_prompts,
            batch_size=self.batch_size,
            drop_last=True,
            **order,
            num_workers=self.num_workers,
            collate_fn=partial(collate_prompt_examples, pad_token_id=self.tokenizer.pad_token_id),
            persistent_workers=self.num_workers > 0,
        )

    def state_dict(self) -> dict[str, Any]:
        """The curriculum's rates and draws, beside what ``SFTDataModule`` saves."""
        state = super().state_dict()
        if self.curriculum is not None:
            state["curriculum"] = self.curriculum.state_dict()
        return state

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        super().load_state_dict(state_dict)
        if "curriculum" in state_dict and self.curriculum is not None:
            self.curriculum.load_state_dict(state_dict["curriculum"])


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

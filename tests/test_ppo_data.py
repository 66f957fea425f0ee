"""Training prompts for PPO: left-padded, with their question tokens and gold answers."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from datamodules.prompts import PromptDataModule
from datamodules.sample import Sample
from datamodules.sources.base import SampleSource
from datamodules.sources.synthetic import SyntheticProblems


class Unanswered(SampleSource):
    def __iter__(self) -> Iterator[Sample]:
        yield Sample(id="q-1", dataset="toy", question="How many?", answer="")


def test_training_batches_are_prompts_with_their_gold_answers(tokenizer) -> None:
    data = PromptDataModule(
        train=SyntheticProblems(seed=0, count=12),
        val=SyntheticProblems(seed=1, count=4),
        pretrained_tokenizer="unused",
        batch_size=4,
    )
    data.__dict__["tokenizer"] = tokenizer  # the shared test tokenizer instead of a new one
    data.setup("fit")
    assert len(data.val_examples) == 4
    batch = next(iter(data.train_dataloader()))
    samples = {sample.id: sample for sample in SyntheticProblems(seed=0, count=12)}
    problems = list(batch["problems"])
    assert [samples[p.id].answer for p in problems] == [p.answer for p in problems]
    assert [samples[p.id].question for p in problems] == [p.question for p in problems]
    ids, mask, keys = (
        batch["prompt_input_ids"],
        batch["prompt_attention_mask"],
        batch["prompt_focus_keys"],
    )
    assert ids.shape == mask.shape == keys.shape and ids.shape[0] == 4
    text_marker = tokenizer.convert_tokens_to_ids("<text>")
    assert (ids[:, -1] == text_marker).all()  # left padding: every prompt ends at the last column
    assert (mask[:, -1] == 1).all()
    assert not (keys & ~mask.bool()).any()  # padding is never a focus key
    assert keys[:, :-1].any(1).all() and not keys[:, -1].any()  # the question, not the marker
    decoded = tokenizer.decode(ids[0][mask[0].bool()], skip_special_tokens=True)
    assert problems[0].question in decoded


def test_training_problems_without_a_gold_answer_are_refused(tokenizer) -> None:
    data = PromptDataModule(
        train=Unanswered(), val=SyntheticProblems(seed=1, count=2), pretrained_tokenizer="unused"
    )
    data.__dict__["tokenizer"] = tokenizer
    with pytest.raises(ValueError, match=r"no gold answer .*'q-1'"):
        data.setup("fit")

"""What the data engine reads and asks: gold reasoning sources, the self-distillation prompt, and
the problem-interpolation prompt."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from datamodules.formats import HTLFormat
from datamodules.formats.chat import ChatFormat
from datamodules.formats.distill import ReasoningToProgram
from datamodules.formats.problem import NewProblemFormat
from datamodules.sample import Block, Sample
from datamodules.sources.base import DataRecordError, SampleSource
from datamodules.sources.gold_reasoning import GoldReasoning
from datamodules.sources.interpolation import ProblemPairs


def write_jsonl(path: Path, records: list[dict]) -> Path:
    path.write_text("".join(json.dumps(record) + "\n" for record in records), encoding="utf-8")
    return path


def test_gsm8k_reasoning_loses_its_annotations_and_states_the_gold(shared_data: Path) -> None:
    source = GoldReasoning(shared_data / "benchmarks/gsm8k/train.jsonl", layout="gsm8k", limit=2)
    first, second = list(source)
    assert (
        first.answer == "72" and first.dataset == "gsm8k" and first.question.startswith("Natalia")
    )
    assert first.blocks == (
        Block(
            "text",
            "Natalia sold 48/2 = 24 clips in May.\n"
            "Natalia sold 48+24 = 72 clips altogether in April and May.\nThe answer is 72.",
        ),
    )
    assert "<<" not in second.blocks[0].content and second.answer == "10"


def test_math_reasoning_is_the_solution_and_the_gold_its_last_box(shared_data: Path) -> None:
    (sample,) = GoldReasoning(shared_data / "benchmarks/math/test.jsonl", layout="math", limit=1)
    assert sample.answer == "2" and sample.id == "0"
    assert sample.blocks[0].content.endswith("the graph has $\\boxed{2}$ vertical asymptotes.")


def test_any_jsonl_with_named_fields(tmp_path: Path) -> None:
    path = write_jsonl(
        tmp_path / "mine.jsonl",
        [{"q": "What is 2 + 3?", "why": "2 + 3 = 5.", "a": 5.0}],
    )
    (sample,) = GoldReasoning(path, question_field="q", reasoning_field="why", answer_field="a")
    assert (sample.question, sample.blocks[0].content, sample.answer) == (
        "What is 2 + 3?",
        "2 + 3 = 5.",
        "5",
    )
    assert (sample.id, sample.dataset) == ("mine-1", "mine")


def test_a_bad_record_names_file_line_and_field(tmp_path: Path) -> None:
    path = write_jsonl(
        tmp_path / "bad.jsonl",
        [
            {"question": "Q?", "reasoning": "R.", "answer": 1},
            {"question": "Q?", "answer": 2},
        ],
    )
    with pytest.raises(DataRecordError, match=r"bad\.jsonl:2: missing field 'reasoning'"):
        list(GoldReasoning(path))
    gsm8k = write_jsonl(tmp_path / "g.jsonl", [{"question": "Q?", "answer": "no final line"}])
    with pytest.raises(DataRecordError, match=r"g\.jsonl:1: GSM8K answer has no '#### N'"):
        list(GoldReasoning(gsm8k, layout="gsm8k"))
    skipping = GoldReasoning(path, on_error="skip")
    assert len(list(skipping)) == 1 and skipping.skipped == 1


def test_the_default_distillation_prompt_is_htls_insert_layout() -> None:
    """A model trained on HTL has seen this exact prefix in its insert samples."""
    sample = Sample("s", "toy", "What is 2 + 3?", (Block("text", "2 + 3 = 5."),), "5")
    trained = Sample(
        "s", "toy", sample.question, (*sample.blocks, Block("code", "print(2 + 3)")), "5"
    )
    htl = HTLFormat(insert_ratio=1.0)
    insert = htl.render(trained)[1]
    distill = ReasoningToProgram()
    prompt = "".join(span.text for span in distill.prompt(sample))
    assert prompt == "".join(span.text for span in insert if not span.trainable)
    assert distill.special_tokens == htl.special_tokens


def test_the_program_is_read_from_a_fence_or_whole_and_joins_the_reasoning() -> None:
    distill = ReasoningToProgram(code_open="")
    chatty = "Sure! Here it is:\n```python\nx = 2 + 3\nprint(x)\n```\nThis prints 5."
    assert distill.parse(chatty) == (Block("code", "x = 2 + 3\nprint(x)"),)
    assert distill.parse("x = 5\nprint(x)\n") == (Block("code", "x = 5\nprint(x)"),)
    assert distill.parse("  \n") == ()
    sample = Sample("s", "toy", "Q?", (Block("text", "2 + 3 = 5."),), "5")
    wrapped = ChatFormat(distill)
    assert wrapped.solution(sample, chatty) == (
        Block("text", "2 + 3 = 5."),
        Block("code", "x = 2 + 3\nprint(x)"),
    )
    with pytest.raises(ValueError, match="needs the reasoning"):
        distill.prompt(Sample("bare", "toy", "Q?", (), "5"))


class Listed(SampleSource):
    def __init__(self, name: str, count: int) -> None:
        self.samples = [Sample(f"{name}{i}", name, f"{name} question {i}?") for i in range(count)]

    def __iter__(self):  # type: ignore[no-untyped-def]
        return iter(self.samples)


def test_pairs_use_each_problem_once_reproducibly() -> None:
    pairs = list(ProblemPairs(Listed("easy", 5), Listed("hard", 3), seed=1))
    assert len(pairs) == 3  # the smaller source's size
    assert len({p.id.split("+")[0] for p in pairs}) == 3
    assert [p.id for p in pairs] == [
        p.id for p in ProblemPairs(Listed("easy", 5), Listed("hard", 3), seed=1)
    ]
    assert [p.id for p in pairs] != [
        p.id for p in ProblemPairs(Listed("easy", 5), Listed("hard", 3), seed=2)
    ]
    assert len(list(ProblemPairs(Listed("easy", 5), Listed("hard", 3), count=2))) == 2
    assert all(p.answer == "" and p.dataset == "interpolation" for p in pairs)


def test_the_interpolation_prompt_shows_both_problems_and_asks_for_one_between() -> None:
    (pair,) = ProblemPairs(Listed("easy", 1), Listed("hard", 1))
    prompt = "".join(span.text for span in NewProblemFormat().prompt(pair))
    assert prompt.index("between them") < prompt.index("Problem 1 (easier):\neasy question 0?")
    assert prompt.index("easy question 0?") < prompt.index("Problem 2 (harder):\nhard question 0?")
    assert "without its solution" in prompt and prompt.endswith("\n\nNew problem:")
    chat = "".join(span.text for span in ChatFormat(NewProblemFormat()).prompt(pair))
    assert chat.startswith("<|im_start|>user\n") and chat.endswith("<|im_start|>assistant\n")


def test_the_new_problem_is_cut_before_any_solution() -> None:
    fmt = NewProblemFormat()
    generated = (
        " **New Problem:** A box holds 12 pens. How many pens are in 3 boxes?\n\nSolution: 36"
    )
    assert fmt.parse(generated) == (
        Block("text", "A box holds 12 pens. How many pens are in 3 boxes?"),
    )
    assert fmt.parse("Answer: 5") == ()

"""Markdown fences (ToRA style): render, parse back, and tell the engine which block to run."""

from __future__ import annotations

import pytest

from datamodules.formats import MarkdownFormat
from datamodules.sample import Block, Sample

SAMPLE = Sample(
    id="m1",
    dataset="toy",
    question="What is 6 times 7?",
    blocks=(
        Block("text", "Multiply the two numbers."),
        Block("code", "x = 6 * 7\nprint(x)"),
        Block("execution", "42"),
        Block("text", "The answer is \\boxed{42}."),
    ),
    answer="42",
)


def joined(spans) -> str:
    return "".join("<EOS>" if span.eos else span.text for span in spans)


def test_layout_and_round_trip() -> None:
    fmt = MarkdownFormat(instruction="Solve.")
    (spans,) = fmt.render(SAMPLE)
    text = joined(spans)
    assert text == (
        "Solve.\n\nQuestion: What is 6 times 7?\n\nSolution:\n"
        "Multiply the two numbers.\n```python\nx = 6 * 7\nprint(x)\n```\n"
        "```output\n42\n```\nThe answer is \\boxed{42}.\n<EOS>"
    )
    generated = text.removeprefix(joined(fmt.prompt(SAMPLE))).removesuffix("<EOS>")
    assert fmt.parse(generated) == SAMPLE.blocks


def test_loss_is_on_text_code_and_eos_never_on_prompt_or_output() -> None:
    (spans,) = MarkdownFormat().render(SAMPLE)
    trained = "".join(span.text for span in spans if span.trainable)
    assert "Question" not in trained and "```output" not in trained and "42\n```" not in trained
    assert "```python\nx = 6 * 7" in trained and trained.endswith("\\boxed{42}.\n")
    assert spans[-1].eos and spans[-1].trainable


def test_render_without_blocks_names_the_sample() -> None:
    with pytest.raises(ValueError, match="'empty'"):
        MarkdownFormat().render(Sample("empty", "toy", "q?", (), "1"))


def test_parse_keeps_an_unclosed_block_and_ignores_other_fences() -> None:
    blocks = MarkdownFormat().parse("Think.\n```python\nprint(1)\n```\n```text\nnote\n```\nmore")
    assert blocks[:2] == (Block("text", "Think."), Block("code", "print(1)"))
    assert MarkdownFormat().parse("Start.\n```python\nx = 1")[-1] == Block("code", "x = 1")
    assert MarkdownFormat().parse("") == ()


@pytest.mark.parametrize(
    ("response", "code"),
    [
        ("Compute.\n```python\nx = 2\nprint(x)\n```\n", "x = 2\nprint(x)"),
        ("```python\nprint(3)\n```\nThe", "print(3)"),  # the closing token ran on a little
        ("Compute.\n```python\nx = 2\n", None),  # not closed yet
        ("```output\n5\n```\n", None),  # the model wrote an output block itself
        ("```python\nprint(1)\n```\n```output\n1\n```\nNow.\n```text\nhi\n```\n", None),
    ],
)
def test_code_to_run_is_the_python_block_just_closed(response: str, code: str | None) -> None:
    assert MarkdownFormat().code_to_run(response) == code


def test_engine_contract() -> None:
    fmt = MarkdownFormat()
    assert fmt.special_tokens == () and fmt.end_strings == ()
    assert fmt.stop_strings == ("```\n",)
    before, after = fmt.execution_delimiters
    assert f"{before}42{after}" == "```output\n42\n```\n"
    assert fmt.forced_continuation("Wait,") == "\nWait,"

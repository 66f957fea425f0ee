"""Formats render samples and parse generations with the same markers."""

from __future__ import annotations

from pathlib import Path

import pytest

from datamodules.formats import HTLFormat, LCEFormat
from datamodules.sample import Block, Sample
from datamodules.sources.files import LCETrajectories

SAMPLE = Sample(
    id="s1",
    dataset="toy",
    question="Ann has 3 apples and buys 4 more. How many apples does she have?",
    blocks=(
        Block("text", "3 + 4 = 7. The answer is 7."),
        Block("code", "a = 3\nb = a + 4\nprint(b)"),
    ),
    answer="7",
)


def joined(spans) -> str:
    return "".join("<EOS>" if span.eos else span.text for span in spans)


def test_htl_layout_and_round_trip() -> None:
    fmt = HTLFormat(instruction="Solve.", insert_ratio=0.0)
    (spans,) = fmt.render(SAMPLE)
    text = joined(spans)
    assert text == (
        "Solve.\nQuestion: Ann has 3 apples and buys 4 more. How many apples does she have?\n"
        "<text>3 + 4 = 7. The answer is 7.\n<Code>\na = 3\nb = a + 4\nprint(b)<EOS>"
    )
    prompt = joined(fmt.prompt(SAMPLE))
    generated = text.removeprefix(prompt).removesuffix("<EOS>")
    assert fmt.parse(generated) == SAMPLE.blocks


def test_htl_loss_and_focus_roles() -> None:
    fmt = HTLFormat(instruction="Solve.", insert_ratio=0.0)
    (spans,) = fmt.render(SAMPLE)
    trained = "".join(span.text for span in spans if span.trainable)
    assert trained.startswith("3 + 4 = 7") and "<Code>" in trained and "Question" not in trained
    assert all(span.focus == "key" for span in spans if "Question" in span.text)
    assert all(span.focus == "query" for span in spans[spans.index(spans[-3]) :])
    assert any(span.eos and span.trainable for span in spans)


def test_htl_insert_samples_follow_the_ratio_and_train_the_program_only() -> None:
    fmt = HTLFormat(insert_ratio=0.3)
    samples = [Sample(str(i), "toy", "q?", SAMPLE.blocks, "7") for i in range(2000)]
    renderings = [fmt.render(sample) for sample in samples]
    inserts = [spans[1] for spans in renderings if len(spans) == 2]
    assert 0.25 < len(inserts) / len(samples) < 0.35
    trained = "".join(span.text for span in inserts[0] if span.trainable)
    assert trained == "a = 3\nb = a + 4\nprint(b)"
    assert fmt.render(samples[5]) == fmt.render(samples[5])  # the choice is stable


def test_htl_parse_without_program() -> None:
    assert HTLFormat().parse("only words, no program") == (Block("text", "only words, no program"),)
    assert HTLFormat().parse("") == ()


def test_lce_layout_and_round_trip() -> None:
    fmt = LCEFormat(system="Solve.")
    sample = Sample(
        "x",
        "toy",
        "1+1?",
        (
            Block("text", "Compute."),
            Block("code", "1+1"),
            Block("execution", "2"),
            Block("text", "The answer is 2."),
        ),
        "2",
    )
    (spans,) = fmt.render(sample)
    text = joined(spans)
    assert text == (
        "<|system|><|text|>Solve.<|endofblock|><|endofmessage|>"
        "<|user|><|text|>1+1?<|endofblock|><|endofmessage|><|assistant|>"
        "<|text|>Compute.<|endofblock|><|code|>1+1<|endofblock|>"
        "<|execution|>2<|endofblock|><|text|>The answer is 2.<|endofblock|><|endofmessage|><EOS>"
    )
    generated = text.removeprefix(joined(fmt.prompt(sample))).removesuffix("<EOS>")
    assert fmt.parse(generated) == sample.blocks
    executions = [span for span in spans if span.text.startswith("<|execution|>")]
    assert executions and not any(span.trainable for span in executions)


def test_lce_focus_extension_is_opt_in() -> None:
    sample = Sample("x", "toy", "q", (Block("text", "t"), Block("code", "c")), "1")
    assert not any(span.focus for span in LCEFormat().render(sample)[0])
    spans = LCEFormat(focus_code_blocks=True).render(sample)[0]
    assert [span.text for span in spans if span.focus == "key"] == [
        "<|user|><|text|>q<|endofblock|><|endofmessage|>"
    ]
    assert [span.text for span in spans if span.focus == "query"] == ["<|code|>c<|endofblock|>"]


@pytest.mark.parametrize("name", ["svamp", "simuleq"])
def test_lce_reads_and_renders_every_real_trajectory(name: str, shared_data: Path) -> None:
    source = LCETrajectories(shared_data / "trajectories" / f"mathcoder-cl-7b_{name}.jsonl")
    samples = list(source)
    assert len(samples) == {"svamp": 1000, "simuleq": 514}[name]
    fmt = LCEFormat()
    for sample in samples:
        (spans,) = fmt.render(sample)
        generated = joined(spans).removeprefix(joined(fmt.prompt(sample))).removesuffix("<EOS>")
        assert fmt.parse(generated) == sample.blocks
    with_code = sum(bool(sample.blocks_of("code")) for sample in samples)
    assert with_code > 0.9 * len(samples)


@pytest.mark.parametrize(
    ("response", "code"),
    [
        ("<|text|>Add.<|endofblock|><|code|>x = 1 + 1\nx<|endofblock|>", "x = 1 + 1\nx"),
        ("<|code|>x = 1<|endofblock|><|execution|><|endofblock|><|text|>So.<|endofblock|>", None),
        ("<|execution|>2<|endofblock|>", None),  # an output block the model wrote itself
        ("<|code|>x = 1", None),  # not closed yet
    ],
)
def test_lce_runs_the_code_block_just_closed(response: str, code: str | None) -> None:
    assert LCEFormat().code_to_run(response) == code


def test_lce_engine_contract_and_htl_defaults() -> None:
    lce = LCEFormat()
    assert lce.end_strings == ("<|endofmessage|>",)
    assert set(lce.end_strings) <= set(lce.stop_strings) <= set(lce.special_tokens)
    before, after = lce.execution_delimiters
    assert f"{before}2{after}" == "<|execution|>2<|endofblock|>"
    assert lce.forced_continuation("Wait,") == "<|text|>Wait,"
    htl = HTLFormat()  # one round: no block-by-block execution
    assert htl.execution_delimiters is None and htl.end_strings == ()
    assert htl.code_to_run("<Code>\nprint(1)") is None
    assert htl.forced_continuation("Wait,") == "Wait,"

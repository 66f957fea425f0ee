"""Token-level labels and focus tags, checked token by token on rendered examples."""

from __future__ import annotations

from datamodules.formats import HTLFormat, LCEFormat
from datamodules.pipeline.encoding import (
    IGNORE_INDEX,
    collate_prompts,
    collate_training,
    encode_spans,
)
from datamodules.sample import Block, Sample

SAMPLE = Sample(
    "s",
    "toy",
    "Mia has 12 apples. She buys 5 more. How many apples does Mia have now?",
    (Block("text", "12 + 5 = 17. The answer is 17."), Block("code", "x = 12 + 5\nprint(x)")),
    "17",
)


def token_strings(tokenizer, ids) -> list[str]:
    return [tokenizer.decode([token]) for token in ids]


def test_htl_labels_token_by_token(tokenizer) -> None:
    (spans,) = HTLFormat(instruction="Solve.", insert_ratio=0.0).render(SAMPLE)
    encoded = encode_spans(spans, tokenizer)
    tokens = token_strings(tokenizer, encoded.input_ids)
    text_at = tokens.index("<text>")
    code_at = tokens.index("<Code>")
    assert encoded.input_ids[0] == tokenizer.bos_token_id
    assert encoded.input_ids[-1] == tokenizer.eos_token_id
    # Prompt, BOS and the <text> marker: no loss. Reasoning, <Code>, program and EOS: loss.
    assert all(label == IGNORE_INDEX for label in encoded.labels[: text_at + 1])
    assert encoded.labels[text_at + 1 :] == encoded.input_ids[text_at + 1 :]
    assert (
        tokenizer.decode(encoded.input_ids[text_at + 1 : code_at])
        == SAMPLE.blocks[0].content + "\n"
    )
    # Focus: the question's tokens are keys; everything from <Code> on is a query row.
    assert encoded.focus_queries == [i >= code_at for i in range(len(encoded))]
    assert encoded.focus_keys == [0 < i < text_at for i in range(len(encoded))]


def test_htl_insert_sample_trains_only_the_program(tokenizer) -> None:
    fmt = HTLFormat(instruction="Solve.", insert_ratio=1.0)
    _, insert = fmt.render(SAMPLE)
    encoded = encode_spans(insert, tokenizer)
    trained = [
        token for token, label in zip(encoded.input_ids, encoded.labels) if label != IGNORE_INDEX
    ]
    assert tokenizer.decode(trained[:-1]) == SAMPLE.blocks[1].content
    assert trained[-1] == tokenizer.eos_token_id


def test_lce_labels_skip_prompt_and_every_execution_block(tokenizer) -> None:
    sample = Sample(
        "l",
        "toy",
        "What is 2+3?",
        (
            Block("text", "Add."),
            Block("code", "2+3"),
            Block("execution", "5"),
            Block("text", "The answer is 5."),
        ),
        "5",
    )
    (spans,) = LCEFormat(system="Solve.").render(sample)
    encoded = encode_spans(spans, tokenizer)
    tokens = token_strings(tokenizer, encoded.input_ids)
    assistant = tokens.index("<|assistant|>")
    execution = tokens.index("<|execution|>")
    execution_end = execution + tokens[execution:].index("<|endofblock|>")
    for position, (token, label) in enumerate(zip(encoded.input_ids, encoded.labels)):
        in_prompt = position <= assistant
        in_execution = execution <= position <= execution_end
        assert (label == IGNORE_INDEX) == (in_prompt or in_execution), (position, tokens[position])
        if label != IGNORE_INDEX:
            assert label == token
    assert tokens[-2:] == ["<|endofmessage|>", tokenizer.eos_token]
    assert encoded.labels[-1] == tokenizer.eos_token_id


def test_truncation_keeps_alignment(tokenizer) -> None:
    (spans,) = HTLFormat(insert_ratio=0.0).render(SAMPLE)
    encoded = encode_spans(spans, tokenizer)
    cut = encoded.truncated(10)
    assert len(cut) == 10
    assert cut.input_ids == encoded.input_ids[:10] and cut.labels == encoded.labels[:10]
    assert cut.focus_keys == encoded.focus_keys[:10]


def test_collate_pads_right_for_training_and_left_for_prompts(tokenizer) -> None:
    fmt = HTLFormat(insert_ratio=0.0)
    short = Sample("a", "toy", "1?", SAMPLE.blocks, "17")
    sequences = [encode_spans(fmt.render(s)[0], tokenizer) for s in (SAMPLE, short)]
    pad = tokenizer.pad_token_id
    batch = collate_training(sequences, pad)
    n = len(sequences[1])
    assert batch["input_ids"].shape == (2, len(sequences[0]))
    assert batch["attention_mask"][1, :n].all() and not batch["attention_mask"][1, n:].any()
    assert (batch["labels"][1, n:] == IGNORE_INDEX).all()
    assert not batch["focus_queries"][1, n:].any() and not batch["focus_keys"][1, n:].any()
    prompts = collate_prompts([[5, 6, 7], [8]], pad)
    assert prompts["input_ids"].tolist() == [[5, 6, 7], [pad, pad, 8]]
    assert prompts["attention_mask"].tolist() == [[1, 1, 1], [0, 0, 1]]

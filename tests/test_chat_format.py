"""ChatFormat: a format's prompt as the user's turn, its answer markers opening the assistant's."""

from __future__ import annotations

import pytest

from datamodules.formats import HTLFormat, MarkdownFormat
from datamodules.formats.chat import ChatFormat
from datamodules.pipeline.encoding import encode_spans
from datamodules.sources.synthetic import SyntheticProblems

SAMPLE = next(iter(SyntheticProblems(seed=0, count=1)))  # a question, its reasoning and program
QUESTION = f"Question: {SAMPLE.question}\n"


def joined(spans) -> str:
    return "".join("<EOS>" if span.eos else span.text for span in spans)


def test_htl_prompt_is_the_user_turn_and_its_marker_opens_the_answer() -> None:
    chat = ChatFormat(HTLFormat(instruction="Solve."), system="Be brief.")
    assert joined(chat.prompt(SAMPLE)) == (
        "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nSolve.\n"
        f"{QUESTION}<|im_end|>\n<|im_start|>assistant\n<text>"
    )


def test_markdown_prompt_without_markers_is_all_user_turn() -> None:
    chat = ChatFormat(MarkdownFormat(instruction="Solve."))
    text = joined(chat.prompt(SAMPLE))
    assert text.startswith("<|im_start|>user\nSolve.\n\n")
    assert text.endswith("Solution:\n<|im_end|>\n<|im_start|>assistant\n")


def test_render_keeps_the_inner_solution_spans_and_their_roles() -> None:
    inner = HTLFormat(insert_ratio=1.0)  # every sample also gets its insert copy
    chat = ChatFormat(inner)
    wrapped, plain = chat.render(SAMPLE), inner.render(SAMPLE)
    assert len(wrapped) == len(plain) == 2
    prompt = len(inner.prompt(SAMPLE))
    for chat_spans, spans in zip(wrapped, plain):
        assert chat_spans[-(len(spans) - prompt) :] == spans[prompt:]
        assert [s.focus for s in chat_spans if s.focus] == [s.focus for s in spans if s.focus]
        assert not any(span.trainable for span in chat_spans[: -(len(spans) - prompt)])
    generated = joined(wrapped[0]).removeprefix(joined(chat.prompt(SAMPLE))).removesuffix("<EOS>")
    assert chat.parse(generated) == SAMPLE.blocks


def test_a_prompt_opening_with_bos_gets_no_second_one(tokenizer) -> None:
    chat = ChatFormat(HTLFormat(), turn_start=tokenizer.bos_token + "{role}\n")
    ids = encode_spans(chat.prompt(SAMPLE), tokenizer).input_ids
    assert ids[0] == tokenizer.bos_token_id and ids[1] != tokenizer.bos_token_id
    plain = encode_spans(HTLFormat().prompt(SAMPLE), tokenizer).input_ids
    assert plain[0] == tokenizer.bos_token_id  # other prompts still start with BOS


def test_turn_start_needs_a_role_slot() -> None:
    with pytest.raises(ValueError, match="role"):
        ChatFormat(HTLFormat(), turn_start="<|im_start|>")

"""The CoGEX format: layout, round trips, labels token by token, and typed parse failures."""

from __future__ import annotations

import pytest

from datamodules.formats import CoGEXFormat
from datamodules.formats.cogex import Emulation, ParseFailure, cogex_question, read_direct
from datamodules.generators.cogex_tasks import split_tasks
from datamodules.pipeline.encoding import IGNORE_INDEX, encode_spans
from datamodules.sample import Sample

TASK = split_tasks()["held_out"][5]  # split_words -> sort_by_length -> first_letters
SAMPLE = TASK.sample("the happy tiger ate a red mango", "s1")
PROGRAM = "def f(text):\n    words = split_words(text)\n    return {'words': words, 'answer': 2}"


def joined(spans) -> str:
    return "".join("<EOS>" if span.eos else span.text for span in spans)


def generated(fmt: CoGEXFormat, sample: Sample) -> str:
    """What a model that learned the sample perfectly writes after the prompt."""
    text = joined(fmt.render(sample)[0])
    return text.removeprefix(joined(fmt.prompt(sample))).removesuffix("<EOS>")


def test_layout_and_round_trip() -> None:
    fmt = CoGEXFormat()
    (spans,) = fmt.render(SAMPLE)
    assert joined(spans) == (
        "Split the text into words, sort the words by length, then join the first letters of "
        "the words.\nInput: the happy tiger ate a red mango\n"
        f"{TASK.program()}\n"
        f">>> {TASK.function}('the happy tiger ate a red mango')\n"
        "{'words': ['the', 'happy', 'tiger', 'ate', 'a', 'red', 'mango'], "
        "'by_length': ['a', 'the', 'ate', 'red', 'happy', 'tiger', 'mango'], "
        "'initials': 'atarhtm', 'answer': 'atarhtm'}<EOS>"
    )
    text = generated(fmt, SAMPLE)
    assert fmt.parse(text) == SAMPLE.blocks
    reading = fmt.read(text)
    assert isinstance(reading, Emulation)
    assert reading.program == TASK.program() and reading.answer == "atarhtm" == SAMPLE.answer
    assert reading.output == TASK.run("the happy tiger ate a red mango")


def test_labels_token_by_token(tokenizer) -> None:
    fmt = CoGEXFormat()
    (spans,) = fmt.render(SAMPLE)
    encoded = encode_spans(spans, tokenizer)
    prompt_length = len(encode_spans(fmt.prompt(SAMPLE), tokenizer))
    for position, (token, label) in enumerate(zip(encoded.input_ids, encoded.labels)):
        assert label == (IGNORE_INDEX if position < prompt_length else token), position
    trained = [token for token in encoded.labels if token != IGNORE_INDEX]
    assert trained[-1] == tokenizer.eos_token_id
    assert tokenizer.decode(trained[:-1]) == generated(fmt, SAMPLE)
    assert tokenizer.decode(encoded.input_ids[1:prompt_length]) == SAMPLE.question + "\n"


def test_emulation_prompts_are_the_training_tokens_up_to_the_output(tokenizer) -> None:
    fmt = CoGEXFormat()
    full = encode_spans(fmt.render(SAMPLE)[0], tokenizer).input_ids
    program, call = SAMPLE.blocks[0].content, SAMPLE.blocks[1].content
    prompt = encode_spans(fmt.emulation_prompt(SAMPLE, program, call), tokenizer).input_ids
    assert full[: len(prompt)] == prompt and len(prompt) < len(full)
    output = tokenizer.decode(full[len(prompt) : -1])
    assert fmt.read_emulation(program, call, output) == fmt.read(generated(fmt, SAMPLE))


def test_direct_copies_follow_the_ratio_and_train_the_answer_alone() -> None:
    fmt = CoGEXFormat(direct_ratio=0.3)
    samples = [TASK.sample("a sad cat", str(i)) for i in range(2000)]
    directs = [spans[1] for spans in map(fmt.render, samples) if len(spans) == 2]
    assert 0.25 < len(directs) / len(samples) < 0.35
    question = cogex_question(TASK.instruction, "a sad cat")
    assert joined(directs[0]) == f"{question}\nAnswer: asc<EOS>"
    trained = "".join("<EOS>" if s.eos else s.text for s in directs[0] if s.trainable)
    assert trained == " asc<EOS>"
    assert CoGEXFormat(direct_ratio=0.0).render(samples[0]) == [fmt.render(samples[0])[0]]
    with pytest.raises(ValueError, match="direct_ratio"):
        CoGEXFormat(direct_ratio=1.5)


def test_direct_prompt_puts_solved_demonstrations_first() -> None:
    demos = [TASK.sample("a cat", "d1"), TASK.sample("red dog", "d2")]
    text = joined(CoGEXFormat().direct_prompt(SAMPLE, demos))
    assert text == (
        f"{demos[0].question}\nAnswer: {demos[0].answer}\n\n"
        f"{demos[1].question}\nAnswer: {demos[1].answer}\n\n{SAMPLE.question}\nAnswer:"
    )
    assert read_direct(" ataa\n\nSplit the text ...") == "ataa"


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("", "no_program"),
        (">>> f('a')\n{'answer': 1}", "no_program"),
        (PROGRAM, "no_call"),
        (f"{PROGRAM}\n>>> f('a'\n{{'answer': 1}}", "bad_call"),
        (f"{PROGRAM}\n>>> 1 + 2\n{{'answer': 1}}", "bad_call"),
        (f"{PROGRAM}\n>>> f('a')\n{{'answer': 1", "bad_output"),
        (f"{PROGRAM}\n>>> f('a')\n{{'answer': __import__('os')}}", "bad_output"),
        (f"{PROGRAM}\n>>> f('a')\n" + "[" * 3000 + "]" * 3000, "bad_output"),
        (f"{PROGRAM}\n>>> f('a')\n{{'answer': '{'x' * 9000}'}}", "bad_output"),
        (f"{PROGRAM}\n>>> f('a')\n[1, 2]", "not_a_dict"),
        (f"{PROGRAM}\n>>> f('a')\n{{'words': ['a']}}", "no_answer"),
    ],
)
def test_unreadable_generations_are_typed_failures(text: str, kind: str) -> None:
    reading = CoGEXFormat().read(text)
    assert isinstance(reading, ParseFailure) and reading.kind == kind, reading


def test_the_last_call_line_counts_and_programs_survive_a_broken_call() -> None:
    fmt = CoGEXFormat()
    doctest = 'def f(text):\n    """>>> f(\'x\')"""\n    return {\'answer\': 1}'
    reading = fmt.read(f"{doctest}\n>>> f('y')\n{{'answer': 3}}")
    assert isinstance(reading, Emulation) and reading.call == "f('y')" and reading.answer == 3
    assert fmt.read_program(f"{PROGRAM}\n>>> g('a')\n{{") == (PROGRAM, "g")
    assert fmt.read_program(f"{PROGRAM}\n>>> oops(\n") == (PROGRAM, "f")  # the last def
    assert fmt.read_program("no program here") is None
    assert fmt.parse(PROGRAM)[0].content == PROGRAM and fmt.parse("") == ()


def test_render_names_the_sample_without_cogex_blocks() -> None:
    with pytest.raises(ValueError, match="'bare'"):
        CoGEXFormat().render(Sample("bare", "toy", "q", (), "1"))

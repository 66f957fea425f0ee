"""HTL's fallback cascade: unanswered problems are asked for a program alone, then words alone.

The engine is scripted (the generation for each problem and prompt kind is fixed) and so is the
sandbox (each program's result is fixed), so every path through the cascade is exact.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import pytest

from datamodules.formats import HTLFormat, LCEFormat
from datamodules.formats.htl import HTLPartFormat
from datamodules.pipeline.encoding import collate_prompts, encode_many
from datamodules.sample import Block, Problems, Sample
from generation.engine import GenerationEngine, GenerationOptions, Rollout
from grading.answers import AnswerMatcher
from sandbox import ExecutionResult, Outcome
from solving.solver import Solver

RESULTS = {  # program -> what running it gives
    "print(12 + 5)": ExecutionResult(Outcome.OK, "17\n"),
    "print(2 + 3)": ExecutionResult(Outcome.OK, "5\n"),
    "print(1 / 0)": ExecutionResult(Outcome.ERROR, "Traceback", "ZeroDivisionError"),
}
SCRIPT = {  # (problem, stage) -> the model's generation
    ("a", "solution"): "12 + 5 = 17. The answer is 17.\n<Code>\nprint(12 + 5)",
    ("b", "solution"): "2 + 3 = 5. The answer is 5.",  # no program
    ("b", "program"): "print(2 + 3)",
    ("c", "solution"): "4 + 5 = 9.\n<Code>\nprint(1 / 0)",  # crashes
    ("c", "program"): "",  # nothing
    ("c", "words"): "4 + 5 = 9. The answer is 9.",
    ("d", "solution"): "I do not know.",
    ("d", "program"): "print(1 / 0)",
    ("d", "words"): "No idea.",
}
PROBLEMS = {"a": "17", "b": "5", "c": "9", "d": "1"}


class FakeSandbox:
    def run_many(self, programs: list[str]) -> list[ExecutionResult]:
        return [RESULTS[program] for program in programs]


@dataclass
class ScriptedEngine:
    """Stands in for ``GenerationEngine.rollout``: answers each prompt from ``SCRIPT``."""

    calls: list[tuple[str, list[str]]] = field(default_factory=list)

    def rollout(self, engine, model, tokenizer, format, sandbox, input_ids, attention_mask):
        stage = "solution"
        if isinstance(format, HTLPartFormat):
            stage = "program" if format.part == "code" else "words"
        problems = []
        for ids, mask in zip(input_ids, attention_mask):
            prompt = tokenizer.decode(ids[mask.bool()].tolist())
            problems.append(re.search(r"Question: problem (\w)", prompt)[1])
        self.calls.append((stage, problems))
        rollouts = []
        for index in range(len(problems) * engine.options.num_samples):
            text = SCRIPT[(problems[index // engine.options.num_samples], stage)]
            rollout = Rollout(index // engine.options.num_samples, text, [1, 2, 3], [True] * 3)
            program = "\n".join(b.content for b in format.parse(text) if b.kind == "code")
            if program:
                rollout.executions.extend(sandbox.run_many([program]))
            rollouts.append(rollout)
        return rollouts


@pytest.fixture
def scripted(monkeypatch: pytest.MonkeyPatch) -> ScriptedEngine:
    script = ScriptedEngine()
    monkeypatch.setattr(GenerationEngine, "rollout", lambda *args: script.rollout(*args))
    return script


def batch_of(tokenizer, format: HTLFormat, problems: list[str]) -> dict:
    samples = [Sample(p, "toy", f"problem {p}", answer=PROBLEMS[p]) for p in problems]
    encoded = encode_many([format.prompt(sample) for sample in samples], tokenizer)
    prompts = collate_prompts([sequence.input_ids for sequence in encoded], tokenizer.pad_token_id)
    return {
        "prompt_input_ids": prompts["input_ids"],
        "prompt_attention_mask": prompts["attention_mask"],
        "problems": Problems(samples),
    }


def solve(tokenizer, problems: list[str], cascade: bool = True, num_samples: int = 1):
    htl = HTLFormat()
    engine = GenerationEngine(GenerationOptions(num_samples=num_samples))
    solver = Solver(engine, htl, AnswerMatcher(), cascade=cascade)
    return solver.solve(None, tokenizer, FakeSandbox(), batch_of(tokenizer, htl, problems))


def test_each_stage_answers_what_the_previous_one_left_open(tokenizer, scripted) -> None:
    a, b, c, d = solve(tokenizer, ["a", "b", "c", "d"])
    assert scripted.calls == [
        ("solution", ["a", "b", "c", "d"]),
        ("program", ["b", "c", "d"]),
        ("words", ["c", "d"]),
    ]
    assert [s.verdict.stage for s in (a, b, c, d)] == ["solution", "program", "words", "none"]
    assert [s.verdict.correct for s in (a, b, c, d)] == [True, True, True, False]
    assert [len(s.attempts) for s in (a, b, c, d)] == [1, 2, 3, 3]
    assert c.verdict.final_answer == "9" and c.verdict.outcome == "error"
    assert c.verdict.generated_tokens == 9  # three attempts of three tokens
    assert b.verdict.text_correct and not b.verdict.program_correct  # first solution's halves


def test_records_carry_every_attempt_with_its_prompt(tokenizer, scripted) -> None:
    htl = HTLFormat()
    (_, _, record, _) = (solution.record() for solution in solve(tokenizer, list("abcd")))
    assert record["prompt"].endswith("Question: problem c\n<text>")
    assert [attempt["stage"] for attempt in record["fallbacks"]] == ["program", "words"]
    program_try, words_try = record["fallbacks"]
    assert htl.program_instruction in program_try["prompt"]
    assert program_try["prompt"].endswith("<Code>\n") and program_try["executions"] == []
    assert htl.words_instruction in words_try["prompt"]
    assert words_try["generation"] == SCRIPT[("c", "words")]
    assert record["executions"][0]["outcome"] == "error"
    assert record["reasons"][-2] == "words fallback: reasoning: numeric match"


def test_without_the_cascade_nothing_is_asked_again(tokenizer, scripted) -> None:
    solutions = solve(tokenizer, ["a", "b"], cascade=False)
    assert scripted.calls == [("solution", ["a", "b"])]
    assert [s.verdict.stage for s in solutions] == ["solution", "none"]


def test_every_unanswered_sample_is_asked_again_on_its_own(tokenizer, scripted) -> None:
    solutions = solve(tokenizer, ["a", "b"], num_samples=2)
    assert scripted.calls[1] == ("program", ["b", "b"])  # one re-prompt per failed sample
    assert [s.prompt_index for s in solutions] == [0, 0, 1, 1]
    assert [s.verdict.stage for s in solutions] == ["solution", "solution", "program", "program"]


def test_the_cascade_is_htl_only() -> None:
    with pytest.raises(ValueError, match="HTL format"):
        Solver(GenerationEngine(), LCEFormat(), AnswerMatcher(), cascade=True)


def test_part_formats_prompt_with_the_marker_and_parse_one_block() -> None:
    htl = HTLFormat()
    sample = Sample(
        "s", "toy", "2 + 3?", (Block("text", "2 + 3 = 5."), Block("code", "print(2 + 3)")), "5"
    )
    program, words = htl.program_only(), htl.words_only()
    assert "".join(span.text for span in program.prompt(sample)).endswith("2 + 3?\n<Code>\n")
    assert "".join(span.text for span in words.prompt(sample)).endswith("2 + 3?\n<text>")
    assert program.parse("<Code>\nprint(1)\n") == (Block("code", "print(1)"),)
    assert program.parse("\n") == ()
    assert words.parse("It is 5.\n<Code>\nprint(5)") == (Block("text", "It is 5."),)
    (rendered,) = words.render(sample)
    assert [span.text for span in rendered if span.trainable] == ["2 + 3 = 5.\n", ""]
    with pytest.raises(ValueError, match="code-only HTL needs a code block"):
        program.render(Sample("t", "toy", "q", (Block("text", "words"),), "1"))

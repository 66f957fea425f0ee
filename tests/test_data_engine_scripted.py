"""The data engine's workflows end to end at unit scale: a real tiny Llama runs every forward pass
while ScriptedLogits decides what it writes, the sandbox really runs the programs, and the
harvests decide. Self-distillation keeps a program only when it follows the reasoning to the
gold; problem interpolation writes a new problem, then solves it with self-consistency."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import pytest

from datamodules.formats import LCEFormat, SolutionFormat
from datamodules.formats.distill import ReasoningToProgram
from datamodules.formats.problem import NewProblemFormat
from datamodules.pipeline.encoding import collate_prompts, encode_many
from datamodules.sample import Problems, Sample
from datamodules.sources.base import SampleSource
from datamodules.sources.gold_reasoning import GoldReasoning
from datamodules.sources.interpolation import ProblemPairs
from generation.engine import GenerationEngine, GenerationOptions
from generation.scripted import ScriptedLogits
from harvest.generations import Candidate, Decisions, Harvest, NewProblems, VerifiedSolutions
from sandbox import SandboxOptions, SandboxPool
from solving.solver import Solver
from tests.tiny_models import engine_llama


@pytest.fixture(scope="module")
def model(tokenizer):  # type: ignore[no-untyped-def]
    return engine_llama(len(tokenizer))


@pytest.fixture(scope="module")
def pool():  # type: ignore[no-untyped-def]
    with SandboxPool(SandboxOptions(workers=2, wall_time_s=3.0)) as sandbox:
        yield sandbox


@pytest.fixture
def harvest(model, tokenizer, pool, matcher):  # type: ignore[no-untyped-def]
    """Generates ``samples`` solutions per problem (the model writing each problem's script),
    grades them as ``SFTModule.predict_step`` does, and lets ``harvest`` decide."""

    def run(
        fmt: SolutionFormat,
        problems: Sequence[Sample],
        scripts: Sequence[str],
        chooser: Harvest,
        samples: int = 1,
    ) -> list[Decisions]:
        prompts = [e.input_ids for e in encode_many([fmt.prompt(p) for p in problems], tokenizer)]
        scripted = ScriptedLogits(
            {
                tuple(prompt): tokenizer(script, add_special_tokens=False)["input_ids"]
                for prompt, script in zip(prompts, scripts)
            },
            tokenizer.pad_token_id,
            tokenizer.eos_token_id,
        )
        engine = GenerationEngine(GenerationOptions(200, num_samples=samples), [scripted])
        batch = collate_prompts(prompts, tokenizer.pad_token_id)
        solutions = Solver(engine, fmt, matcher).solve(
            model,
            tokenizer,
            pool,
            {
                "prompt_input_ids": batch["input_ids"],
                "prompt_attention_mask": batch["attention_mask"],
                "problems": Problems(problems),
            },
        )
        decisions = []
        for index, problem in enumerate(problems):
            candidates = [
                Candidate.from_record(s.record(), fmt.solution(problem, s.generation))
                for s in solutions
                if s.prompt_index == index
            ]
            decisions.append(chooser.select(problem, candidates, matcher))
        return decisions

    return run


def test_self_distillation_keeps_only_programs_that_reach_the_reasonings_gold(
    harvest, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    record = {
        "question": "Natalia sold clips to 48 friends in April and half as many in May. "
        "How many clips did she sell in April and May?",
        "answer": "She sold 48/2 = <<48/2=24>>24 in May.\n"
        "So 48+24 = <<48+24=72>>72 in all.\n#### 72",
    }
    path = tmp_path / "gsm8k.jsonl"
    path.write_text("".join(json.dumps({**record, "id": f"n{i}"}) + "\n" for i in range(4)))
    problems = [
        Sample(p.id, p.dataset, f"{p.question} ({p.id})", p.blocks, p.answer)
        for p in GoldReasoning(path, layout="gsm8k")  # distinct questions: distinct prompts
    ]
    scripts = [
        "may = 48 / 2\ntotal = 48 + may\nprint(int(total))",  # follows the reasoning
        "print(48 + 48 * 2)",  # does not
        "may = 48 / 0\nprint(48 + may)",  # crashes
        "total = 48 + 24",  # prints nothing
    ]
    fmt = ReasoningToProgram()
    decisions = harvest(fmt, problems, scripts, VerifiedSolutions(agree_with_reasoning=True))
    assert [d.reasons for d in decisions] == [
        ("kept",),
        ("wrong_answer",),
        ("error",),
        ("no_answer",),
    ]
    (sample,) = decisions[0].kept
    assert [block.kind for block in sample.blocks] == ["text", "code"]
    assert sample.blocks[0].content.endswith("So 48+24 = 72 in all.\nThe answer is 72.")
    assert sample.blocks[1].content == scripts[0] and sample.answer == "72"


class Listed(SampleSource):
    def __init__(self, *questions: str) -> None:
        self.samples = [Sample(f"q{i}", "toy", q) for i, q in enumerate(questions)]

    def __iter__(self):  # type: ignore[no-untyped-def]
        return iter(self.samples)


def test_interpolation_writes_a_new_problem_then_solves_it_by_majority(harvest) -> None:  # type: ignore[no-untyped-def]
    pairs = list(
        ProblemPairs(
            Listed("Tom has 3 pens and buys 2 more. How many pens does he have?"),
            Listed("Find the sum of all x such that x^2 - 5x + 6 = 0."),
        )
    )
    written = " A box holds 12 pens and Tom buys 3 boxes. How many pens?\n\nSolution: 36 pens."
    (made,) = harvest(NewProblemFormat(), pairs, [written], NewProblems(k=1), samples=2)
    assert made.reasons == ("kept", "near_duplicate")
    (problem,) = made.kept
    assert problem.question == "A box holds 12 pens and Tom buys 3 boxes. How many pens?"
    assert problem.answer == ""

    solution = (
        "<|text|>Multiply.<|endofblock|><|code|>print(12 * 3)<|endofblock|>"
        "<|text|>The answer is 36.<|endofblock|><|endofmessage|>"
    )
    majority = VerifiedSolutions(reference="majority", min_votes=2, k=1)
    (solved,) = harvest(LCEFormat(), [problem], [solution], majority, samples=3)
    assert solved.reasons == ("kept", "near_duplicate", "near_duplicate")
    (sample,) = solved.kept
    assert sample.answer == "36"
    assert [b.kind for b in sample.blocks] == ["text", "code", "execution", "text"]
    assert sample.blocks[2].content == "36"

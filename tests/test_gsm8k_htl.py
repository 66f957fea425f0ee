"""GSM8K solutions become HTL samples whose programs follow the reasoning and print the gold."""

from __future__ import annotations

import ast
import json
import re
from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path

import pytest

from datamodules.formats import HTLFormat
from datamodules.sample import Block, Sample
from datamodules.sources.gsm8k_htl import (
    GSM8KHTL,
    ConversionError,
    convert_record,
    convert_solution,
)
from grading.extraction import extract_text_answer
from harvest.verified_gsm8k import VerifiedGSM8KHTL, check_programs, printed_answer_matches
from sandbox import SandboxOptions, SandboxPool

NATALIA = {
    "question": "Natalia sold clips to 48 of her friends in April, and then she sold half as many "
    "clips in May. How many clips did Natalia sell altogether in April and May?",
    "answer": "Natalia sold 48/2 = <<48/2=24>>24 clips in May.\n"
    "Natalia sold 48+24 = <<48+24=72>>72 clips altogether in April and May.\n#### 72",
}


@pytest.fixture(scope="module")
def pool() -> Iterator[SandboxPool]:
    with SandboxPool(SandboxOptions(workers=1)) as sandbox:
        yield sandbox


def run(pool: SandboxPool, program: str) -> str:
    result = pool.run(program)
    assert result.ok, result.error
    return result.output.strip()


def test_reused_results_become_variables(pool: SandboxPool) -> None:
    converted = convert_solution(NATALIA["question"], NATALIA["answer"])
    assert converted.program == (
        "clips_may = 48 / 2\ntotal_clips = 48 + clips_may\nprint(total_clips)"
    )
    assert converted.reasoning == (
        "Natalia sold 48/2 = 24 clips in May.\n"
        "Natalia sold 48+24 = 72 clips altogether in April and May.\n"
        "The answer is 72."
    )
    assert converted.answer == "72" and converted.unannotated_steps == 0
    assert run(pool, converted.program) == "72.0"


def test_money_signs_are_kept_in_text_and_dropped_in_code(pool: SandboxPool) -> None:
    converted = convert_solution(
        "Weng earns $12 an hour for babysitting. She did 50 minutes. How much did she earn?",
        "Weng earns 12/60 = $<<12/60=0.2>>0.2 per minute.\n"
        "Working 50 minutes, she earned 0.2 x 50 = $<<0.2*50=10>>10.\n#### 10",
    )
    assert converted.program == "per_minute = 12 / 60\nearned = per_minute * 50\nprint(earned)"
    assert "$0.2 per minute" in converted.reasoning and "<<" not in converted.reasoning
    assert printed_answer_matches(run(pool, converted.program), "10")


def test_percentages_in_annotations_and_in_plain_text(pool: SandboxPool) -> None:
    converted = convert_solution(
        "A $1000 budget: 15% goes to food and 20% of 50 guests are children. What share ...?",
        "Children are 20*.01*50 = <<20*.01*50=10>>10 guests.\n"
        "Food is 15% * $1000=$150\n"
        "Adults are 50-10 = <<50-10=40>>40, which is 40/50 x 100% = 80%\n#### 80",
    )
    assert converted.program.splitlines() == [
        "guests = 20 * 0.01 * 50",
        "food = 15 / 100 * 1000",
        "adults = 50 - guests",
        "step_4 = adults / 50 * 100",
        "print(step_4)",
    ]
    assert converted.unannotated_steps == 2
    assert printed_answer_matches(run(pool, converted.program), "80")


def test_fractions_and_rounded_results(pool: SandboxPool) -> None:
    converted = convert_solution(
        "A cake is cut into 3 equal parts; 3/4 of 20 guests want cake.",
        "Each part is 10/3 = <<10/3=3.33>>3.33 ounces.\n"
        "Wanting cake are 3/4*20 = <<3/4*20=15>>15 guests.\n"
        "Shared by 7, a part is 3.33/7 = <<3.33/7=0.476>>0.476 ounces each.\n"
        "A quarter is <<1/4=1/4>>1/4.\n#### 15",
    )
    lines = converted.program.splitlines()
    assert lines[0] == "ounces = round(10 / 3, 2)"  # the solution rounded: so does the program
    assert lines[2] == "ounces_2 = round(ounces / 7, 3)"
    assert lines[3].endswith("= 1 / 4") and lines[-1] == "print(guests)"
    assert run(pool, converted.program) == "15.0"


def test_commas_in_numbers(pool: SandboxPool) -> None:
    converted = convert_solution(
        "A farm has 1,200 hens and buys 300 more, then sells 1,000 eggs ...",
        "It has 1,200 + 300 = <<1200+300=1500>>1,500 hens.\n"
        "They lay 1,500 x 2 = 3,000 eggs.\n#### 3,000",
    )
    assert converted.answer == "3000" and converted.reasoning.endswith("The answer is 3000.")
    assert converted.program == "hens = 1200 + 300\neggs = hens * 2\nprint(eggs)"
    assert run(pool, converted.program) == "3000"


def test_unused_result_stays_and_the_gold_step_is_printed(pool: SandboxPool) -> None:
    converted = convert_solution(
        "Tom has 3 bags of 4 apples and 5 pears. He doubles his apples. How many apples?",
        "Tom has 3*4 = <<3*4=12>>12 apples.\n"
        "He also has 5+2 = <<5+2=7>>7 pears and plums.\n"
        "Doubled, he has 12*2 = <<12*2=24>>24 apples.\n"
        "With the pears that makes 24+7 = <<24+7=31>>31 fruits.\n#### 24",
    )
    assert converted.program.splitlines() == [
        "apples = 3 * 4",
        "pears_plums = 5 + 2",
        "apples_2 = apples * 2",
        "fruits = apples_2 + pears_plums",
        "print(apples_2)",
    ]
    assert run(pool, converted.program) == "24"


def test_a_repeated_value_names_each_step_that_made_it() -> None:
    converted = convert_solution(
        "Dale and Andrew each eat 2 eggs at $3 each.",
        "Dale's eggs cost 2*3 = <<2*3=6>>6.\nAndrew's eggs cost 2*3 = <<2*3=6>>6.\n"
        "Together 6+6 = <<6+6=12>>12.\n#### 12",
    )
    assert converted.program.splitlines()[2] == "together = dale_eggs + andrew_eggs"


def test_unannotated_last_step_is_taken_when_it_computes() -> None:
    converted = convert_solution(
        "Carlos memorized 24 digits of pi in 6 days; Sam 6 more than Carlos per day.",
        "Carlos memorized 24/6=<<24/6=4>>4 digits of pi.\nSam memorized 4+6=10 digits of pi.\n"
        "#### 10",
    )
    assert (
        converted.program == "digits_pi = 24 / 6\ndigits_pi_2 = digits_pi + 6\nprint(digits_pi_2)"
    )
    assert converted.unannotated_steps == 1


def test_a_conventional_constant_is_not_taken_for_an_earlier_result() -> None:
    solution = "He has 1+1 = <<1+1=2>>2 boxes.\nThey hold 12/2 = <<12/2=6>>6 each.\n#### 6"
    with_half = convert_solution("He puts half of 12 cakes in each of 2 boxes.", solution)
    assert with_half.program.splitlines()[1] == "hold = 12 / 2"
    plain = convert_solution("He puts 12 cakes in boxes.", solution)
    assert plain.program.splitlines()[1] == "hold = 12 / boxes"


def test_floor_division_and_bracket_multiplication() -> None:
    converted = convert_solution(
        "560 crackers, 10 a night; a third of 27 unicorns ...",
        "They last 560//10 = <<560//10=56>>56 nights.\nThere are 27(1/3)=9 unicorns\n#### 56",
    )
    assert converted.program.splitlines()[:2] == ["nights = 560 // 10", "unicorns = 27 * (1 / 3)"]


@pytest.mark.parametrize(
    ("solution", "reason"),
    [
        ("He has 48/2 = <<48/2>>24.\n#### 24", "malformed_annotation"),
        ("He has 48/2 = <<48/2=24 clips.\n#### 24", "malformed_annotation"),
        ("He has <<2 apples*3=6>>6.\n#### 6", "malformed_annotation"),
        ("He has <<2*3=seven>>7.\n#### 7", "malformed_annotation"),
        ("He has 2*3 = <<2*3=7>>7.\n#### 7", "annotation_arithmetic"),
        ("He has <<5/0=0>>0.\n#### 0", "annotation_arithmetic"),
        ("He has 2*3 = <<2*3=6>>6.", "no_final_answer"),
        ("He has 2*3 = <<2*3=6>>6.\n#### six", "non_numeric_answer"),
        ("Let x be the cost. 3x = 30 so x = 10.\n#### 10", "no_steps"),
        ("He has 2*3 = <<2*3=6>>6 and then 9 more.\n#### 15", "answer_not_computed"),
    ],
)
def test_unconvertible_solutions_name_their_reason(solution: str, reason: str) -> None:
    with pytest.raises(ConversionError) as error:
        convert_solution("How many?", solution)
    assert error.value.reason == reason


def test_record_becomes_an_htl_sample() -> None:
    sample = convert_record(NATALIA, "gsm8k-train-1")
    assert (sample.id, sample.dataset, sample.answer) == ("gsm8k-train-1", "gsm8k", "72")
    assert [block.kind for block in sample.blocks] == ["text", "code"]
    assert extract_text_answer(sample.blocks[0].content) == "72"
    assert HTLFormat().render(sample)  # the format accepts it: a text and a code block
    with pytest.raises(ConversionError, match="unreadable_record"):
        convert_record({"question": "q"}, "x")


@pytest.mark.parametrize(
    ("output", "gold", "expected"),
    [
        ("24.0\n", "24", True),
        ("0.30000000000000004\n", "0.3", True),
        ("noise\n118000.00000001\n", "118000", True),
        ("25\n", "24", False),
        ("24.001\n", "24", False),
        ("", "24", False),
        ("Traceback ... Error\n", "24", False),
    ],
)
def test_printed_answer_is_compared_as_a_number(output: str, gold: str, expected: bool) -> None:
    assert printed_answer_matches(output, gold) is expected


def test_check_runs_programs_in_the_sandbox(pool: SandboxPool) -> None:
    def sample(program: str) -> Sample:
        return Sample("s", "gsm8k", "q", (Block("text", "t"), Block("code", program)), "6")

    good, wrong, crash = sample("x = 2 * 3\nprint(x)"), sample("print(7)"), sample("print(1/0)")
    verdicts = check_programs([good, wrong, crash], pool)
    assert verdicts[0] is None
    assert verdicts[1] is not None and verdicts[1].reason == "execution_mismatch"
    assert verdicts[2] is not None and verdicts[2].reason == "execution_failed"
    assert "ZeroDivisionError" in verdicts[2].detail


def test_source_keeps_verified_samples_and_counts_the_rest(tmp_path: Path) -> None:
    six = {"question": "q?", "answer": "It is 2*3 = <<2*3=6>>6.\n#### 6"}
    records = [
        json.dumps(NATALIA),
        "{not json",
        json.dumps({"question": "q?", "answer": "No numbers here.\n#### 4"}),
        json.dumps(six),
        json.dumps(NATALIA),
    ]
    path = tmp_path / "train.jsonl"
    path.write_text("\n".join(records) + "\n", encoding="utf-8")
    source = VerifiedGSM8KHTL(str(path))
    samples = list(source)
    assert [sample.id for sample in samples] == ["gsm8k-train-1", "gsm8k-train-4", "gsm8k-train-5"]
    assert source.skipped == 2
    assert source.failures == {"unreadable_record": 1, "no_steps": 1}
    assert source.examples["no_steps"].startswith("gsm8k-train-3:")
    limited = GSM8KHTL(str(path), limit=2)
    assert [sample.id for sample in limited] == ["gsm8k-train-1"] and limited.skipped == 1
    with pytest.raises(FileNotFoundError, match="nowhere"):
        list(VerifiedGSM8KHTL(str(tmp_path / "nowhere.jsonl")))


def test_without_a_path_the_hub_copy_is_loaded(monkeypatch: pytest.MonkeyPatch) -> None:
    import datasets

    calls = []

    def load_dataset(*args: object, **kwargs: object) -> list[dict[str, str]]:
        calls.append((args, kwargs))
        return [NATALIA, NATALIA]

    monkeypatch.setattr(datasets, "load_dataset", load_dataset)
    samples = list(GSM8KHTL(split="test", limit=1))
    assert calls == [(("openai/gsm8k", "main"), {"split": "test"})]
    assert [sample.id for sample in samples] == ["gsm8k-test-1"]


def test_real_solutions_convert_and_their_programs_print_the_gold(
    pool: SandboxPool, shared_data: Path
) -> None:
    """The first 300 training problems: most convert, every converted program prints the gold
    in the sandbox, and its numbers are the reasoning's numbers."""
    source = GSM8KHTL(str(shared_data / "benchmarks" / "gsm8k" / "train.jsonl"), limit=300)
    samples = list(source)
    assert len(samples) >= 285, dict(source.failures)
    assert check_programs(samples, pool) == [None] * len(samples)
    for sample in samples:
        reasoning, program = (block.content for block in sample.blocks)
        stated = {
            Fraction(n.replace(",", "")) for n in re.findall(r"\d[\d,]*\.?\d*|\.\d+", reasoning)
        }
        stated |= {Fraction(100), Fraction(1, 100)} if "%" in reasoning else set()
        tree = ast.parse(program)
        rounding = {id(call.args[1]) for call in ast.walk(tree) if _is_round(call)}
        literals = {
            Fraction(str(node.value))
            for node in ast.walk(tree)
            if isinstance(node, ast.Constant) and id(node) not in rounding
        }
        assert literals <= stated, (sample.id, reasoning, program)
        assert reasoning.endswith(f"The answer is {sample.answer}.")


def _is_round(node: ast.AST) -> bool:
    return (
        isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "round"
    )

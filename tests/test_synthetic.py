"""The embedded default dataset: deterministic, varied, and its solutions really work."""

from __future__ import annotations

import re
import subprocess
import sys
from collections import Counter

from datamodules.generators.synthetic import generate_problems


def operations(program: str) -> int:
    return len(re.findall(r" (?:\+|-|\*|//) ", program))


def test_same_seed_same_problems_and_different_seed_different_problems() -> None:
    assert list(generate_problems(7, 50)) == list(generate_problems(7, 50))
    first = {sample.question for sample in generate_problems(0, 2000)}
    second = {sample.question for sample in generate_problems(1, 2000)}
    assert len(first & second) < 5  # distinct seeds rarely collide; the datamodule removes any


def test_step_mix_numbers_and_variety() -> None:
    samples = list(generate_problems(0, 3000))
    steps = Counter(operations(sample.blocks[1].content) for sample in samples)
    assert set(steps) == {1, 2, 3}
    assert steps[2] / len(samples) >= 0.40 and steps[3] / len(samples) >= 0.15
    numbers = [int(n) for s in samples for n in re.findall(r"\d+", s.question)]
    assert max(numbers) <= 999
    assert len({s.question.split()[0] for s in samples}) >= 20  # names
    assert all(float(s.answer) == int(s.answer) >= 0 for s in samples)
    ops = Counter(op for s in samples for op in re.findall(r" (\+|-|\*|//) ", s.blocks[1].content))
    assert all(ops[op] > 0.1 * sum(ops.values()) for op in ("+", "-", "*", "//"))


def test_programs_print_the_gold_answer_and_reasoning_states_it() -> None:
    samples = list(generate_problems(3, 200))
    script = "\n".join(f"exec({sample.blocks[1].content!r}, {{}})" for sample in samples)
    printed = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    ).stdout.split()
    assert printed == [sample.answer for sample in samples]
    for sample in samples:
        assert sample.blocks[0].content.endswith(f"The answer is {sample.answer}.")
        # The program uses only numbers that the reasoning states (focus attention relies on it).
        reasoning_numbers = set(re.findall(r"\d+", sample.blocks[0].content))
        program_numbers = set(re.findall(r"(?<![_\w])\d+", sample.blocks[1].content))
        assert program_numbers <= reasoning_numbers

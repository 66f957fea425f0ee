"""Final-answer extraction from reasoning text and from program output."""

from __future__ import annotations

import time

import pytest

from datamodules.latex import final_boxed
from grading.answers import extract_program_answer, extract_text_answer


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("So she makes 9 * 2 = 18 dollars.\nThe answer is 18.", "18"),
        ("The answer is $\\frac{1}{2}$. Then we stop.", "$\\frac{1}{2}$"),
        ("the answer is not 5, the answer is 6", "6"),
        ("The final answer is:\n\n$18$", "$18$"),
        ("Answer: B", "B"),
        ("Therefore \\boxed{\\frac{\\sqrt{3}}{2}} is the value.", "\\frac{\\sqrt{3}}{2}"),
        ("First \\boxed{1}, finally \\boxed{2}.", "2"),
        ("A set: \\boxed{\\{1, 2\\}}", "\\{1, 2\\}"),
        ("Complete \\boxed{7} then truncated \\boxed{12", "7"),
        ("So the answer is \\boxed 5", "5"),
        ("The answer is $\\boxed{42}$.", "42"),
        ("She pays 3 * 2 = <<3*2=6>>6.\n#### 1,234", "1,234"),
        ("**Step 1:** add 3 and 4 to get 7.\n\nTotal: **$1,234**", "$1,234"),
        ("**Step 2** was hard; there are 5 apples left", "5"),
        ("x is -3 and then 5-2", "2"),
        ("The numbers are 1,2,3", "3"),
        ("He has 1,234 coins", "1,234"),
        ("Half of it: 3/4", "3/4"),
        ("\\frac{9}{10}", "\\frac{9}{10}"),
        ("So it is \\dfrac{9}{10} of the tank", "\\dfrac{9}{10}"),
        ("63,21", "63,21"),
        ("x = 5, y = 6.", "x = 5, y = 6"),
        ("10,000{dollars}", "10,000"),
        ("no numbers at all", None),
        ("", None),
    ],
)
def test_extract_text_answer(text: str, expected: str | None) -> None:
    assert extract_text_answer(text) == expected


@pytest.mark.parametrize(
    ("output", "expected"),
    [
        ("42\n", "42"),
        ("step 1 done\n42\n\n", "42"),
        ("(15, 9)", "(15, 9)"),
        ("[(15, 9)]", "(15, 9)"),
        ("{x: 137, y: 388}", "x = 137, y = 388"),
        ("{x: 4.00000000000000}", "4.00000000000000"),
        ("np.float64(5.0)", "5.0"),
        ("Decimal('5.00')", "5.00"),
        ("Fraction(1, 2)", "1/2"),
        ("(5,)", "5"),
        ("[7]", "7"),
        ("array([3])", "3"),
        ("[1, 2, 3]", "[1, 2, 3]"),
        ("sqrt(2)/2", "sqrt(2)/2"),
        ("x**2 + 1", "x**2 + 1"),
        ("Total cost: $42", "42"),
        ("The answer is 17 apples", "17"),
        ("Traceback (most recent call last):\n  File x\nZeroDivisionError: division by 0", None),
        ("KeyboardInterrupt", None),
        ("", None),
        ("   \n\t", None),
    ],
)
def test_extract_program_answer(output: str, expected: str | None) -> None:
    assert extract_program_answer(output) == expected


def test_program_answer_of_none_output() -> None:
    assert extract_program_answer(None) is None


def test_final_boxed_ignores_escaped_braces_when_balancing() -> None:
    assert final_boxed("\\boxed{\\{1\\}}. Then \\boxed{x^{2}}") == "x^{2}"
    assert final_boxed("\\boxed{\\{1\\}} and \\boxed{x^{2}}") == "\\{1\\}, x^{2}"
    assert final_boxed("\\fbox{3}") == "3"
    assert final_boxed("no box") is None
    assert final_boxed("\\boxed{") is None


MEGABYTE = 1_000_000
ADVERSARIAL_TEXTS = {
    "unclosed boxes": "\\boxed{" * (MEGABYTE // 7),
    "open braces": "{" * MEGABYTE,
    "answer markers": "answer is " * (MEGABYTE // 10),
    "marker then spaces": "answer" + " " * MEGABYTE,
    "hashes": "#" * MEGABYTE,
    "stars": "*" * MEGABYTE,
    "bold words": "**a** " * (MEGABYTE // 6),
    "thousands": "1," * (MEGABYTE // 2),
    "digits": "9" * MEGABYTE,
    "unicode digits": "٣" * MEGABYTE,
    "nested text": "\\text{" * (MEGABYTE // 12) + "}" * (MEGABYTE // 12),
    "dots": "." * MEGABYTE + "x",
    "answer then open inline math": "The answer is " + "\\(" * (MEGABYTE // 2),
    "answer then an unclosed matrix": "Answer: \\begin{pmatrix}" + "1 & " * (MEGABYTE // 4),
    "cases ends": "\\end{cases}" * (MEGABYTE // 11),
    "relations": "x < " * (MEGABYTE // 4) + "5",
    "adjacent boxes": "\\boxed{1} and " * (MEGABYTE // 14),
    "next-turn markers": "<|im_end|>" * (MEGABYTE // 10),
    "dollar signs": "$" * MEGABYTE,
    "inline maths joined by and": "$1$ and " * (MEGABYTE // 8),
    "open inline maths": "\\(" * (MEGABYTE // 2) + "1",
    "display maths": "$$1" * (MEGABYTE // 3),
    "no digits, inline maths": "$x$ " * (MEGABYTE // 4),
}


@pytest.mark.slow  # a wall-clock bound: the fast subset stays load-proof
@pytest.mark.parametrize("name", ADVERSARIAL_TEXTS)
def test_extraction_is_fast_on_megabyte_inputs(name: str) -> None:
    text = ADVERSARIAL_TEXTS[name]
    start = time.perf_counter()
    extract_text_answer(text)
    extract_program_answer(text)
    assert time.perf_counter() - start < 3.0

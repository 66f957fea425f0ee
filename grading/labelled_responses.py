"""Labelled free-form responses, class by class: ``(response, gold, correct)`` for the shapes a
final answer takes in model outputs (thousands separators, final-answer sentences, words and
units, relations, several boxes, matrices, ``cases`` environments).

The grading tests assert every verdict, and ``benchmarks/speed/answer_matching.py`` grades the
same cases with math-verify: one set of labels, kept apart from both. Golds marked ``# MATH n``
are the real gold of row ``idx == n`` of ``../shared/data/benchmarks/math/test.jsonl``; responses
quoted from a real solution say so; the rest are written by hand in the shapes seen in model
outputs.
"""

from __future__ import annotations

Case = tuple[str, str, bool]  # response, gold, whether the response's answer matches the gold

THOUSANDS: list[Case] = [
    ("The final answer is $10,455$.", "10455", True),
    ("\\boxed{11,\\! 111,\\! 111,\\! 100}", "11111111100", True),
    ("So she needs $\\boxed{15000}$ dollars.", "\\$15,\\!000", True),  # MATH 259
    ("The answer is 16386.16", "\\$16,\\!386.16", True),  # MATH 345
    ("The total is \\boxed{32,348}.", "\\$32,\\!348", True),  # MATH 782
    ("There are 14400 ways.", "14,\\!400", True),  # MATH 1200
    ("The answer is $17{,}280$.", "17,\\!280", True),  # MATH 1211
    ("\\boxed{371043400}", "371,\\!043,\\!400", True),  # MATH 1253
    ("so the total is $3,\\!110,\\!400$", "3110400", True),
    ("The number of hands is 2,598,960.", "2,\\!598,\\!960", True),  # MATH 1358
    ("\\boxed{\\frac{12}{5525}}", "\\frac{12}{5,\\!525}", True),  # MATH 1598
    ("\\boxed{8880}", "8{,}880", True),  # MATH 3139
    ("The final answer is $1\\,000\\,000$.", "1000000", True),
    ("\\boxed{15,600}", "15,600", True),  # MATH 1468
    ("\\boxed{10,\\!455}", "10456", False),
    ("\\boxed{1,\\!000}", "1", False),
    ("The roots are $1, 234$", "1234", False),  # a list, not a thousands separator
]

FINAL_ANSWER_SENTENCES: list[Case] = [
    ("Final Answer: The final answer is $34$. I hope it is correct.", "34", True),
    ("Final Answer: The largest $n$ is 34. I hope it is correct.", "34", True),
    (
        "Final Answer: The final answer is $\\frac{1}{2}$. I hope it is correct.<|im_end|>\n"
        "<|im_start|>user\nNow solve 3 + 4. The answer is 7.",
        "\\frac12",
        True,
    ),
    (
        "So the answer is 5.<|eot_id|><|start_header_id|>user<|end_header_id|>\n\n"
        "Next: what is 4 + 5? \\boxed{9}",
        "5",
        True,
    ),
    ("The answer is 12.</s>The answer is 13.", "12", True),
    ("The answer is 3<end_of_turn>\n<start_of_turn>user\nThe answer is 4", "3", True),
    (
        "Final Answer: The final answer is $3$. I hope it is correct.\n\nProblem:\n"
        "What is $2+2$?\n\nSolution: Final Answer: The final answer is $4$.",
        "3",
        True,
    ),
    ("Final Answer: The final answer is 10. I hope it is correct.", "11", False),
    ("Final Answer: The function is odd. I hope it is correct.", "\\text{odd}", True),
    ("Final Answer: The final answer is $(3, -1)$. I hope it is correct.", "(3,-1)", True),
    ("Final Answer: The final answer is $x^2+7x+10$. I hope it is correct.", "(x+2)(x+5)", True),
    ("Final Answer: There are 12 ways. I hope it is correct.", "12", True),
    ("Final Answer: The final answer is 5 I hope it is correct", "5", True),
    ("Final answer: $\\$42.50$. I hope it is correct.", "42.5", True),
    ("Final Answer: The smallest possible value of $a$ is $-2$. I hope it is correct.", "-2", True),
    ("Final Answer: The answer is 6.<|endoftext|>Final Answer: The answer is 8.", "8", False),
    ("Final Answer: The perimeter is 24 units. I hope it is correct.<|im_end|>", "24", True),
    ("The answer is: 5 apples are left.", "5", True),
    ("The answer is: Sara has 18 dollars left.", "18", True),
    ("Final Answer: Adam loses \\$16. I hope it is correct.", "16", True),
    ("The answer is 3 hours and 20 minutes.", "20", False),
    ("The answer is: there are no solutions with n > 5.", "5", False),
    # worked sums before the value (SmolLM2-135M-Instruct's own answer to GSM8K test row 2)
    ("The answer is 2 + 1 = 3 bolts of blue fiber.", "3", True),
    ("The answer is 2 + 1 = 3 bolts of blue fiber.", "2", False),
    ("So the answer is 12 * 4 = 48.", "48", True),
    ("The answer is 7 - 2 = 5 = 5 apples.", "5", True),
    ("The answer is 1,000 + 200 = 1,200 dollars.", "1200", True),
]

TEXT_WORDS_AND_UNITS: list[Case] = [
    ("\\boxed{\\text{Adam loses \\$16.}}", "\\text{Adam loses \\$16}", True),
    ("\\boxed{\\text{Adam loses \\$16.}}", "Adam gains \\$16", False),
    ("The function is $\\boxed{\\text{odd}}$.", "odd", True),
    ("The function is $\\boxed{\\text{even}}$.", "\\text{odd}", False),  # MATH 2173
    ("The answer is \\boxed{\\text{E}}", "E", True),
    ("\\boxed{\\textbf{(C)}}", "\\text{(C)}", True),  # MATH 808
    ("His speed is $\\boxed{52 \\, \\text{WPM}}$.", "52", True),
    ("\\boxed{575}", "575\\text{ students}", True),  # MATH 175
    ("\\boxed{\\frac{68}{3}}", "\\frac{68}{3}\\text{ pounds}", True),  # MATH 268
    ("The area is \\boxed{440}.", "440\\text{ cm}^2", True),  # MATH 526
    ("\\boxed{19, 43}", "19 \\text{ and }43", True),  # MATH 644
    ("\\boxed{\\text{June 20}}", "\\text{June 20}", True),  # MATH 655
    ("There are \\boxed{18} ways.", "18\\text{ ways.}", True),  # MATH 1309
    ("\\boxed{\\frac{3\\pi}{4}}", "\\frac{3}{4}\\pi\\text{ inches}", True),  # MATH 1707
    ("\\boxed{8\\sqrt{3}}", "8\\sqrt{3} \\text { square inches}", True),  # MATH 1991
    ("\\boxed{9\\sqrt{3}}", "8\\sqrt{3} \\text { square inches}", False),
    ("\\boxed{13}", "\\text{13}", True),  # MATH 2013
    ("\\boxed{\\text{neither}}", "\\text{neither}", True),  # MATH 2141
    ("\\boxed{10}", "10\\;\\text{edges}", True),  # MATH 1787
    ("\\boxed{144}", "144 \\mbox{ m}^3", True),  # MATH 1958
    ("\\boxed{25\\text{ km}}", "25 \\, \\text{km}", True),  # MATH 2086
    ("\\boxed{\\text{Monday}}", "\\text{Tuesday}", False),
    ("\\boxed{\\text{(D)}}", "\\text{D}", True),  # MATH 2157
]

RELATIONS: list[Case] = [
    ("\\boxed{x \\geq 5}", "5", False),
    ("\\boxed{5}", "x \\geq 5", False),
    ("\\boxed{x \\ge 5}", "x \\geq 5", True),
    ("\\boxed{x >= 5}", "x \\geq 5", True),
    ("\\boxed{5 \\leq x}", "x \\geq 5", True),
    ("\\boxed{x \\neq 5}", "5", False),
    ("\\boxed{x \\ne 5}", "x \\neq 5", True),
    ("\\boxed{x \\lt 3}", "x < 3", True),
    ("\\boxed{x <= 3}", "x \\le 3", True),
    ("\\boxed{x < 3}", "x \\le 3", False),
    ("\\boxed{x > 3}", "x < 3", False),
    ("So the solution set is $x \\geq 5$", "[5, \\infty)", True),
    ("So the solution set is $x \\geq 5$", "5", False),
    ("\\boxed{[5, \\infty)}", "x \\geq 5", True),
    ("Therefore n < 7.", "7", False),
    ("so f(x) > 3", "3", False),
    ("\\boxed{f(2) < f(1) < f(4)}", "f(2) < f(1) < f(4)", True),  # MATH 2498
    ("\\boxed{f(4)}", "f(2) < f(1) < f(4)", False),  # MATH 2498
    ("The answer is $x \\neq 2$", "x \\ne 2", True),
    ("\\boxed{-2 < x < 3}", "(-2, 3)", True),
]

SEVERAL_BOXES: list[Case] = [
    # MATH 414, the end of its real solution
    ("Therefore, the answers are $\\boxed{-2}$ and $\\boxed{1}$.", "-2, 1", True),
    ("Therefore, the answers are $\\boxed{-2}$ and $\\boxed{1}$.", "1", False),
    ("\\boxed{1} and \\boxed{-2}", "-2, 1", True),
    ("The roots are \\boxed{1}, \\boxed{2}.", "\\boxed{1}\\boxed{2}", True),
    ("\\boxed{2}", "\\boxed{1}\\boxed{2}", False),
    # MATH 318: a restatement after "- OR -"
    (
        "the sum of all solutions is $\\boxed{0}$.\n\n- OR -\n\nThe equation should jump out "
        "as a 6-8-10 Pythagorean triple. Thus, $x = 8$ or $x = -8$, and the sum of all "
        "solutions is $\\boxed{0}$, as before.",
        "0",
        True,
    ),
    # MATH 333: boxes parted by a sentence are alternatives: the last one is the answer
    ("from which we find $d=\\boxed{-3}$.\n\nNote: $\\boxed{3}$ is also accepted.", "3", True),
    ("from which we find $d=\\boxed{-3}$.\n\nNote: $\\boxed{3}$ is also accepted.", "-3", False),
    ("$x = \\boxed{3}$ or $x = \\boxed{-3}$", "-3", True),  # "x =" parts them: the last wins
    ("\\boxed{2}, \\boxed{3}, \\boxed{5}", "2, 3, 5", True),
    ("\\boxed{2}, \\boxed{3}, \\boxed{5}", "5", False),
    ("The solutions are \\boxed{3} \\text{ and } \\boxed{-1}", "-1, 3", True),
    ("\\boxed{x=2}, \\boxed{y=3}", "x=2, y=3", True),
    ("Step 1 gives \\boxed{4}. Then step 2 gives \\boxed{7}.", "7", True),
    ("\\boxed{1}\\quad\\boxed{2}", "\\{1, 2\\}", True),
    ("\\boxed{x+11} or \\boxed{11+x}", "11+x", True),  # MATH 3628: a restatement
    # MATH 2703: "or" between two solutions still reads the last box, as the dataset's gold does
    ("Hence, $x$ must be $\\boxed{3}$ or $\\boxed{\\frac{2}{5}}$.", "\\frac{2}{5}", True),
    ("$\\boxed{1}$; $\\boxed{2}$", "1, 2", True),
]

MATRICES: list[Case] = [
    (
        "The answer is:\n$$\n\\begin{pmatrix}\n6 \\\\\n3 \\\\\n0\n\\end{pmatrix}\n$$\nDone.",
        "\\begin{pmatrix} 6 \\\\ 3 \\\\ 0 \\end{pmatrix}",  # MATH 4459
        True,
    ),
    (
        "\\boxed{\\begin{pmatrix}\n0 & 0 & 0 \\\\\n0 & 1 & 0 \\\\\n0 & 0 & 0\n\\end{pmatrix}}",
        "\\begin{pmatrix} 0 & 0 & 0 \\\\ 0 & 1 & 0 \\\\ 0 & 0 & 0 \\end{pmatrix}",  # MATH 4469
        True,
    ),
    (
        "\\boxed{\\begin{bmatrix} 1 \\\\ 4 \\\\ 3 \\end{bmatrix}}",
        "\\begin{pmatrix} 1 \\\\ 4 \\\\ 3 \\end{pmatrix}",  # MATH 4462
        True,
    ),
    (
        "\\boxed{\\begin{pmatrix} 1 & 4 & 3 \\end{pmatrix}}",
        "\\begin{pmatrix} 1 \\\\ 4 \\\\ 3 \\end{pmatrix}",  # a row is not a column
        False,
    ),
    (
        "\\boxed{\\begin{pmatrix}4033&-8064\\\\2016&-4031\\end{pmatrix}}",
        "\\begin{pmatrix} 4033 & -8064 \\\\ 2016 & -4031 \\end{pmatrix}",  # MATH 4472
        True,
    ),
    (
        "The answer is $\\begin{pmatrix} 31 & 50 \\\\ -18 & -29 \\end{pmatrix}$.",
        "\\begin{pmatrix} 31 & 50 \\\\ -18 & -29 \\end{pmatrix}",  # MATH 4474
        True,
    ),
    (
        "The answer is $\\begin{pmatrix} 31 & 50 \\\\ 18 & -29 \\end{pmatrix}$.",
        "\\begin{pmatrix} 31 & 50 \\\\ -18 & -29 \\end{pmatrix}",  # MATH 4474
        False,
    ),
    (
        "Final Answer: The final answer is $\\begin{pmatrix} -5 \\\\ 2 \\end{pmatrix}$. "
        "I hope it is correct.",
        "\\begin{pmatrix} -5 \\\\ 2 \\end{pmatrix}",  # MATH 4475
        True,
    ),
    (
        "\\boxed{\\begin{pmatrix} \\frac{48}{65} \\\\ \\frac{6}{65} \\end{pmatrix}}",
        "\\begin{pmatrix} 48/65 \\\\ 6/65 \\end{pmatrix}",  # MATH 4476
        True,
    ),
    (
        "\\boxed{\\begin{pmatrix} 0.2 & 0.8 \\\\ 0 & 1 \\end{pmatrix}}",
        "\\begin{pmatrix} 1/5 & 4/5 \\\\ 0 & 1 \\end{pmatrix}",  # MATH 4477
        True,
    ),
    (
        "The answer is\n\\[\n\\begin{pmatrix} 23/8 \\\\\n 7/4 \\end{pmatrix}\n\\]",
        "\\begin{pmatrix} 23/8 \\\\ 7/4 \\end{pmatrix}",  # MATH 4510
        True,
    ),
    (
        "Answer: \\begin{pmatrix} 3/5 \\\\\n57/5 \\end{pmatrix}",
        "\\begin{pmatrix} 3/5 \\\\ 57/5 \\end{pmatrix}",  # MATH 4505
        True,
    ),
    (
        "\\boxed{\\begin{pmatrix} -5 \\\\ 2 \\end{pmatrix}}",
        "\\begin{pmatrix} 5 \\\\ -2 \\end{pmatrix}",
        False,
    ),
    (
        "So $\\mathbf{M} = \\boxed{\\begin{pmatrix} 2 & 0 \\\\ 0 & 2 \\end{pmatrix}}$.",
        "\\begin{pmatrix}2&0\\\\0&2\\end{pmatrix}",
        True,
    ),
    (
        "\\boxed{\\left(\\begin{matrix} 1 \\\\ 2 \\end{matrix}\\right)}",
        "\\begin{pmatrix} 1 \\\\ 2 \\end{pmatrix}",
        True,
    ),
    (
        "\\boxed{\\begin{pmatrix} 1 & 2 \\\\ 3 & 4 \\end{pmatrix}}",
        "\\begin{pmatrix} 1 & 3 \\\\ 2 & 4 \\end{pmatrix}",  # the transpose
        False,
    ),
]

CASES: list[Case] = [
    (
        "Solving the system\n$$\\begin{cases} x + y = 10 \\\\ x - y = 2 \\end{cases}$$\n"
        "Thus $x = 6$.",
        "6",
        True,
    ),
    (
        "$$\\begin{cases} x = \\boxed{6} \\\\ y = \\boxed{4} \\end{cases}$$\n"
        "So there are 6 chickens.",
        "6",
        True,
    ),
    (
        "$$\\begin{cases} x = \\boxed{6} \\\\ y = \\boxed{4} \\end{cases}$$\n"
        "So there are 6 chickens.",
        "4",
        False,
    ),
    ("The answer is:\n\\[\\begin{cases} x = 2 \\\\ y = 3 \\end{cases}\\]", "x=2, y=3", True),
    ("The answer is:\n\\[\\begin{cases} x = 2 \\\\ y = 3 \\end{cases}\\]", "2", False),
    (
        "$$f(x) = \\begin{cases} x+2 & x<3 \\\\ 2x & x \\ge 3 \\end{cases}$$\nSo $f(5) = 10$.",
        "10",
        True,
    ),
    ("Answer: $\\begin{cases} x = 6 \\\\ y = 4 \\end{cases}$", "x = 6, y = 4", True),
    ("\\boxed{\\begin{cases} x = 6 \\\\ y &= 4 \\end{cases}}", "y = 4, x = 6", True),
    (
        "\\begin{cases} 2a + b = 7 \\\\ a - b = 2 \\end{cases}\n"
        "Adding the equations gives 3a = 9, so a = 3.",
        "3",
        True,
    ),
    (
        "$$\\begin{cases} c + t = 9 \\\\ 2c + 4t = 24 \\end{cases}$$ where $c$ counts cars.\n"
        "The answer is 7.",
        "7",
        True,
    ),
    (
        "The system is $\\begin{cases} x + y = 5 \\\\ x = 2y + 2 \\end{cases}$ "
        "and the answer is \\boxed{4}",
        "4",
        True,
    ),
    (
        "\\boxed{f(x)=\\begin{cases} 1 & x > 0 \\\\ 0 & x \\le 0 \\end{cases}}",
        "f(x)=\\begin{cases} 1 & x > 0 \\\\ 0 & x \\le 0 \\end{cases}",
        True,
    ),
    ("$$\\begin{cases} x = 3 \\\\ y = 4 \\end{cases}$$\nThe larger number is 4.", "4", True),
    ("$$\\begin{cases} a = 12 \\\\ b = 5 \\end{cases}$$\nSo, $a = 12$.", "12", True),
    ("$$\\begin{cases} a = 12 \\\\ b = 5 \\end{cases}$$\nSo, $a = 12$.", "5", False),
    (
        "We set up $\\begin{cases} p + q = 30 \\\\ p - q = 4 \\end{cases}$.\n"
        "Therefore the price is $\\boxed{17}$ dollars.",
        "17",
        True,
    ),
]

CLASSES: dict[str, list[Case]] = {
    "thousands": THOUSANDS,
    "final answer sentences": FINAL_ANSWER_SENTENCES,
    "text words and units": TEXT_WORDS_AND_UNITS,
    "relations": RELATIONS,
    "several boxes": SEVERAL_BOXES,
    "matrices": MATRICES,
    "cases": CASES,
}

"""Speed of answer matching: ``AnswerMatcher`` vs ``math_verify.verify(parse(gold), parse(pred))``.

Run from the repository root: ``python -m benchmarks.speed.answer_matching``. Both are timed side by
side in one run on the 1319 GSM8K test golds against formatted predictions (right and wrong),
then on MATH answers that need algebra, and the matcher's worst case is measured on adversarial
answers. The labelled free-form responses of ``grading/labelled_responses.py`` are graded end to
end by both (``extract_text_answer`` + matcher, and math-verify's own ``parse`` of the whole
response), class by class. Results go to ``benchmarks/results/answer_matching.md``.
"""

from __future__ import annotations

import argparse
import datetime
import importlib.metadata
import logging
import os
import platform
import re
import sys
import time
from collections.abc import Callable
from pathlib import Path

from benchmarks import RESULTS_DIR, ROOT
from datamodules.sources.benchmarks import load_benchmark
from grading.answers import AnswerMatcher, extract_text_answer
from grading.labelled_responses import CLASSES
from grading.normalize import clean
from grading.normalize import to_number as _to_number

RESULTS = RESULTS_DIR / "answer_matching.md"
DATA = ROOT.parent / "shared" / "data" / "benchmarks"

Pair = tuple[str, str, bool]  # prediction, gold, expected verdict
ADVERSARIAL = {
    "9**9**9**9": "9**9**9**9",
    "9^{9^{9^{9}}}": "9^{9^{9^{9}}}",
    "2^{10^{10}}": "2^{10^{10}}",
    "10^{10^{10}}!": "10^{10^{10}}!",
    "unbalanced \\frac{": "\\frac{",
    "unbalanced \\boxed{{{": "\\boxed{{{",
    "}}}{{{": "}}}{{{",
    "100 nested \\frac{1}{": "\\frac{1}{" * 100,
    "400 nested parentheses": "(" * 400 + "1" + ")" * 400,
    "unicode digits ٣٤": "٣٤",
    "emoji equation": "🙂 = 3",
    "control characters": "\x00\x01",
    "empty": "",
    "1 MB of digits": "1" * 1_000_000,
    "1 MB of letters": "x" * 1_000_000,
    "1 MB of parentheses": "(" * 1_000_000,
}


def formatted_pairs(golds: list[str]) -> list[Pair]:
    """Six predictions per gold: four spellings of it and two wrong numbers."""
    pairs: list[Pair] = []
    for gold in golds:
        value = int(gold)
        pairs += [
            (f"${value:,}", gold, True),
            (f"{value}.0", gold, True),
            (f"\\boxed{{{value}}}", gold, True),
            (f"{value} dollars", gold, True),
            (str(value + 1), gold, False),
            (f"{value * 10:,}", gold, value == 0),
        ]
    return pairs


def algebra_pairs(golds: list[str], count: int) -> list[Pair]:
    """MATH golds that need algebra: ``G + 0`` (right) and ``G + 1`` (wrong) for expressions G.

    Only golds that are a single expression (no lists, sets, relations or words) and that no
    cheap rule decides are used, so every pair reaches the symbolic path.
    """
    pairs: list[Pair] = []
    for gold in golds:
        if len(pairs) == 2 * count:
            break
        if _to_number(clean(gold)) is None and not re.search(r"[,=<>;]|\\text|\\in|cup", gold):
            pairs += [(f"{gold} + 0", gold, True), (f"{gold} + 1", gold, False)]
    return pairs


def run(check: Callable[[str, str], bool], pairs: list[Pair]) -> tuple[float, int]:
    """Seconds taken and number of verdicts that agree with the expected ones."""
    start = time.perf_counter()
    agree = sum(check(prediction, gold) == expected for prediction, gold, expected in pairs)
    return time.perf_counter() - start, agree


def math_verify_check(wrap: bool) -> Callable[[str, str], bool]:
    """``verify(parse(gold), parse(pred))``; with ``wrap``, each answer is given as ``$...$``."""
    from math_verify import parse, verify

    logging.getLogger("math_verify").setLevel(logging.ERROR)
    if wrap:
        return lambda prediction, gold: verify(parse(f"${gold}$"), parse(f"${prediction}$"))
    return lambda prediction, gold: verify(parse(gold), parse(prediction))


def free_form(matcher: AnswerMatcher) -> list[str]:
    """Table rows: per class of labelled responses, the share each grader gets right."""
    from math_verify import parse, verify

    rows = []
    for name, cases in CLASSES.items():
        ours = sum(
            matcher(extract_text_answer(response), gold).correct == correct
            for response, gold, correct in cases
        )
        theirs = sum(
            verify(parse(f"${gold}$"), parse(response)) == correct
            for response, gold, correct in cases
        )
        rows.append(
            f"| {name} | {len(cases)} | {ours / len(cases):.0%} | {theirs / len(cases):.0%} |"
        )
    return rows


def worst_case(matcher: AnswerMatcher) -> list[tuple[str, float, float, str]]:
    """Per adversarial answer: seconds as prediction, as gold, and the verdicts' reasons."""
    rows = []
    for name, answer in ADVERSARIAL.items():
        start = time.perf_counter()
        as_prediction = matcher(answer, "3")
        middle = time.perf_counter()
        as_gold = matcher("3", answer)
        end = time.perf_counter()
        assert not as_prediction.correct and not as_gold.correct, name
        rows.append(
            (name, middle - start, end - middle, f"{as_prediction.reason} / {as_gold.reason}")
        )
    return rows


def machine() -> str:
    versions = ", ".join(
        f"{package} {importlib.metadata.version(package)}"
        for package in ("math-verify", "latex2sympy2_extended", "sympy")
    )
    return (
        f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPU cores, "
        f"{platform.system()} {platform.release()}, Python {platform.python_version()}, {versions}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DATA, help="folder of the benchmark sets")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()

    golds = [sample.answer for sample in load_benchmark("gsm8k", args.data)]
    math_golds = [sample.answer for sample in load_benchmark("math", args.data)]
    matcher = AnswerMatcher()
    matcher.warm_up()
    plain, wrapped = math_verify_check(wrap=False), math_verify_check(wrap=True)
    table = []
    for label, pairs in (
        ("GSM8K golds vs formatted predictions", formatted_pairs(golds)),
        (
            "MATH expression golds vs `G + 0` / `G + 1` (symbolic path)",
            algebra_pairs(math_golds, 300),
        ),
    ):
        cells = []
        for check in (lambda p, g: matcher(p, g).correct, plain, wrapped):
            seconds, agree = run(check, pairs)
            cells.append(f"{len(pairs) / seconds:,.0f} pairs/s, {agree / len(pairs):.1%} agree")
        table.append(f"| {label} | {len(pairs)} | " + " | ".join(cells) + " |")
        print(table[-1], flush=True)
    classes = free_form(matcher)
    print("\n".join(classes), flush=True)
    worst = worst_case(matcher)
    for row in worst:
        print(row, flush=True)
    load = " / ".join(f"{value:.1f}" for value in os.getloadavg())

    lines = [
        "# Answer matching speed",
        "",
        f"- Date: {datetime.date.today().isoformat()}",
        f"- Machine: {machine()}",
        "- Command: `python -m benchmarks.speed.answer_matching`",
        f"- Load average at the end of the run (1 / 5 / 15 min): {load}; absolute rates move "
        "with the load, ratios within a row were measured side by side.",
        "- `AnswerMatcher()` defaults (rel_tol 1e-4, timeout 3 s); math_verify called as "
        "`verify(parse(gold), parse(pred))` in the main thread, its SIGALRM timeouts on.",
        "- Agreement: share of verdicts equal to the expected ones (the pairs are built so "
        "that the right answer is known).",
        "- `$...$`: the same math_verify call with each answer wrapped in `$...$`, so that it is "
        "parsed whole as LaTeX, as the matcher's helper does.",
        "",
        "| pairs | count | AnswerMatcher | math_verify | math_verify, `$...$` |",
        "|---|---|---|---|---|",
        *table,
        "",
        "## Free-form responses, class by class",
        "",
        "The labelled cases of `grading/labelled_responses.py` (real MATH golds where marked): "
        "share of verdicts equal to the label, for `extract_text_answer` + `AnswerMatcher()` "
        "and for math-verify grading the whole response itself "
        '(`verify(parse(f"${gold}$"), parse(response))`, default extraction). The labels '
        "follow the rules of `docs/grading.md`, so the first column is 100% by construction "
        "(the tests assert it); the second shows where math-verify's own reading differs.",
        "",
        "| class | cases | extract_text_answer + AnswerMatcher | math_verify parse + verify |",
        "|---|---|---|---|",
        *classes,
        "",
        "## Worst case on adversarial answers (timeout 3 s)",
        "",
        "Each answer compared with gold `3`, once as the prediction and once as the gold.",
        "",
        "| answer | as prediction (s) | as gold (s) | reasons |",
        "|---|---|---|---|",
        *(f"| {name} | {a:.3f} | {b:.3f} | {reason} |" for name, a, b, reason in worst),
        "",
        f"Worst: {max(max(a, b) for _, a, b, _ in worst):.3f} s.",
        "",
    ]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("\n".join(lines))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    from cli.errors import run_entry_point

    sys.exit(run_entry_point(lambda _: main()))

"""Grading conformance: the project's verdicts against math-verify's own labelled test cases.

Run from the repository root: ``python -m benchmarks.fidelity.grading_conformance``. Every case of
``tests/data/math_verify/cases.jsonl`` is graded the way evaluation grades words
(``extract_text_answer`` on both sides, then ``AnswerMatcher()``) and by math-verify itself with
the options its test asks for; agreement with the labels is reported overall and per source test
file, with both loops timed and each disagreement listed. ``--before`` adds the figures of an
earlier run (its JSON) for comparison. Results go to ``benchmarks/results/grading_conformance``
``.json`` and ``.md``.
"""

from __future__ import annotations

import argparse
import datetime
import importlib.metadata
import json
import logging
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

from benchmarks import RESULTS_DIR, ROOT
from grading.answers import AnswerMatcher
from grading.conformance import MATH_VERIFY_CASES, GradedCase, agreement, grade_case, load_cases

RESULTS = RESULTS_DIR / "grading_conformance"


def math_verify_verdicts(path: Path) -> tuple[dict[str, bool], float]:
    """math-verify's verdict per case id, with the options each test asks for, and the seconds
    its loop took."""
    from math_verify import ExprExtractionConfig, LatexExtractionConfig, parse, verify

    logging.getLogger("math_verify").setLevel(logging.ERROR)
    targets = {
        "latex": LatexExtractionConfig(boxed_match_priority=0),
        "expr": ExprExtractionConfig(),
    }
    verdicts, start = {}, time.perf_counter()
    for row in map(json.loads, path.read_text(encoding="utf-8").splitlines()):
        options = row["options"]
        if "precision" not in options:  # the test calls parse and verify with their defaults
            verdicts[row["id"]] = bool(verify(parse(row["gold"]), parse(row["pred"])))
            continue
        configs = [targets[name] for name in options["match_types"]]
        verdicts[row["id"]] = bool(
            verify(
                parse(row["gold"], configs),
                parse(row["pred"], configs),
                float_rounding=options["precision"],
                strict=options["strict"],
                allow_set_relation_comp=options["allow_set_relation_comp"],
            )
        )
    return verdicts, time.perf_counter() - start


def grade_all(path: Path) -> tuple[list[GradedCase], list[float]]:
    """The project's verdicts, and the seconds each case took (extraction and matching)."""
    matcher = AnswerMatcher()
    matcher.warm_up()
    graded, seconds = [], []
    for case in load_cases(path):
        start = time.perf_counter()
        graded.append(grade_case(case, matcher))
        seconds.append(time.perf_counter() - start)
    return graded, seconds


def cell(text: str | None) -> str:
    """A table cell on one line, its pipes escaped."""
    return " ".join(str(text).split()).replace("|", "\\|")


def share(counts: list[int]) -> str:
    agreeing, total = counts
    return f"{agreeing / total:.1%} ({agreeing}/{total})"


def report(results: dict, before: dict | None) -> list[str]:
    ours, theirs = results["agreement"], results["math_verify_agreement"]
    speed = results["speed"]
    header = "| source test file | cases | this grading | math-verify itself |"
    rule = "|---|---|---|---|"
    if before is not None:
        header = header.replace("| this", f"| before ({before['commit']}) | this")
        rule += "---|"
    rows = []
    for source in ours:
        cells = [source, str(ours[source][1]), share(ours[source]), share(theirs[source])]
        if before is not None:
            cells.insert(2, share(before["agreement"][source]))
        rows.append("| " + " | ".join(cells) + " |")
    disagreements = [
        f"| `{item['id']}` | {'equal' if item['expected'] else 'not equal'} | "
        f"`{cell(item['gold_answer'])}` | `{cell(item['answer'])}` | {item['reason']} |"
        for item in results["disagreements"]
    ]
    return [
        "# Grading conformance with math-verify's labelled test cases",
        "",
        f"- Date: {results['date']} (commit {results['commit']})",
        f"- Machine: {results['machine']}",
        "- Command: `python -m benchmarks.fidelity.grading_conformance"
        + (" --before BEFORE.json`" if before is not None else "`"),
        f"- Cases: `{results['cases']}`, math-verify's labelled (gold, prediction, expected) pairs "
        "(source, commit and licence in the README beside it).",
        "- This grading: `extract_text_answer` on the gold and on the prediction, then "
        "`AnswerMatcher()` (rel_tol 1e-4, timeout 3 s), one setting for every case. "
        "math-verify itself: `parse` + `verify` with the options each test passes.",
        *(
            [
                f"- Before: the same cases and grading procedure run on commit "
                f"{before['commit']}, the grading before this work: that commit's files with "
                "this script, `grading/conformance.py` and `tests/data/math_verify/` copied in, "
                f"`python -m benchmarks.fidelity.grading_conformance --commit {before['commit']} "
                "--out BEFORE`."
            ]
            if before is not None
            else []
        ),
        "",
        header,
        rule,
        *rows,
        "",
        "## Speed",
        "",
        f"- Load average at the end of the run (1 / 5 / 15 min): {speed['load']}; the two loops "
        "ran one after the other in one process.",
        f"- This grading: {speed['cases_per_s']:,.1f} cases/s over the suite "
        f"({speed['seconds']:.2f} s); slowest case {speed['worst_case_s']:.3f} s.",
        f"- math-verify itself, in this process: {speed['math_verify_cases_per_s']:,.1f} cases/s "
        f"({speed['math_verify_seconds']:.2f} s).",
        "- Most of these cases need algebra, which both hand to sympy; the project's fast path "
        "(numbers, lists, words) is measured on GSM8K-shaped pairs in `answer_matching.md`.",
        "",
        "## Disagreements with the labels",
        "",
        "Each is deliberate; `docs/grading.md` gives the reason (the tests check that the two "
        "lists are the same).",
        "",
        "| case | label | gold answer read | answer read | matcher |",
        "|---|---|---|---|---|",
        *disagreements,
        "",
    ]


def commit() -> str:
    """HEAD's short hash, marked when the grading code or the cases have changes since."""
    head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True)
    paths = ["metrics", "datamodules", "tests/data/math_verify"]
    dirty = subprocess.run(["git", "diff", "--quiet", "HEAD", "--", *paths]).returncode
    return head.stdout.strip() + (" + uncommitted changes" if dirty else "")


def machine() -> str:
    versions = ", ".join(
        f"{package} {importlib.metadata.version(package)}" for package in ("math-verify", "sympy")
    )
    return (
        f"{platform.machine()}, {os.cpu_count()} CPU cores, Python "
        f"{platform.python_version()}, {versions}"
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=Path, default=MATH_VERIFY_CASES)
    parser.add_argument("--out", type=Path, default=RESULTS, help="path without the suffix")
    parser.add_argument("--before", type=Path, help="an earlier run's JSON, shown beside")
    parser.add_argument("--commit", help="what is graded, for the record (default: git HEAD)")
    args = parser.parse_args(argv)

    graded, seconds = grade_all(args.cases)
    verdicts, math_verify_seconds = math_verify_verdicts(args.cases)
    results = {
        "date": datetime.date.today().isoformat(),
        "commit": args.commit or commit(),
        "machine": machine(),
        "cases": str(args.cases.resolve().relative_to(ROOT)),
        "agreement": agreement((item.case.source, item.agrees) for item in graded),
        "math_verify_agreement": agreement(
            (item.case.source, verdicts[item.case.id] == item.case.expected) for item in graded
        ),
        "speed": {
            "seconds": sum(seconds),
            "cases_per_s": len(graded) / sum(seconds),
            "worst_case_s": max(seconds),
            "math_verify_seconds": math_verify_seconds,
            "math_verify_cases_per_s": len(graded) / math_verify_seconds,
            "load": " / ".join(f"{value:.1f}" for value in os.getloadavg()),
        },
        "disagreements": [
            {
                "id": item.case.id,
                "expected": item.case.expected,
                "gold_answer": item.gold_answer,
                "answer": item.answer,
                "reason": item.result.reason,
            }
            for item in graded
            if not item.agrees
        ],
    }
    before = json.loads(args.before.read_text()) if args.before else None
    if before is not None:
        results["before"] = {key: before[key] for key in ("commit", "agreement")}
    lines = report(results, before)
    print("\n".join(lines))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.with_suffix(".json").write_text(json.dumps(results, indent=1) + "\n")
    args.out.with_suffix(".md").write_text("\n".join(lines))
    print(f"wrote {args.out}.json and .md")


if __name__ == "__main__":
    from cli.errors import run_entry_point

    sys.exit(run_entry_point(main))

"""Convert all of GSM8K (train and test) to HTL samples and count what converts.

Run from the repository root: ``python -m benchmarks.fidelity.gsm8k_conversion``. Every converted
program runs in the sandbox (one worker, so the machine stays usable) and a sample counts only when
it prints the gold answer. Records left out are bucketed by reason with the first example of each;
the share of programs that lean on earlier results or on steps found without an annotation shows how
much the converter does beyond copying annotations. Results go to
``benchmarks/results/gsm8k_conversion.md``."""

from __future__ import annotations

import ast
import datetime
import json
import os
import platform
import sys
import time
from pathlib import Path

from benchmarks import RESULTS_DIR, ROOT, parser
from datamodules.sources.gsm8k_htl import ConversionError, convert_solution
from harvest.verified_gsm8k import VerifiedGSM8KHTL

RESULTS = RESULTS_DIR / "gsm8k_conversion.md"
DATA = ROOT.parent / "shared" / "data" / "benchmarks" / "gsm8k"
SPLITS = ("train", "test")


def program_stats(path: Path) -> dict[str, float]:
    """Shape of the converted programs (no execution): steps, references, names, timing."""
    programs, unannotated, start = [], 0, time.perf_counter()
    for text in path.read_text(encoding="utf-8").splitlines():
        record = json.loads(text)
        try:
            converted = convert_solution(record["question"], record["answer"])
        except ConversionError:
            continue
        programs.append(ast.parse(converted.program))
        unannotated += converted.unannotated_steps > 0
    seconds = time.perf_counter() - start
    assignments = [node for tree in programs for node in tree.body if isinstance(node, ast.Assign)]
    referring = sum(
        any(isinstance(node, ast.Name) for node in ast.walk(assign.value)) for assign in assignments
    )
    fallback = sum(assign.targets[0].id.startswith("step_") for assign in assignments)
    return {
        "seconds": seconds,
        "steps": len(assignments) / len(programs),
        "referring": referring / len(assignments),
        "fallback": fallback / len(assignments),
        "unannotated": unannotated,
    }


def convert_split(split: str) -> dict:
    path = DATA / f"{split}.jsonl"
    records = sum(1 for line in path.open(encoding="utf-8") if line.strip())
    stats = program_stats(path)
    source = VerifiedGSM8KHTL(str(path), split=split)
    start = time.perf_counter()
    kept = sum(1 for _ in source)
    return {
        "split": split,
        "records": records,
        "kept": kept,
        "failures": source.failures.most_common(),
        "examples": source.examples,
        "total_seconds": time.perf_counter() - start,
        **stats,
    }


def report(results: list[dict], load: float) -> str:
    lines = [
        "# GSM8K to HTL conversion",
        "",
        f"- Date: {datetime.date.today().isoformat()}",
        f"- Machine: {platform.machine()}, {os.cpu_count()} cores, Python "
        f"{platform.python_version()}; the sandbox runs programs on 1 worker",
        f"- Load average at start: {load:.1f} (times scale with what else runs; the counts do not)",
        "- Command: `python -m benchmarks.fidelity.gsm8k_conversion`",
        "- Data: `../shared/data/benchmarks/gsm8k/{train,test}.jsonl` (openai/grade-school-math)",
        "- Kept: the converted program, run in the sandbox, prints the gold answer (relative "
        "tolerance 1e-6). Steps are the solution's `<<...>>` annotations plus plain "
        "`a + b = c` calculations whose arithmetic checks out.",
        "",
        "| split | records | kept | kept % | with an unannotated step | steps per program "
        "| steps naming an earlier result | `step_N` names | convert only | convert + run |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        lines.append(
            f"| {r['split']} | {r['records']} | {r['kept']} | {100 * r['kept'] / r['records']:.1f}"
            f" | {r['unannotated']} | {r['steps']:.2f} | {100 * r['referring']:.1f}%"
            f" | {100 * r['fallback']:.1f}% | {r['seconds']:.1f} s | {r['total_seconds']:.1f} s |"
        )
    lines += ["", "## Left out, by reason", "", "| split | reason | records | first example |"]
    lines.append("|---|---|---|---|")
    for r in results:
        for reason, count in r["failures"]:
            example = r["examples"][reason].replace("|", "\\|")
            lines.append(f"| {r['split']} | {reason} | {count} | {example} |")
    lines += [
        "",
        "Reasons: `no_steps`: the solution has no checked calculation (algebra with unknowns, "
        "arithmetic written in words); `answer_not_computed`: no step yields the gold (the last "
        "step is in words, mixes units into the arithmetic, or the gold is not what the text "
        "computes); `malformed_annotation`, `annotation_arithmetic`: an annotation that does not "
        "parse or whose result is wrong (none in these files); `execution_mismatch`, "
        "`execution_failed`: a program that ran but printed something else, or crashed.",
        "",
    ]
    return "\n".join(lines)


def main(argv: list[str]) -> None:
    parser(__doc__, RESULTS).parse_args(argv)  # no options: --help only
    load = os.getloadavg()[0]
    results = [convert_split(split) for split in SPLITS]
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(report(results, load), encoding="utf-8")
    print(RESULTS.read_text(encoding="utf-8"))


if __name__ == "__main__":
    from cli.errors import run_entry_point

    sys.exit(run_entry_point(main))

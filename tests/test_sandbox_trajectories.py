"""Re-running real MathCoder trajectories in sandbox sessions reproduces what was recorded.

A subset by default (the first problems of each file);
``python -m benchmarks.fidelity.sandbox_trajectories`` replays all 1514 problems and records the
mismatches.
"""

from __future__ import annotations

from pathlib import Path

from sandbox import SandboxOptions, SandboxPool
from sandbox.replay import RecordedBlock, agrees, compare, load, normalize, recorded_error, replay
from sandbox.result import ExecutionResult, Outcome

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "trajectories"
FILES = ["mathcoder-cl-7b_svamp.jsonl", "mathcoder-cl-7b_simuleq.jsonl"]
PROBLEMS_PER_FILE = 25


def test_normalization_ignores_layout_colour_and_trailing_zeros():
    assert normalize("{x: 12.0000000000000,\n  y: 8.50}") == "{x: 12, y: 8.5}"
    assert normalize("\x1b[38;5;241m3\x1b[0m  <empty_execution>") == "3"
    assert normalize("version 1.10 and 100") == "version 1.1 and 100"


def test_recorded_tracebacks_compare_by_their_last_line():
    recorded = "----> 5 x[\x1b[38;5;241;43m0]\n IndexError: list index out of range"
    assert recorded_error(recorded) == "IndexError: list index out of range"
    block = RecordedBlock("x[0]", recorded)
    same = ExecutionResult(Outcome.ERROR, "Traceback ...", "IndexError: list index out of range")
    other = ExecutionResult(Outcome.ERROR, "Traceback ...", "KeyError: 0")
    assert agrees(block, same) and not agrees(block, other)
    assert recorded_error("[1, 2]") is None


def test_replayed_subset_matches_recorded_outputs():
    problems = [p for name in FILES for p in load(str(DATA / name))[:PROBLEMS_PER_FILE]]
    config = SandboxOptions(wall_time_s=30, cpu_time_s=30, max_output_bytes=1 << 16)
    with SandboxPool(config) as pool:
        comparison = compare(problems, replay(pool, problems))
    assert comparison.deterministic >= 90
    assert comparison.rate >= 0.995, comparison.mismatches

"""Replaying recorded code-interpreter trajectories through sandbox sessions.

MathCoder's runner recorded, for each code block, what its Jupyter kernel printed. Re-running
the blocks (one session per problem, blocks in order) and comparing is the check that the
sandbox behaves like the interpreter the data came from.

Normalisation before comparing: ANSI colour codes are removed, the recorder's
``<empty_execution>`` marker counts as no output, every run of whitespace becomes one space,
and trailing zeros after a decimal point are dropped (``8.00000000000000`` -> ``8``). When the
recorded output is a traceback, only its final ``Type: message`` line is compared with the
result's error line: IPython and plain Python format the frames differently.

A recorded output counts as deterministic unless it shows a memory address or its session
used a source of nondeterminism (``random``, clocks, ``uuid``, ``id()``) up to that block.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

from sandbox.pool import SandboxPool
from sandbox.result import ExecutionResult, Outcome

_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
_TRAILING_ZEROS = re.compile(r"(\d)\.(\d*?)0+\b")
_ERROR_LINE = re.compile(r"^[A-Za-z_][\w.]*(Error|Exception|Exit|Interrupt)\b")
_ADDRESS = re.compile(r"0x[0-9a-fA-F]{6,}")
_NONDETERMINISTIC = re.compile(r"\brandom\b|\btime\.time\b|\.now\(|\buuid\b|\bid\(")
EMPTY_MARKER = "<empty_execution>"


@dataclass(frozen=True)
class RecordedBlock:
    code: str
    output: str


def load(path: str) -> list[list[RecordedBlock]]:
    """The code blocks of each problem of a MathCoder trajectory file, with what they printed."""
    problems = []
    with open(path) as handle:
        for line in handle:
            turns = json.loads(line)["debug_result"]
            problems.append(
                [
                    RecordedBlock(turn["content"], turns[i + 1]["content"])
                    for i, turn in enumerate(turns)
                    if turn["role"] == "code"
                    and i + 1 < len(turns)
                    and turns[i + 1]["role"] == "execution"
                ]
            )
    return problems


def replay(pool: SandboxPool, problems: Sequence[Sequence[RecordedBlock]]) -> list[list]:
    """Run every problem's blocks in a session of its own, many problems at a time."""
    sessions = [pool.session() for _ in problems]
    results: list[list[ExecutionResult]] = [[] for _ in problems]
    try:
        for step in range(max((len(blocks) for blocks in problems), default=0)):
            todo = [i for i, blocks in enumerate(problems) if len(blocks) > step]
            ran = pool.run_blocks([(sessions[i], problems[i][step].code) for i in todo])
            for i, result in zip(todo, ran):
                results[i].append(result)
    finally:
        for session in sessions:
            session.close()
    return results


def normalize(text: str) -> str:
    text = _ANSI.sub("", text).replace(EMPTY_MARKER, "")
    text = " ".join(text.split())
    return _TRAILING_ZEROS.sub(lambda m: m[1] + ("." + m[2] if m[2] else ""), text)


def recorded_error(output: str) -> str | None:
    """The ``Type: message`` line ending a recorded traceback, or None if it is not one."""
    lines = [line.strip() for line in _ANSI.sub("", output).strip().splitlines() if line.strip()]
    if lines and _ERROR_LINE.match(lines[-1]):
        return lines[-1]
    return None


def is_deterministic(blocks: Sequence[RecordedBlock], index: int) -> bool:
    if _ADDRESS.search(blocks[index].output):
        return False
    return not any(_NONDETERMINISTIC.search(block.code) for block in blocks[: index + 1])


def agrees(block: RecordedBlock, result: ExecutionResult) -> bool:
    error = recorded_error(block.output)
    if error is not None:
        return result.error is not None and normalize(result.error) == normalize(error)
    return result.outcome is Outcome.OK and normalize(result.output) == normalize(block.output)


@dataclass(frozen=True)
class Mismatch:
    problem: int
    block: int
    category: str
    code: str
    recorded: str
    got: str


@dataclass
class Comparison:
    blocks: int = 0
    deterministic: int = 0
    matched: int = 0
    mismatches: list[Mismatch] = field(default_factory=list)

    @property
    def rate(self) -> float:
        return self.matched / self.deterministic if self.deterministic else 1.0

    def categories(self) -> Counter:
        return Counter(mismatch.category for mismatch in self.mismatches)


def _category(result: ExecutionResult, earlier_failed: bool) -> str:
    if earlier_failed:
        return "after an earlier mismatch in the session"
    if result.error and result.error.startswith("ModuleNotFoundError"):
        return "module not installed here"
    if result.outcome in (Outcome.TIMEOUT, Outcome.MEMORY):
        return f"sandbox limit ({result.outcome.value})"
    if result.error is not None:
        return "different error"
    return "different value"


def compare(
    problems: Sequence[Sequence[RecordedBlock]], results: Sequence[Sequence[ExecutionResult]]
) -> Comparison:
    comparison = Comparison()
    for p, (blocks, got) in enumerate(zip(problems, results)):
        failed = False
        for b, (block, result) in enumerate(zip(blocks, got)):
            comparison.blocks += 1
            if not is_deterministic(blocks, b):
                continue
            comparison.deterministic += 1
            if agrees(block, result):
                comparison.matched += 1
                continue
            shown = result.output if result.error is None else f"{result.error}\n{result.output}"
            category = _category(result, failed)
            comparison.mismatches.append(Mismatch(p, b, category, block.code, block.output, shown))
            failed = True
    return comparison

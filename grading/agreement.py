"""Does the model emulate faithfully? When a generated program happens to be fully defined (every
name it reads is bound in it or is a builtin), it can run for real: in the sandbox, never in
this process. Its real output is compared with the output the model emulated for the same call.

A pseudo-program that calls an undefined helper is left alone: its emulation is the only result.
"""

from __future__ import annotations

import ast
import builtins
from collections.abc import Callable, Sequence

from datamodules.formats.cogex import Emulation
from grading.emulation import Reading, answer_value
from sandbox import ExecutionResult

# Runs programs in the sandbox (``SandboxPool.run_many``); called only when one is runnable, so
# a pool started on first use costs nothing when every program is a pseudo-program.
RunMany = Callable[[list[str]], list[ExecutionResult]]

_BUILTINS = frozenset(dir(builtins))


def fully_defined(program: str, call: str) -> bool:
    """Whether ``program`` followed by ``call`` reads only names it binds itself or builtins."""
    try:
        trees = [ast.parse(program), ast.parse(call, mode="eval")]
    except (SyntaxError, ValueError, MemoryError, RecursionError):
        return False
    bound, read = set(_BUILTINS), set()
    for node in (node for tree in trees for node in ast.walk(tree)):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            bound.add(node.name)
        elif isinstance(node, ast.arg):
            bound.add(node.arg)
        elif isinstance(node, ast.Import | ast.ImportFrom):
            bound.update((alias.asname or alias.name).split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ExceptHandler) and node.name:
            bound.add(node.name)
        elif isinstance(node, ast.Name):
            (read if isinstance(node.ctx, ast.Load) else bound).add(node.id)
    return read <= bound


def execution_script(emulation: Emulation) -> str:
    """The program, then its call with the result printed as a Python literal."""
    return f"{emulation.program}\n\nprint(repr({emulation.call}))\n"


def check_agreement(readings: Sequence[Reading], run_many: RunMany) -> list[bool | None]:
    """Per reading: whether the real output equals the emulated one (a crash, a timeout or an
    unreadable output disagree), or None when it was not run (unreadable, or not fully
    defined). The fully defined programs run all at once."""
    runnable = [
        (index, reading)
        for index, reading in enumerate(readings)
        if isinstance(reading, Emulation) and fully_defined(reading.program, reading.call)
    ]
    agreed: list[bool | None] = [None] * len(readings)
    scripts = [execution_script(emulation) for _, emulation in runnable]
    for (index, emulation), result in zip(runnable, run_many(scripts) if scripts else []):
        agreed[index] = result.ok and answer_value(result.output) == emulation.output
    return agreed

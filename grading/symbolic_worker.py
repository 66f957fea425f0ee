"""Helper process for symbolic answer comparison (run as a script, never imported by the trainer).

sympy can hang for minutes, in C code that no signal interrupts (``9**9**9**9``), and math_verify's
own timeout is SIGALRM-based, so it only works in a main thread. This script therefore runs as a
separate process: a supervisor that preloads math_verify and forks a *judge* child that does the
work. The supervisor waits for each answer with a deadline and SIGKILLs the judge when it is
exceeded, then forks a fresh judge at once (milliseconds: the imports are already done).

Protocol on stdin/stdout: frames of a 4-byte big-endian length followed by UTF-8 JSON. The
supervisor first writes ``{"status": "ready"}``; each request ``{"gold", "pred", "timeout"}`` gets
one reply ``{"status": "ok"|"timeout"|"crash", "equal": bool, "detail": str}``.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import logging
import os
import re
import resource
import select
import signal
import struct
import sys
import time
from functools import lru_cache
from pathlib import Path

# Run as a script, Python puts grading/ first on sys.path, where a module of this project could
# shadow one that sympy imports: drop it before importing them.
if sys.path and Path(sys.path[0] or ".").resolve() == Path(__file__).resolve().parent:
    del sys.path[0]
# The project itself goes last, after every installed package, for the one helper shared with
# the sandbox (reading exactly n bytes of a frame).
sys.path.append(str(Path(__file__).resolve().parents[1]))

from math_verify import LatexExtractionConfig, parse, verify

from sandbox.wire import read_exactly

_HEADER = struct.Struct(">I")
# Address-space cap for the judge: a runaway big-integer power fails with MemoryError instead of
# eating the machine's memory.
JUDGE_MEMORY_BYTES = 4 * 1024**3
_CONFIGS = (LatexExtractionConfig(),)
# Run once in the supervisor so that every forked judge starts warm: a fresh judge's first
# comparison would otherwise spend ~0.5 s loading parsers and simplification code.
WARM_UP = (
    ("\\frac{\\sqrt{2}}{2}", "\\frac{1}{\\sqrt{2}}"),
    ("x = 5", "5"),
    ("(1, 2]", "\\{1, 2\\}"),
    ("(x+1)^2", "x^{2} + 2x + 1"),
    ("9**9", "3.5"),
)


def read_frame(fd: int) -> dict | None:
    """Read one frame; None on end of file."""
    header = read_exactly(fd, _HEADER.size)
    if header is None:
        return None
    body = read_exactly(fd, _HEADER.unpack(header)[0])
    return None if body is None else json.loads(body)


def write_frame(fd: int, message: dict) -> None:
    body = json.dumps(message).encode()
    data = _HEADER.pack(len(body)) + body
    while data:
        data = data[os.write(fd, data) :]


_PYTHON_NAMES = re.compile(r"\b(pi|oo|sqrt)\b")
_LATEX_NAMES = {"pi": r"\pi", "oo": r"\infty", "sqrt": r"\sqrt"}
_POWER = re.compile(r"\*\*\s*(-?\d+(?:\.\d+)?|[A-Za-z]\w*)")


def python_to_latex(text: str) -> str:
    """Rewrite the Python spellings that program output uses (``**``, ``sqrt(..)``, ``pi``)."""
    text = _PYTHON_NAMES.sub(lambda match: _LATEX_NAMES[match[1]], text)
    text = _POWER.sub(r"^{\1}", text).replace("**", "^")
    out, depth_stack, i = [], [], 0
    while i < len(text):  # \sqrt(...) -> \sqrt{...}, matching the parenthesis that closes it
        if text.startswith("\\sqrt(", i):
            out.append("\\sqrt{")
            depth_stack.append(0)
            i += len("\\sqrt(")
            continue
        char = text[i]
        if depth_stack and char == "(":
            depth_stack[-1] += 1
        elif depth_stack and char == ")":
            if depth_stack[-1] == 0:
                depth_stack.pop()
                char = "}"
            else:
                depth_stack[-1] -= 1
        out.append(char)
        i += 1
    return "".join(out)


@lru_cache(maxsize=4096)
def parsed(text: str) -> tuple:
    """An answer parsed as LaTeX math (plus its string form, which math_verify also compares)."""
    latex = text if "\\" in text else python_to_latex(text)
    return tuple(parse(f"${latex}$", _CONFIGS, parsing_timeout=None))


def judge(gold: str, pred: str) -> dict:
    gold_parsed, pred_parsed = parsed(gold), parsed(pred)
    if not gold_parsed or not pred_parsed:
        return {"status": "ok", "equal": False, "detail": "unparsable"}
    # A relation and the set it describes are one answer either way round (``x \\ge 5`` and
    # ``[5, \\infty)``); math-verify's default accepts only a set predicted for a relation.
    equal = verify(
        list(gold_parsed), list(pred_parsed), allow_set_relation_comp=True, timeout_seconds=None
    )
    return {"status": "ok", "equal": bool(equal), "detail": "math_verify"}


def _judge_loop(requests: int, replies: int) -> None:
    """Body of the forked judge: answer requests until the supervisor closes the pipe."""
    with contextlib.suppress(OSError, AttributeError):
        # Die with the supervisor, whatever kills it.
        ctypes.CDLL(None).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    resource.setrlimit(resource.RLIMIT_AS, (JUDGE_MEMORY_BYTES, JUDGE_MEMORY_BYTES))
    while (request := read_frame(requests)) is not None:
        try:
            reply = judge(request["gold"], request["pred"])
        except Exception as error:  # any failure inside sympy means "not shown equal"
            reply = {"status": "ok", "equal": False, "detail": f"error: {type(error).__name__}"}
        write_frame(replies, reply)


class Judge:
    """A forked judge process with its own pair of pipes (fresh pipes, so no stale replies)."""

    def __init__(self) -> None:
        to_child, self._requests = os.pipe()
        self._replies, from_child = os.pipe()
        self.pid = os.fork()
        if self.pid == 0:
            code = 0
            try:
                os.close(self._requests)
                os.close(self._replies)
                devnull = os.open(os.devnull, os.O_RDWR)
                os.dup2(devnull, 0)
                os.dup2(devnull, 1)
                _judge_loop(to_child, from_child)
            except BaseException:  # the child must never return into the supervisor
                code = 1
            os._exit(code)
        os.close(to_child)
        os.close(from_child)

    def ask(self, request: dict, timeout: float) -> dict:
        try:
            write_frame(self._requests, request)
        except BrokenPipeError:
            return {"status": "crash", "equal": False, "detail": "judge died"}
        deadline = time.monotonic() + timeout
        ready, _, _ = select.select([self._replies], [], [], max(0.0, deadline - time.monotonic()))
        if not ready:
            return {"status": "timeout", "equal": False, "detail": "timeout"}
        reply = read_frame(self._replies)
        if reply is None:
            return {"status": "crash", "equal": False, "detail": "judge died"}
        return reply

    def kill(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.pid, signal.SIGKILL)
        os.waitpid(self.pid, 0)
        os.close(self._requests)
        os.close(self._replies)


def main() -> None:
    logging.disable(logging.WARNING)  # math_verify warns that its own timeout is off: ours is on
    stdin, stdout = sys.stdin.fileno(), sys.stdout.fileno()
    for gold, pred in WARM_UP:  # fill sympy's lazy imports and caches once, before any fork
        judge(gold, pred)
    judge_process = Judge()
    write_frame(stdout, {"status": "ready"})
    while (request := read_frame(stdin)) is not None:
        reply = judge_process.ask(request, float(request["timeout"]))
        if reply["status"] != "ok":
            judge_process.kill()
        try:
            write_frame(stdout, reply)
        except BrokenPipeError:
            return
        if reply["status"] != "ok":
            judge_process = Judge()  # ready before the next request arrives
    judge_process.kill()


if __name__ == "__main__":
    main()

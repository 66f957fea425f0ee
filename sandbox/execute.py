"""Running source text with the semantics the sandbox promises (inside the sandboxed process).

Plain programs behave like ``python -c``. Session blocks behave like a Jupyter cell: the repr of
the last expression is printed when it is not ``None`` (a trailing ``;`` hides it, as in
IPython), and ``SystemExit`` ends the block, not the session. Tracebacks are written to stderr,
trimmed to the user's frames, with source lines shown.
"""

from __future__ import annotations

import linecache
import sys
import traceback


class CpuTimeExceeded(BaseException):
    """Raised by the SIGXCPU handler; a BaseException so ``except Exception`` cannot swallow it."""


def raise_cpu_exceeded(signum: int, frame: object) -> None:
    """The SIGXCPU handler (installed in the template, inherited by every child)."""
    raise CpuTimeExceeded


class Status:
    """How the code ended, as reported back to the server: kind is ok/error/memory/timeout.

    A plain class rather than a dataclass: templates import this module, and ``dataclasses``
    would add over a megabyte to every template's copy-on-write footprint."""

    __slots__ = ("error", "kind")

    def __init__(self, kind: str, error: str | None = None) -> None:
        self.kind = kind
        self.error = error

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Status) and (self.kind, self.error) == (other.kind, other.error)

    def __hash__(self) -> int:
        return hash((self.kind, self.error))

    def __repr__(self) -> str:
        return f"Status({self.kind!r}, {self.error!r})"


MEMORY_STATUS = Status("memory", "MemoryError")


def _hides_result(source: str) -> bool:
    """True when the last token of the cell is ``;`` (IPython's "do not display" convention)."""
    import io
    import tokenize

    last = None
    try:
        for token in tokenize.generate_tokens(io.StringIO(source).readline):
            if token.type not in (
                tokenize.NEWLINE,
                tokenize.NL,
                tokenize.COMMENT,
                tokenize.ENDMARKER,
                tokenize.DEDENT,
                tokenize.INDENT,
            ):
                last = token
    except (tokenize.TokenError, SyntaxError):
        return False
    return last is not None and last.type == tokenize.OP and last.string == ";"


def _error_line(exc: BaseException) -> str:
    """The ``Type: message`` line of a traceback, as the last line a user would read."""
    lines = traceback.format_exception_only(type(exc), exc)
    if isinstance(exc, SyntaxError):
        return lines[-1].strip()
    return next((line for line in lines if not line.startswith(" ")), lines[-1]).strip()[:1000]


def _user_traceback(exc: BaseException, source: str, filename: str) -> str:
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
    tb = exc.__traceback__
    while tb is not None and tb.tb_frame.f_code.co_filename == __file__:
        tb = tb.tb_next
    return "".join(traceback.format_exception(type(exc), exc, tb))


def _exit_status(exc: SystemExit, interactive: bool) -> Status:
    """``python -c`` semantics for programs; for blocks, the session lives on (as in IPython)."""
    code = exc.code
    if interactive:
        error = "SystemExit" if code is None else f"SystemExit: {code}"
        print(error, file=sys.stderr)
        return Status("error", error)
    if code is None or code == 0:
        return Status("ok")
    if not isinstance(code, int):
        print(code, file=sys.stderr)
    return Status("error", f"SystemExit: {code}")


def _compile(source: str, filename: str, interactive: bool) -> tuple[object, object]:
    """Code for the whole source, or for all but a last expression plus that expression."""
    if not interactive:
        return compile(source, filename, "exec"), None
    import ast  # sessions only: the heavy template has it loaded (sympy imports it)

    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
    tree = ast.parse(source, filename, "exec")
    last = None
    if tree.body and isinstance(tree.body[-1], ast.Expr) and not _hides_result(source):
        last = compile(ast.Expression(tree.body.pop().value), filename, "eval")
    return compile(tree, filename, "exec"), last


def run(source: str, namespace: dict, filename: str, interactive: bool) -> Status:
    """Execute ``source`` in ``namespace``; everything it prints goes to the real stdout/stderr."""
    try:
        body, last = _compile(source, filename, interactive)
        exec(body, namespace)
        if last is not None:
            value = eval(last, namespace)
            if value is not None:
                print(repr(value))
        return Status("ok")
    except MemoryError:
        return MEMORY_STATUS
    except CpuTimeExceeded:
        return Status("timeout", "CPU time limit exceeded")
    except SystemExit as exc:
        return _exit_status(exc, interactive)
    except BaseException as exc:
        sys.stdout.flush()
        sys.stderr.write(_user_traceback(exc, source, filename))
        return Status("error", _error_line(exc))

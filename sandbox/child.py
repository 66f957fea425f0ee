"""The body of a sandboxed process, from the moment the template forks it until it exits.

A child is forked ahead of need, confined, and then waits for its first request, whose tag
says what it is: ``oneshot`` runs one program and exits; ``session`` runs blocks in one
namespace until its socket closes; ``worker`` (reuse mode) runs programs in fresh namespaces
one after another. Requests and results are records on fd 3; everything the code prints goes
to fds 1 and 2, which the server reads.
"""

from __future__ import annotations

import builtins
import contextlib
import os
import sys
import traceback
from typing import TYPE_CHECKING

from sandbox import execute
from sandbox.confine import CTL_FD, close_cpu_limit, confine, rearm_cpu_limit
from sandbox.wire import KINDS, SETUP_FAILED, Mode, read_record, record, write_all

if TYPE_CHECKING:
    from typing import NoReturn

    from sandbox.landlock import Plan

_MEMORY_RECORD = record(KINDS.index("memory"), b"MemoryError")


def _fresh_namespace() -> dict:
    return {"__name__": "__main__", "__builtins__": builtins}


def _next_code() -> str | None:
    """The next request's source, or None when the server closed the socket."""
    message = read_record(CTL_FD)
    return None if message is None else message[1].decode(errors="surrogatepass")


def _report(status: execute.Status) -> None:
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):
            stream.flush()
    if status.kind == "memory":
        os.write(CTL_FD, _MEMORY_RECORD)
    else:
        write_all(CTL_FD, record(KINDS.index(status.kind), (status.error or "").encode()))


def _run_oneshot(code: str, workdir: str, cpu_s: float) -> None:
    close_cpu_limit(cpu_s)
    namespace = _fresh_namespace()
    status = execute.run(code, namespace, "<program>", interactive=False)
    namespace.clear()
    _report(status)


def _run_session(code: str | None, workdir: str, cpu_s: float) -> None:
    namespace = _fresh_namespace()
    count = 0
    while code is not None:
        count += 1
        rearm_cpu_limit(cpu_s)
        status = execute.run(code, namespace, f"<block-{count}>", interactive=True)
        if status.kind == "memory":
            namespace.clear()
        _report(status)
        if status.kind in ("memory", "timeout"):
            return
        code = _next_code()


def _reset_worker(workdir: str) -> None:
    """What reuse mode restores between programs: streams, directory and its contents."""
    import shutil

    sys.stdout, sys.stderr = sys.__stdout__, sys.__stderr__
    os.chdir(workdir)
    for entry in os.scandir(workdir):
        if entry.is_dir(follow_symlinks=False):
            shutil.rmtree(entry.path, ignore_errors=True)
        else:
            os.unlink(entry.path)


def _run_worker(code: str | None, workdir: str, cpu_s: float) -> None:
    while code is not None:
        rearm_cpu_limit(cpu_s)
        namespace = _fresh_namespace()
        status = execute.run(code, namespace, "<program>", interactive=False)
        namespace.clear()
        _reset_worker(workdir)
        _report(status)
        if status.kind in ("memory", "timeout"):
            return
        code = _next_code()


_BODIES = {Mode.ONESHOT: _run_oneshot, Mode.SESSION: _run_session, Mode.WORKER: _run_worker}


def main(spec: dict, uid: int | None, workdir: str, fds: list[int], plan: Plan | None) -> NoReturn:
    """Never returns: the forked process must not fall back into the template's loop.

    Exit status ``SETUP_FAILED`` means confinement failed before any code ran (the sandbox's
    fault); once code runs, a failure to report (say, the code closed fd 3) exits with 1.
    """
    exit_code = SETUP_FAILED
    try:
        confine(spec, uid, workdir, fds, plan)
        if "tempfile" in sys.modules:  # the template imported it: forget its cached directory
            sys.modules["tempfile"].tempdir = workdir
        message = read_record(CTL_FD)
        exit_code = 1
        if message is not None:
            tag, payload = message
            code = payload.decode(errors="surrogatepass")
            _BODIES[Mode(tag)](code, workdir, spec["limits"]["cpu_time_s"])
        exit_code = 0
    except BaseException:
        with contextlib.suppress(BaseException):
            traceback.print_exc()
    finally:
        os._exit(exit_code)

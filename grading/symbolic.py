"""Time-bounded symbolic equivalence, answered by a warm helper process (``symbolic_worker.py``).

The helper is the only place where sympy runs, so a pathological answer can stall or crash only
the helper, never the caller. Each calling (process, thread) gets its own helper, which keeps the
bound per comparison in any thread and makes the client safe across ``fork``. Starting a helper
takes about a second (importing sympy); that start is bounded separately (``STARTUP_TIMEOUT_S``)
and is not part of the per-comparison bound: call :func:`warm_up` ahead to pay it early.
"""

from __future__ import annotations

import contextlib
import json
import os
import select
import signal
import struct
import subprocess
import sys
import threading
import time
import weakref
from dataclasses import dataclass
from pathlib import Path

from sandbox.wire import read_exactly

WORKER = Path(__file__).with_name("symbolic_worker.py")
STARTUP_TIMEOUT_S = 60.0
# Slack on top of the comparison timeout for the supervisor to notice it, kill and reply.
GRACE_S = 1.0
_HEADER = struct.Struct(">I")
_local = threading.local()


@dataclass(frozen=True)
class Equivalence:
    """Whether two answers are symbolically equal, as the helper judged within the timeout."""

    equal: bool
    timed_out: bool
    detail: str


class HelperError(RuntimeError):
    """The helper process could not be started."""


class _Helper:
    """One supervisor process and the pipes to it; owned by a single (process, thread)."""

    def __init__(self) -> None:
        self.owner_pid = os.getpid()
        self.process = subprocess.Popen(
            [sys.executable, str(WORKER)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            start_new_session=True,  # its own process group: one killpg ends it and its judge
        )
        self._out = self.process.stdin.fileno()
        self._in = self.process.stdout.fileno()
        os.set_blocking(self._out, False)
        self._finalizer = weakref.finalize(self, _stop, self.process, self.owner_pid)
        if self._read(time.monotonic() + STARTUP_TIMEOUT_S) != {"status": "ready"}:
            self.close()
            raise HelperError(f"symbolic helper {WORKER} did not start")

    @property
    def alive(self) -> bool:
        return self.process.poll() is None

    def ask(self, gold: str, pred: str, timeout_s: float) -> dict | None:
        """The helper's reply, or None when the helper itself missed the deadline or died."""
        deadline = time.monotonic() + timeout_s + GRACE_S
        request = {"gold": gold, "pred": pred, "timeout": timeout_s}
        body = json.dumps(request).encode()
        if not self._write(_HEADER.pack(len(body)) + body, deadline):
            return None
        return self._read(deadline)

    def close(self) -> None:
        self._finalizer()

    def _write(self, data: bytes, deadline: float) -> bool:
        view = memoryview(data)
        while view:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not select.select([], [self._out], [], remaining)[1]:
                return False
            try:
                view = view[os.write(self._out, view) :]
            except BlockingIOError:
                continue
            except OSError:
                return False
        return True

    def _read(self, deadline: float) -> dict | None:
        header = read_exactly(self._in, _HEADER.size, deadline)
        if header is None:
            return None
        body = read_exactly(self._in, _HEADER.unpack(header)[0], deadline)
        return None if body is None else json.loads(body)


def _stop(process: subprocess.Popen, owner_pid: int) -> None:
    """Kill the helper's process group; a forked copy of the client must not kill its parent's."""
    if os.getpid() != owner_pid:
        return
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    for stream in (process.stdin, process.stdout):
        with contextlib.suppress(OSError):
            stream.close()


def _helper() -> _Helper:
    helper = getattr(_local, "helper", None)
    if helper is None or helper.owner_pid != os.getpid() or not helper.alive:
        if helper is not None:
            helper.close()
        helper = _Helper()
        _local.helper = helper
    return helper


def warm_up() -> None:
    """Start this thread's helper now, so the first comparison does not pay the import."""
    _helper()


def symbolic_equal(gold: str, pred: str, timeout_s: float) -> Equivalence:
    """Whether math_verify finds ``pred`` equivalent to ``gold``, within ``timeout_s`` seconds."""
    helper = _helper()
    reply = helper.ask(gold, pred, timeout_s)
    if reply is None:  # the supervisor itself is stuck or gone: start afresh next time
        helper.close()
        return Equivalence(equal=False, timed_out=True, detail="helper unresponsive")
    if reply["status"] == "timeout":
        return Equivalence(equal=False, timed_out=True, detail="timeout")
    return Equivalence(equal=bool(reply["equal"]), timed_out=False, detail=reply["detail"])

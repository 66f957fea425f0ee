"""The trainer's side of the sandbox: a lazily started server process and typed results.

A ``SandboxPool`` costs nothing until first used; then it starts one server process (see
``server``) and talks to it over a socket, with a reader thread resolving futures. It is safe
to copy into a forked child (the copy forgets the parent's server and starts its own when
used), pickles as its config, and kills its server at close, at interpreter exit, or when the
trainer dies (the server exits when its socket closes).
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import os
import shutil
import socket
import subprocess
import threading
import weakref
from collections.abc import Iterator, Sequence
from concurrent.futures import Future

from sandbox.options import SandboxOptions
from sandbox.processes import python_command, wait_or_kill
from sandbox.result import ExecutionResult, Outcome
from sandbox.wire import MAX_CLIENT_FRAME, FrameReader, ProtocolError, encode

log = logging.getLogger(__name__)

_THREAD_VARIABLES = (
    "OMP_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "MKL_NUM_THREADS",
    "NUMEXPR_NUM_THREADS",
    "VECLIB_MAXIMUM_THREADS",
)
MAX_START_FAILURES = 3
START_TIMEOUT_S = 60.0


def _clean_environment() -> dict[str, str]:
    """What sandboxed code may see of the environment: nothing of the trainer's secrets."""
    env = {
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "LANG": "C.UTF-8",
        "LC_ALL": "C.UTF-8",
        "PYTHONHASHSEED": "0",
    }
    env.update(dict.fromkeys(_THREAD_VARIABLES, "1"))
    if "LD_LIBRARY_PATH" in os.environ:
        env["LD_LIBRARY_PATH"] = os.environ["LD_LIBRARY_PATH"]
    return env


def _unavailable(reason: str) -> ExecutionResult:
    return ExecutionResult(Outcome.UNAVAILABLE, "", reason)


class _Link:
    """One running server process and the socket to it."""

    def __init__(self, config: SandboxOptions) -> None:
        ours, theirs = socket.socketpair()
        call = f"main({theirs.fileno()}, {config.to_json()!r})"
        self.process = subprocess.Popen(
            python_command("sandbox.server", call),
            pass_fds=[theirs.fileno()],
            env=_clean_environment(),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            start_new_session=True,
            cwd="/",
        )
        theirs.close()
        self.sock = ours
        self.pending: dict[int, Future] = {}
        self.lock = threading.Lock()
        self.ready = threading.Event()
        self.guarantees: dict | None = None
        self.alive = True
        self.closed = False
        self.owner = os.getpid()
        self.reader = threading.Thread(target=self._read_loop, name="sandbox-reader", daemon=True)
        self.reader.start()

    def submit(self, message: dict) -> Future:
        future: Future = Future()
        with self.lock:
            if not self.alive:
                future.set_result(_unavailable("sandbox server is not running"))
                return future
            self.pending[message["id"]] = future
            try:
                self.sock.sendall(encode(message))
            except OSError:
                self.alive = False
        return future

    def send(self, message: dict) -> None:
        with self.lock:
            if self.alive:
                try:
                    self.sock.sendall(encode(message))
                except OSError:
                    self.alive = False

    def _read_loop(self) -> None:
        frames = FrameReader(MAX_CLIENT_FRAME)
        try:
            while data := self.sock.recv(1 << 20):
                for message in frames.feed(data):
                    self._dispatch(message)
        except (OSError, ProtocolError):
            pass
        with self.lock:
            self.alive = False
            pending, self.pending = self.pending, {}
        reason = "sandbox server died" if self.ready.is_set() else "sandbox server failed to start"
        for future in pending.values():
            future.set_result(_unavailable(reason))
        self.ready.set()

    def _dispatch(self, message: dict) -> None:
        op = message["op"]
        if op == "result":
            with self.lock:
                future = self.pending.pop(message["id"], None)
            if future is not None and not future.done():
                future.set_result(ExecutionResult.from_wire(message))
        elif op == "ready":
            self.guarantees = message["guarantees"]
            for warning in self.guarantees["warnings"]:
                log.warning("sandbox: %s", warning)
            self.ready.set()
        elif op == "warning":
            log.warning("sandbox: %s", message["text"])

    def close(self) -> None:
        """Stop the server: closing the socket makes it kill every child and exit. Idempotent;
        in a forked child it only drops the inherited socket (the parent's server lives on)."""
        if self.closed:
            return
        if os.getpid() != self.owner:
            self.forget()
            return
        self.closed = True
        with self.lock:
            self.alive = False
        with contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_RDWR)
        self.sock.close()
        wait_or_kill(self.process, timeout=10)
        self.reader.join(timeout=10)
        if self.guarantees is not None:
            # A server that was killed could not remove its scratch directory; one that
            # exited normally already did (then this finds nothing).
            shutil.rmtree(self.guarantees["scratch"], ignore_errors=True)

    def forget(self) -> None:
        """In a forked child: drop the parent's server without touching it."""
        self.closed = True
        self.alive = False
        self.sock.close()


class SandboxPool:
    """Runs untrusted code in sandboxed processes; see ``sandbox`` for the guarantees."""

    def __init__(self, config: SandboxOptions | None = None) -> None:
        self.config = config or SandboxOptions()
        self._lock = threading.Lock()
        self._link: _Link | None = None
        self._owner = os.getpid()
        self._ids = itertools.count()
        self._session_ids = itertools.count()
        self._failed_starts = 0
        self._closed = False
        _POOLS.add(self)

    # ------------------------------------------------------------ lifecycle
    def _after_fork(self) -> None:
        if self._link is not None:
            self._link.forget()
        self._lock = threading.Lock()
        self._link = None
        self._owner = os.getpid()

    def _current_link(self) -> _Link | None:
        """The live server, started (or restarted) on demand; None if it cannot start."""
        if self._owner != os.getpid():
            self._after_fork()
        with self._lock:
            if self._closed:
                raise RuntimeError("this SandboxPool is closed")
            link = self._link
            if link is not None and link.alive:
                return link
            if link is not None:
                if link.guarantees is None:
                    self._failed_starts += 1
                link.close()
                self._link = None
            if self._failed_starts >= MAX_START_FAILURES:
                return None
            self._link = _Link(self.config)
            # Closes the server when the pool is garbage collected, and at interpreter exit.
            weakref.finalize(self, self._link.close)
            return self._link

    def start(self) -> dict:
        """Start the server and both templates now, instead of on first use; return guarantees."""
        link = self._current_link()
        if link is None:
            return {}
        link.send({"op": "warm"})
        link.ready.wait(START_TIMEOUT_S)
        return link.guarantees or {}

    @property
    def guarantees(self) -> dict:
        """Which OS-level protections hold on this host (starts the server if needed)."""
        link = self._current_link()
        if link is None:
            return {}
        link.ready.wait(START_TIMEOUT_S)
        return link.guarantees or {}

    @property
    def server_pid(self) -> int | None:
        """The server process's pid while one runs (for monitoring), else None."""
        link = self._link
        return link.process.pid if link is not None and link.alive else None

    def close(self) -> None:
        """Kill every sandboxed process and the server. Idempotent."""
        if self._owner != os.getpid():
            self._after_fork()
        with self._lock:
            link, self._link = self._link, None
            self._closed = True
        if link is not None:
            link.close()

    def __enter__(self) -> SandboxPool:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __getstate__(self) -> dict:
        return {"config": self.config}

    def __setstate__(self, state: dict) -> None:
        self.__init__(state["config"])

    # ------------------------------------------------------------ running code
    def _submit(self, message: dict) -> Future:
        link = self._current_link()
        if link is None:
            future: Future = Future()
            future.set_result(_unavailable("sandbox server failed to start repeatedly"))
            return future
        return link.submit(message)

    def _submit_all(self, messages: Iterator[dict]) -> list[ExecutionResult]:
        """Submit, then wait for every result; on an interrupt, cancel what is left."""
        futures: dict[int, Future] = {}
        try:
            for message in messages:
                message["id"] = next(self._ids)
                futures[message["id"]] = self._submit(message)
            return [future.result() for future in futures.values()]
        except BaseException:
            unfinished = [i for i, future in futures.items() if not future.done()]
            link = self._link
            if unfinished and link is not None:
                link.send({"op": "cancel", "ids": unfinished})
            raise

    def run(self, code: str) -> ExecutionResult:
        """Run one program in a fresh sandboxed process (or a reused worker if isolate=False)."""
        return self.run_many([code])[0]

    def run_many(self, codes: Sequence[str]) -> list[ExecutionResult]:
        """Run programs in parallel over the pool; results come back in the order given."""
        return self._submit_all({"op": "run", "code": code} for code in codes)

    def session(self) -> SandboxSession:
        """A persistent namespace for blocks of one solution (MathCoder's LCE)."""
        return SandboxSession(self, next(self._session_ids))

    def run_blocks(self, blocks: Sequence[tuple[SandboxSession, str]]) -> list[ExecutionResult]:
        """Run one block in each of several sessions at once (blocks of a session run in order)."""
        return self._submit_all(session._message(code) for session, code in blocks)

    def _close_session(self, sid: int) -> None:
        link = self._link
        if link is not None and self._owner == os.getpid():
            link.send({"op": "close", "sid": sid})


class SandboxSession:
    """Globals that persist across blocks, Jupyter style; a killed session restarts empty."""

    def __init__(self, pool: SandboxPool, sid: int) -> None:
        self._pool = pool
        self._sid = sid
        self._started = False
        self._closed = False

    def _message(self, code: str) -> dict:
        if self._closed:
            raise RuntimeError("this SandboxSession is closed")
        message = {"op": "block", "sid": self._sid, "code": code, "started": self._started}
        self._started = True
        return message

    def run(self, code: str) -> ExecutionResult:
        return self._pool.run_blocks([(self, code)])[0]

    def close(self) -> None:
        """End the session's process. Idempotent."""
        if not self._closed:
            self._closed = True
            if self._started:
                self._pool._close_session(self._sid)

    def __enter__(self) -> SandboxSession:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


_POOLS: weakref.WeakSet[SandboxPool] = weakref.WeakSet()


def _forget_all_after_fork() -> None:
    for pool in list(_POOLS):
        pool._after_fork()


os.register_at_fork(after_in_child=_forget_all_after_fork)

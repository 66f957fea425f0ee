"""A template process: imports the preloaded modules once, then forks sandboxed children.

It holds no sample's data (requests and outputs go between the server and the children
directly), so a fork copies only the interpreter and its modules. Whatever all children share
is set up here once: the minimal filesystem view (entered once the modules are imported),
resource limits that do not depend on the child, ``no_new_privs``, the SIGXCPU handler, the
import path, the fixed part of each child's Landlock domain. The server starts it as pid 1
of a pid namespace when the host allows, and each child becomes pid 1 of a nested one:
killing a child kills all it started, and if the template dies the kernel kills every child
with it.

The loop is deliberately small (``select.poll``, struct-packed records): every page the
template writes between two forks is copied, so its per-fork work is kept minimal.
"""

from __future__ import annotations

import gc
import importlib
import json
import os
import select
import signal
import socket
import sys

from sandbox import child
from sandbox.confine import die_with_parent, limit_template, set_process_name
from sandbox.execute import raise_cpu_exceeded
from sandbox.landlock import Plan
from sandbox.syscalls import CLONE_NEWPID, setns, unshare
from sandbox.view import enter as enter_view
from sandbox.wire import (
    EXITED,
    EXITED_TAG,
    FAILED,
    FAILED_TAG,
    MAX_TEMPLATE_MESSAGE,
    READY,
    RECORD,
    SPAWN,
    SPAWNED,
    SPAWNED_TAG,
    record,
)

# Run once in a template that preloads the module: sympy imports parts of itself and fills
# its caches on first use (~150 ms for a first ``solve``), which every child would repeat.
WARMUPS = {
    "sympy": (
        "import sympy\n"
        "x, y = sympy.symbols('x y')\n"
        "sympy.solve((sympy.Eq(2.5 * x + 4 * y, 60), sympy.Eq(x + y, 20)), (x, y))\n"
        "sympy.solve(sympy.Eq(x**2 - 4, 0), x)\n"
        "sympy.simplify(sympy.Rational(1, 3) * x + x / 3)\n"
    ),
}


def _preload(modules: list[str]) -> list[str]:
    """Import (and warm up) the modules; return those that failed."""
    missing = []
    for name in modules:
        try:
            importlib.import_module(name)
            if name in WARMUPS:
                exec(WARMUPS[name], {})
        except Exception:
            missing.append(name)
    return missing


class Zygote:
    def __init__(self, sock: socket.socket, spec: dict) -> None:
        self.sock = sock
        self.spec = spec
        self.own_pid_ns = os.open("/proc/self/ns/pid", os.O_RDONLY) if spec["pid_ns"] else -1
        self.poll = select.poll()
        self.poll.register(sock.fileno(), select.POLLIN)
        self.children: dict[int, tuple[int, int]] = {}  # pidfd -> (pid, token)
        rules = spec["landlock"]
        self.plan = Plan(rules["readable"], rules["writable"]) if rules else None

    def _fork(self) -> int:
        """fork(), with the child as pid 1 of a fresh pid namespace when available."""
        if self.own_pid_ns < 0:
            return os.fork()
        unshare(CLONE_NEWPID)
        try:
            pid = os.fork()
        except BaseException:
            setns(self.own_pid_ns, CLONE_NEWPID)
            raise
        if pid:
            setns(self.own_pid_ns, CLONE_NEWPID)
        return pid

    def _spawn(self, payload: bytes, fds: list[int]) -> None:
        token, uid = SPAWN.unpack_from(payload)
        try:
            pid = self._fork()
        except OSError as exc:
            pid = -1
            self.sock.send(record(FAILED_TAG, FAILED.pack(token) + str(exc).encode()))
        if pid == 0:
            workdir = payload[SPAWN.size :].decode()
            child.main(self.spec, None if uid < 0 else uid, workdir, fds, self.plan)
        for fd in fds:
            os.close(fd)
        if pid > 0:
            pidfd = os.pidfd_open(pid)
            self.children[pidfd] = (pid, token)
            self.poll.register(pidfd, select.POLLIN)
            message = record(SPAWNED_TAG, SPAWNED.pack(token, pid))
            socket.send_fds(self.sock, [message], [pidfd])

    def _reap(self, pidfd: int) -> None:
        pid, token = self.children.pop(pidfd)
        self.poll.unregister(pidfd)
        os.close(pidfd)
        _, status, usage = os.wait4(pid, 0)
        cpu = usage.ru_utime + usage.ru_stime
        self.sock.send(record(EXITED_TAG, EXITED.pack(token, status, cpu)))

    def serve(self) -> None:
        server_fd = self.sock.fileno()
        while True:
            for fd, _ in self.poll.poll():
                if fd != server_fd:
                    self._reap(fd)
                    continue
                data, fds, _, _ = socket.recv_fds(self.sock, MAX_TEMPLATE_MESSAGE, 4)
                if not data:
                    return
                self._spawn(data[RECORD.size :], fds)


def main(fd: int, spec_json: str) -> None:
    """Entry point of a template process (started by the server with a socket at ``fd``).

    ``spec`` carries the limits, the preload list, whether to use pid namespaces and whether
    children get private uids (which makes the process cap meaningful).
    """
    die_with_parent()
    set_process_name(b"sandbox-zygote")
    spec = json.loads(spec_json)
    sock = socket.socket(fileno=fd)
    missing = _preload(spec["modules"])
    if spec["view"]:
        enter_view(spec["view"])
    limit_template(spec["limits"], spec["private_uid"])
    signal.signal(signal.SIGXCPU, raise_cpu_exceeded)
    sys.stdout.reconfigure(line_buffering=True)
    sys.argv[:] = [""]
    gc.collect()
    gc.freeze()
    zygote = Zygote(sock, spec)
    threads = len(os.listdir("/proc/self/task"))
    try:
        sock.send(record(READY, json.dumps({"missing": missing, "threads": threads}).encode()))
        zygote.serve()
    except (BrokenPipeError, ConnectionResetError):
        pass  # the server is gone; so are we, and (through the pid namespace) our children

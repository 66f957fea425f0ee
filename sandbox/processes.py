"""Starting the sandbox's own helper processes: the server, its templates, the uid reaper."""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import sys
from collections.abc import Callable

from sandbox.eventloop import Loop
from sandbox.reaper import UID
from sandbox.syscalls import CLONE_NEWPID, setns, unshare
from sandbox.wire import (
    EXITED,
    EXITED_TAG,
    FAILED,
    MAX_TEMPLATE_MESSAGE,
    READY,
    RECORD,
    SPAWN,
    SPAWNED,
    SPAWNED_TAG,
    record,
)

PACKAGE_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def wait_or_kill(process: subprocess.Popen, timeout: float) -> None:
    """Give a process ``timeout`` seconds to exit on its own, then SIGKILL it and reap it."""
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def python_command(module: str, call: str) -> list[str]:
    """Run ``module.call`` in a fresh interpreter with this interpreter's import path.

    ``-S`` skips ``site``: no ``.pth`` code or ``sitecustomize`` runs, and nothing imports
    ``threading``, whose fork handler alone would double the cost of every fork of a template.
    The path is passed explicitly instead (without the project root once the module is in).
    """
    paths = [p for p in sys.path if p and os.path.realpath(p) != PACKAGE_ROOT]
    boot = (
        f"import sys; sys.path[:] = {[PACKAGE_ROOT, *paths]!r}; import {module} as m; "
        f"del sys.path[0]; m.{call}"
    )
    return [sys.executable, "-S", "-B", "-c", boot]


class Template:
    """The server's handle on one template process (``sandbox.zygote``).

    ``on_message(tag, payload, fds)`` receives the template's records; ``on_death()`` runs once
    when it is gone. With pid namespaces it starts as pid 1 of a new one, so that its death
    takes every child it forked with it.
    """

    def __init__(
        self,
        name: str,
        spec: dict,
        loop: Loop,
        on_message: Callable[[Template, int, bytes, list[int]], None],
        on_death: Callable[[Template], None],
    ) -> None:
        self.name = name
        self.loop = loop
        self.on_message = on_message
        self.on_death = on_death
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        command = python_command("sandbox.zygote", f"main({theirs.fileno()}, {json.dumps(spec)!r})")
        own_pid_ns = os.open("/proc/self/ns/pid", os.O_RDONLY) if spec["pid_ns"] else -1
        try:
            if own_pid_ns >= 0:
                unshare(CLONE_NEWPID)
            self.process = subprocess.Popen(
                command,
                pass_fds=[theirs.fileno()],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                cwd="/",
                # Resolve every symbol at load: lazy binding would have each child resolve
                # (and copy the pages of) whatever the template never called (~20 faults).
                # Programs see the variable; unsetting it in the template costs more faults.
                env={**os.environ, "LD_BIND_NOW": "1"},
            )
        finally:
            if own_pid_ns >= 0:
                setns(own_pid_ns, CLONE_NEWPID)
                os.close(own_pid_ns)
            theirs.close()
        self.sock = ours
        self.alive = True
        loop.on_read(ours.fileno(), self._on_readable)

    def spawn(self, token: int, uid: int | None, workdir: str, fds: list[int]) -> None:
        """Ask for a child; if the template is gone, its end-of-file reports that (no raise)."""
        payload = SPAWN.pack(token, -1 if uid is None else uid) + workdir.encode()
        with contextlib.suppress(OSError):
            socket.send_fds(self.sock, [record(0, payload)], fds)

    def _on_readable(self) -> None:
        try:
            data, fds, _, _ = socket.recv_fds(self.sock, MAX_TEMPLATE_MESSAGE, 4)
        except OSError:
            data, fds = b"", []
        if len(data) < RECORD.size:
            self._died()
            return
        _, tag = RECORD.unpack_from(data)
        self.on_message(self, tag, data[RECORD.size :], fds)

    def _died(self) -> None:
        if self.alive:
            self._close(kill=True)
            self.on_death(self)

    def _close(self, kill: bool) -> None:
        self.alive = False
        self.loop.forget(self.sock.fileno())
        self.sock.close()
        if kill:
            self.process.kill()
        wait_or_kill(self.process, timeout=2)

    def stop(self) -> None:
        """Close the socket: the template exits, and its pid namespace with it."""
        if self.alive:
            self._close(kill=False)


def decode_template_record(tag: int, payload: bytes) -> tuple[str, dict]:
    """(event, fields) of a record from a template: ready, spawned, exited or failed."""
    if tag == READY:
        return "ready", json.loads(payload)
    if tag == SPAWNED_TAG:
        token, pid = SPAWNED.unpack(payload)
        return "spawned", {"token": token, "pid": pid}
    if tag == EXITED_TAG:
        token, status, cpu = EXITED.unpack(payload)
        return "exited", {"token": token, "status": status, "cpu": cpu}
    (token,) = FAILED.unpack_from(payload)
    return "failed", {"token": token, "error": payload[FAILED.size :].decode(errors="replace")}


class Reaper:
    """Client of the uid-killing helper (``sandbox.reaper``), used without pid namespaces."""

    def __init__(self) -> None:
        self.process: subprocess.Popen | None = None
        self.sock: socket.socket | None = None

    def kill_uid(self, uid: int) -> None:
        if self.process is None or self.process.poll() is not None:
            ours, theirs = socket.socketpair()
            self.process = subprocess.Popen(
                python_command("sandbox.reaper", f"main({theirs.fileno()})"),
                pass_fds=[theirs.fileno()],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                cwd="/",
            )
            theirs.close()
            self.sock = ours
        try:
            self.sock.sendall(UID.pack(uid))
            self.sock.recv(1)
        except OSError:
            self.process.kill()

    def stop(self) -> None:
        if self.process is not None:
            self.process.kill()
            self.process.wait()

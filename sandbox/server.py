"""The sandbox server: one per pool, a separate process that supervises every execution.

It owns the queue, the wall-time clock, the output pipes and the private uids; the templates
(``zygote``) only fork. To keep latency off the critical path it keeps ``workers`` spare
children forked and confined ahead of need for each template in use. Children are never
trusted: their records are checked, their pipes read without blocking, and they are killed by
pidfd. The server exits, killing everything, when the trainer's end of its socket closes.
"""

from __future__ import annotations

import contextlib
import enum
import itertools
import os
import re
import shutil
import signal
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from sandbox.eventloop import Loop, Writer
from sandbox.namespaces import isolate
from sandbox.options import SandboxOptions
from sandbox.output import OutputBuffer
from sandbox.processes import PACKAGE_ROOT, Reaper, Template, decode_template_record
from sandbox.result import ExecutionResult, Outcome
from sandbox.view import DEVICES, readable
from sandbox.wire import (
    KINDS,
    MAX_CLIENT_FRAME,
    SETUP_FAILED,
    FrameReader,
    Mode,
    ProtocolError,
    RecordReader,
    encode,
    record,
)

MAX_CHILD_RECORD = 1 << 16
UID_BASE = 1 << 30
UIDS_PER_SERVER = 1 << 11
DRAIN_READS = 16  # reads to empty a pipe at most, so that an endless writer cannot stall us
_OUTCOMES = {
    "ok": Outcome.OK,
    "error": Outcome.ERROR,
    "memory": Outcome.MEMORY,
    "timeout": Outcome.TIMEOUT,
}
_KILL_REASONS = {
    "cancelled": "cancelled by the trainer",
    "closed": "session closed",
    "protocol": "broke the sandbox protocol",
    "template": "the sandbox template process died",
    "shutdown": "the sandbox shut down",
}


class Preload(enum.Enum):
    """The template a child forks from: the light modules only, or the heavy ones as well."""

    LIGHT = "light"
    HEAVY = "heavy"


@dataclass
class Job:
    id: int
    code: str
    sid: int | None = None
    started: bool = False


@dataclass
class Proc:
    """One sandboxed process: forked ahead of need, then a program, a session or a worker."""

    token: int
    preload: Preload
    template: Template
    uid: int | None
    workdir: str
    out_fd: int
    control: Writer
    mode: Mode | None = None
    sid: int | None = None
    pid: int | None = None
    pidfd: int | None = None
    job: Job | None = None
    deadline: float | None = None
    killed_for: str | None = None
    restarted: bool = False
    programs: int = 0
    output: OutputBuffer | None = None
    records: RecordReader = field(default_factory=lambda: RecordReader(MAX_CHILD_RECORD, 4))


class Server:
    def __init__(self, sock: socket.socket, config: SandboxOptions) -> None:
        self.config = config
        self.guarantees, self.scratch, self.child_flags = isolate(
            config.namespaces, config.disk_mb, config.private_network
        )
        self.loop = Loop()
        self.sock = sock
        self.client = Writer(sock.fileno(), self.loop)
        self.client_frames = FrameReader(MAX_CLIENT_FRAME)
        self.loop.on_read(sock.fileno(), self._on_client)
        self.queue: list[Job] = []
        self.procs: dict[int, Proc] = {}
        self.sessions: dict[int, Proc] = {}
        self.spares: dict[Preload, list[Proc]] = {preload: [] for preload in Preload}
        self.spare_target: dict[Preload, int] = dict.fromkeys(Preload, 0)
        self.running = 0
        self.workers = config.worker_count
        self.child_nice = os.getpriority(os.PRIO_PROCESS, 0)
        with contextlib.suppress(OSError):
            # Server and templates only coordinate; running them ahead of the sandboxed code
            # keeps them from being preempted mid-dispatch (children go back to this nice).
            os.setpriority(os.PRIO_PROCESS, 0, self.child_nice - 5)
        self.templates: dict[Preload, Template] = {}
        self.tokens = itertools.count()
        self.uids_in_use: set[int] = set()
        self.next_uid = 0
        self.uid_base = UID_BASE + (os.getpid() % (1 << 18)) * UIDS_PER_SERVER
        no_pid_ns = self.guarantees.private_uid and not self.guarantees.pid_namespace
        self.reaper = Reaper() if no_pid_ns else None
        heavy = [m.strip() for m in config.preload_heavy.split(",") if m.strip()]
        pattern = r"\b(" + "|".join(map(re.escape, heavy)) + r")\b"
        self.heavy_pattern = re.compile(pattern) if heavy else None
        self.limits = {
            "cpu_time_s": config.cpu_time_s,
            "memory_mb": config.memory_mb,
            "disk_mb": config.disk_mb,
            "max_open_files": config.max_open_files,
            "max_processes": config.max_processes,
        }
        self.stopping = False

    # ----------------------------------------------------------------- the trainer
    def _send(self, message: dict) -> None:
        self.client.write(encode(message))

    def _on_client(self) -> None:
        try:
            data = self.sock.recv(1 << 20)
        except OSError:
            data = b""
        if not data:
            self.stopping = True
            return
        for message in self.client_frames.feed(data):
            self._handle(message)

    def _handle(self, message: dict) -> None:
        op = message["op"]
        if op == "run":
            self.queue.append(Job(message["id"], message["code"]))
        elif op == "block":
            job = Job(message["id"], message["code"], message["sid"], message["started"])
            self.queue.append(job)
        elif op == "close":
            self._close_session(message["sid"])
        elif op == "cancel":
            self._cancel(set(message["ids"]))
        elif op == "warm":
            self.spare_target[Preload.LIGHT] = self.workers if self.config.isolate else 0
            self.spare_target[self._sessions_preload()] = self.workers

    def _reply(self, job: Job, result: ExecutionResult) -> None:
        self._send({"op": "result", "id": job.id, **result.to_wire()})

    def _close_session(self, sid: int) -> None:
        proc = self.sessions.pop(sid, None)
        if proc is not None:
            self._kill(proc, "closed")
        for job in [job for job in self.queue if job.sid == sid]:
            self.queue.remove(job)
            self._reply(job, ExecutionResult(Outcome.KILLED, "", _KILL_REASONS["closed"]))

    def _cancel(self, ids: set[int]) -> None:
        self.queue = [job for job in self.queue if job.id not in ids]
        for proc in list(self.procs.values()):
            if proc.job is not None and proc.job.id in ids:
                self._kill(proc, "cancelled")

    # ----------------------------------------------------------------- spawning
    def _template(self, preload: Preload) -> Template:
        template = self.templates.get(preload)
        if template is None or not template.alive:
            spec = {
                "modules": self.config.modules(heavy=preload is Preload.HEAVY),
                "limits": self.limits,
                "pid_ns": self.guarantees.pid_namespace,
                "private_uid": self.guarantees.private_uid,
                "read_only": self.guarantees.read_only_filesystem,
                "nice": self.child_nice,
                "view": self.scratch.view,
                "unshare": self.child_flags,
                "landlock": self._landlock_rules(),
            }
            template = Template(
                preload.value, spec, self.loop, self._on_template, self._on_template_death
            )
            self.templates[preload] = template
        return template

    def _landlock_rules(self) -> dict | None:
        """The fixed paths of each child's Landlock domain (the same in and out of the view)."""
        if not self.guarantees.own_landlock_domain:
            return None
        return {"readable": readable(PACKAGE_ROOT), "writable": [*DEVICES, "/proc"]}

    def _allocate_uid(self) -> int | None:
        if not self.guarantees.private_uid:
            return None
        for _ in range(UIDS_PER_SERVER):
            uid = self.uid_base + self.next_uid
            self.next_uid = (self.next_uid + 1) % UIDS_PER_SERVER
            if uid not in self.uids_in_use:
                self.uids_in_use.add(uid)
                return uid
        raise RuntimeError("every private uid of this server is in use")

    def _spawn(self, preload: Preload) -> Proc:
        """Fork a confined child that waits for its first request (a spare)."""
        token = next(self.tokens)
        uid = self._allocate_uid()
        # A name no other program can guess (the scratch root cannot be listed): without
        # Landlock, a program that opens its directory to everyone still shares it with no one.
        name = f"{token}-{os.urandom(8).hex()}"
        workdir = os.path.join(self.scratch.path, name)
        os.mkdir(workdir, 0o700)
        if uid is not None:
            os.chown(workdir, uid, uid)
        out_r, out_w = os.pipe()
        ours, theirs = socket.socketpair()
        template = self._template(preload)
        control = Writer(ours.detach(), self.loop)
        proc = Proc(token, preload, template, uid, workdir, out_r, control)
        self.procs[token] = proc
        os.set_blocking(out_r, False)
        self.loop.on_read(out_r, lambda: self._on_output(proc))
        self.loop.on_read(control.fd, lambda: self._on_control(proc))
        template.spawn(token, uid, self.scratch.child_path(name), [out_w, theirs.fileno()])
        os.close(out_w)
        theirs.close()
        return proc

    def _take(self, preload: Preload) -> Proc:
        """A spare child for new work; from now on keep ``workers`` spares of this kind."""
        if self.heavy_pattern is None:  # no heavy modules: one template serves everything
            preload = Preload.LIGHT
        self.spare_target[preload] = self.workers
        spares = self.spares[preload]
        return spares.pop(0) if spares else self._spawn(preload)

    def _sessions_preload(self) -> Preload:
        """Sessions and reuse-mode workers fork from the heavy template, when there is one."""
        return Preload.HEAVY if self.heavy_pattern is not None else Preload.LIGHT

    def _refill(self) -> None:
        for preload, target in self.spare_target.items():
            while len(self.spares[preload]) < target:
                self.spares[preload].append(self._spawn(preload))

    def _idle_worker(self) -> Proc | None:
        workers = [p for p in self.procs.values() if p.mode is Mode.WORKER and p.killed_for is None]
        idle = next((p for p in workers if p.job is None), None)
        if idle is None and len(workers) < self.workers:
            idle = self._take(Preload.HEAVY)
        return idle

    def _schedule(self) -> None:
        index = 0
        while index < len(self.queue) and self.running < self.workers:
            job = self.queue[index]
            restarted = False
            if job.sid is not None:
                mode = Mode.SESSION
                proc = self.sessions.get(job.sid)
                if proc is not None and proc.job is not None:
                    index += 1
                    continue
                if proc is None:
                    proc = self._take(Preload.HEAVY)
                    proc.sid = job.sid
                    self.sessions[job.sid] = proc
                    restarted = job.started
            elif self.config.isolate:
                mode = Mode.ONESHOT
                proc = self._take(self._preload_for(job.code))
            else:
                mode = Mode.WORKER
                proc = self._idle_worker()
                if proc is None:
                    break
            del self.queue[index]
            self._assign(proc, job, mode, restarted)
        self._refill()

    def _preload_for(self, code: str) -> Preload:
        """A program that names a heavy module runs from the heavy template."""
        heavy = self.heavy_pattern is not None and self.heavy_pattern.search(code) is not None
        return Preload.HEAVY if heavy else Preload.LIGHT

    def _assign(self, proc: Proc, job: Job, mode: Mode, restarted: bool) -> None:
        proc.mode = mode
        proc.job = job
        proc.restarted = restarted
        proc.output = OutputBuffer(self.config.max_output_bytes)
        proc.control.write(record(mode, job.code.encode(errors="surrogatepass")))
        self.running += 1
        if proc.pid is not None:
            proc.deadline = time.monotonic() + self.config.wall_time_s

    # ----------------------------------------------------------------- children
    def _read_output(self, proc: Proc) -> bool:
        """Read one chunk of the child's output; False once nothing more is there now."""
        try:
            data = os.read(proc.out_fd, 1 << 16)
        except BlockingIOError:
            return False
        if not data:
            self.loop.forget(proc.out_fd)
            return False
        if proc.output is not None:
            proc.output.feed(data)
        return True

    def _on_output(self, proc: Proc) -> None:
        self._read_output(proc)

    def _on_control(self, proc: Proc) -> bool:
        """Read one chunk of records from the child; False once nothing more is there now."""
        try:
            data = os.read(proc.control.fd, 1 << 16)
        except BlockingIOError:
            return False
        except OSError:
            data = b""
        if not data:
            self.loop.forget(proc.control.fd)
            return False
        try:
            results = proc.records.feed(data)
        except ProtocolError:
            self._kill(proc, "protocol")
            return False
        for tag, payload in results:
            self._on_result(proc, KINDS[tag], payload.decode(errors="replace")[:1000] or None)
        return True

    def _on_result(self, proc: Proc, kind: str, error: str | None) -> None:
        """The child says how its code ended: answer now, before the process is gone."""
        if proc.job is None:
            return
        self._drain(self._read_output, proc)
        outcome = _OUTCOMES[kind]
        self._finish(proc, outcome, error)
        proc.programs += 1
        if proc.mode is Mode.ONESHOT:
            self._kill(proc, "done")
        elif outcome in (Outcome.TIMEOUT, Outcome.MEMORY):
            self._kill(proc, outcome.value)
        elif proc.mode is Mode.WORKER and proc.programs >= self.config.reuse_max_programs:
            self._kill(proc, "retired")

    def _finish(self, proc: Proc, outcome: Outcome, error: str | None) -> None:
        job = proc.job
        output, truncated = proc.output.render()
        result = ExecutionResult(outcome, output, error, truncated, proc.restarted)
        proc.job = proc.deadline = proc.output = None
        proc.restarted = False
        self.running -= 1
        self._reply(job, result)

    def _kill(self, proc: Proc, reason: str) -> None:
        """SIGKILL the process (its pid namespace goes with it); it is released on exit."""
        if proc.killed_for is None:
            proc.killed_for = reason
        if proc.sid is not None and self.sessions.get(proc.sid) is proc:
            del self.sessions[proc.sid]
        if proc.pidfd is not None:
            with contextlib.suppress(ProcessLookupError):
                signal.pidfd_send_signal(proc.pidfd, signal.SIGKILL)

    def _verdict(self, proc: Proc, status: int, cpu: float) -> tuple[Outcome, str]:
        """Why a process that died without reporting ended, for the job it was running."""
        if proc.killed_for == "timeout":
            return Outcome.TIMEOUT, f"wall time limit exceeded ({self.config.wall_time_s:g} s)"
        if proc.killed_for in _KILL_REASONS:
            return Outcome.KILLED, _KILL_REASONS[proc.killed_for]
        if os.WIFSIGNALED(status):
            sig = os.WTERMSIG(status)
            if sig in (signal.SIGKILL, signal.SIGXCPU) and cpu >= self.config.cpu_time_s - 0.05:
                return Outcome.TIMEOUT, "CPU time limit exceeded"
            tail = proc.output.render()[0][-2000:]
            if "MemoryError" in tail or "Cannot allocate memory" in tail:
                return Outcome.MEMORY, "MemoryError"
            return Outcome.KILLED, f"killed by signal {signal.Signals(sig).name}"
        code = os.waitstatus_to_exitcode(status)
        if code == SETUP_FAILED:
            return Outcome.UNAVAILABLE, "sandbox setup failed in the child"
        if proc.mode is not Mode.ONESHOT:
            return Outcome.KILLED, f"the process exited with status {code}"
        if code == 0:
            return Outcome.OK, ""
        return Outcome.ERROR, f"exit status {code}"

    def _on_template(self, template: Template, tag: int, payload: bytes, fds: list[int]) -> None:
        event, fields = decode_template_record(tag, payload)
        if event == "ready":
            if fields["missing"]:
                missing = ", ".join(fields["missing"])
                self._warn(f"the {template.name} template could not import {missing}")
            if fields["threads"] > 1:
                self._warn(f"the {template.name} template runs {fields['threads']} threads")
            return
        proc = self.procs.get(fields["token"])
        if proc is None:
            for fd in fds:
                os.close(fd)
        elif event == "spawned":
            proc.pid, proc.pidfd = fields["pid"], fds[0]
            if proc.job is not None:
                proc.deadline = time.monotonic() + self.config.wall_time_s
            if proc.killed_for is not None:
                self._kill(proc, proc.killed_for)
        elif event == "exited":
            self._on_exit(proc, fields["status"], fields["cpu"])
        else:
            self._warn(f"could not fork a sandboxed process: {fields['error']}")
            self._on_exit(proc, SETUP_FAILED << 8, 0.0)

    @staticmethod
    def _drain(read: Callable[[Proc], bool], proc: Proc) -> None:
        """What is already in a pipe, up to ``DRAIN_READS`` reads (a background thread of a
        session may keep writing forever; what it writes later is not this block's)."""
        for _ in range(DRAIN_READS):
            if not read(proc):
                return

    def _on_exit(self, proc: Proc, status: int, cpu: float) -> None:
        self._drain(self._on_control, proc)
        if proc.job is not None:
            self._drain(self._read_output, proc)
            outcome, error = self._verdict(proc, status, cpu)
            self._finish(proc, outcome, error or None)
        self._release(proc)

    def _release(self, proc: Proc) -> None:
        for fd in (proc.out_fd, proc.control.fd):
            self.loop.forget(fd)
            os.close(fd)
        if proc in self.spares[proc.preload]:
            self.spares[proc.preload].remove(proc)
        if proc.pidfd is not None:
            os.close(proc.pidfd)
        if proc.uid is not None:
            if self.reaper is not None:
                self.reaper.kill_uid(proc.uid)
            self.uids_in_use.discard(proc.uid)
        elif not self.guarantees.pid_namespace and proc.pid is not None:
            with contextlib.suppress(OSError):
                os.killpg(proc.pid, signal.SIGKILL)
        try:
            os.rmdir(proc.workdir)
        except OSError:
            shutil.rmtree(proc.workdir, ignore_errors=True)
        del self.procs[proc.token]
        if proc.sid is not None and self.sessions.get(proc.sid) is proc:
            del self.sessions[proc.sid]

    def _on_template_death(self, template: Template) -> None:
        for proc in [p for p in self.procs.values() if p.template is template]:
            self._kill(proc, "template")
            self._on_exit(proc, signal.SIGKILL, 0.0)

    def _warn(self, text: str) -> None:
        self._send({"op": "warning", "text": text})

    # ----------------------------------------------------------------- main loop
    def _expire(self) -> float | None:
        """Kill what ran out of wall time; return seconds until the next deadline."""
        now = time.monotonic()
        nearest = None
        for proc in self.procs.values():
            if proc.deadline is None or proc.killed_for is not None:
                continue
            if proc.deadline <= now:
                self._kill(proc, "timeout")
            else:
                nearest = proc.deadline if nearest is None else min(nearest, proc.deadline)
        return None if nearest is None else nearest - now

    def serve(self) -> None:
        self._send({"op": "ready", "guarantees": self.guarantees.to_wire()})
        self._template(Preload.LIGHT)
        while not self.stopping:
            self._schedule()
            self.loop.poll(self._expire())

    def shutdown(self) -> None:
        for proc in list(self.procs.values()):
            self._kill(proc, "shutdown")
        for template in self.templates.values():
            template.stop()
        if self.reaper is not None:
            self.reaper.stop()
        for proc in list(self.procs.values()):
            self._release(proc)
        self.scratch.release()


def main(fd: int, config_json: str) -> None:
    """Entry point of the server process (the trainer passes its socket end as ``fd``)."""
    from sandbox.confine import set_process_name

    set_process_name(b"sandbox-server")
    sock = socket.socket(fileno=fd)
    server = Server(sock, SandboxOptions.from_json(config_json))
    try:
        server.serve()
    finally:
        server.shutdown()

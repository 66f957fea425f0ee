"""Limits and sizing of the sandbox, as plain fields so LightningCLI can fill them from YAML."""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, fields

from checks import InputError, require_at_least


@dataclass
class SandboxOptions:
    """Every limit applies to each execution (a one-shot program or one session block).

    Each process that uses the sandbox (trainer, dataloader worker, DDP rank) owns its pool and
    server: with several ranks on a machine, give each its share of the cores in ``workers``.

    Args:
        workers: executions running at once (None: the number of CPU cores).
        wall_time_s: wall-clock limit, enforced with SIGKILL by the server.
        cpu_time_s: CPU-time limit (all threads of the process), via RLIMIT_CPU.
        memory_mb: address-space limit (RLIMIT_AS; virtual memory, not resident).
        max_output_bytes: stdout+stderr kept, head and tail, per execution.
        max_processes: processes and threads a sandboxed uid may have (RLIMIT_NPROC).
        max_open_files: file descriptors per process (RLIMIT_NOFILE; at least 16).
        disk_mb: size of the private scratch filesystem, and the largest file (RLIMIT_FSIZE).
        isolate: a fresh process for every program (default). False runs one-shot programs in
            reused worker processes with fresh globals: faster, but a program can leave state
            behind (patched modules, threads, files) for the next one on that worker; use it
            only for trusted code. Sessions always get a process of their own.
        preload: modules imported once in the light template, which every program that does
            not name a heavy module is forked from.
        preload_heavy: modules of the heavy template (on top of ``preload``); a program whose
            source names one of them, and every session, is forked from it.
        reuse_max_programs: programs a reuse-mode worker runs before it is replaced.
        namespaces: use Linux namespaces (pid, network, mount, IPC) and Landlock where the
            host allows; False forces the weaker fallback (limits and private uids only).
        private_network: a network namespace of its own for every program. Closes the last
            channel between concurrent programs that the default leaves (a UDP port one binds,
            another finds taken: a bit at a time), for about 0.3 ms of CPU per program plus
            the kernel's deferred teardown: 14% of the isolated mode's throughput
            (``benchmarks/results/sandbox_throughput.md``).
    """

    workers: int | None = None
    wall_time_s: float = 5.0
    cpu_time_s: float = 5.0
    memory_mb: int = 2048
    max_output_bytes: int = 8192
    max_processes: int = 4
    max_open_files: int = 64
    disk_mb: int = 256
    isolate: bool = True
    preload: str = (
        "math,cmath,fractions,decimal,itertools,functools,collections,operator,re,string,"
        "datetime,heapq,bisect"
    )
    preload_heavy: str = "sympy,numpy,statistics,random"
    reuse_max_programs: int = 500
    namespaces: bool = True
    private_network: bool = False

    def __post_init__(self) -> None:
        for name in ("wall_time_s", "cpu_time_s"):
            if getattr(self, name) <= 0:
                raise InputError(f"{name} must be positive, got {getattr(self, name)}")
        counts = ("workers", "memory_mb", "max_output_bytes", "max_processes", "max_open_files")
        require_at_least(self, 1, (*counts, "disk_mb", "reuse_max_programs"), "sandbox")
        if self.max_open_files < 16:
            raise InputError("max_open_files below 16 leaves the interpreter unable to import")

    @property
    def worker_count(self) -> int:
        return self.workers or os.cpu_count() or 1

    def modules(self, heavy: bool) -> list[str]:
        """Modules a template imports before forking: the light set, plus the heavy set if asked."""
        names = self.preload.split(",") + (self.preload_heavy.split(",") if heavy else [])
        return [name.strip() for name in names if name.strip()]

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str) -> SandboxOptions:
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in json.loads(text).items() if k in known})

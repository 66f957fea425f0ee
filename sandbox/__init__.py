"""Sandboxed execution of untrusted, model-written Python code.

Threat model: the code is written by a model under training. It is usually broken, sometimes
pathological (infinite loops, huge allocations, output floods, fork bombs) and, under RL, may
stumble on anything that games its reward: patching builtins, killing its parent, reading
another sample's output, reaching the network. It is not assumed to carry kernel exploits:
the sandbox uses ordinary kernel mechanisms and no seccomp filter, so a kernel bug is out of
scope. Nothing it does may raise in, slow down beyond its limits, or corrupt the trainer.

What holds (Linux, trainer running as root, the normal case in training containers):

* every program and every session runs in a fresh process forked from a warm template
  (``isolate=True``), never in one that ran another sample's code; templates hold no sample
  data, so a fork copies nothing of other samples;
* each process runs under a private uid with no capabilities, ``no_new_privs``, and is pid 1 of
  its own pid namespace: killing it kills everything it started, it cannot see or signal the
  trainer, the server or other samples, and ``RLIMIT_NPROC`` caps its processes and threads;
* kernel limits: address space (``memory_mb``), CPU seconds, file size, open files, no core
  files; the server enforces wall time with SIGKILL, which no signal handler can dodge;
* a private network namespace with only a downed loopback: every connect fails, even to
  127.0.0.1; a private IPC namespace;
* a private mount namespace in which every filesystem is read-only except a tmpfs scratch
  (``disk_mb``) holding each process's own 0700 working directory, removed afterwards;
  ``/proc`` hides other users' processes; directories such as ``/root`` that hold the Python
  installation are covered so that only the installation shows;
* stdout and stderr are captured at the file-descriptor level and cut head+tail to
  ``max_output_bytes``; stdin is empty; the environment is scrubbed;
* results are typed (``ExecutionResult``); the server survives any child's death and exits,
  killing everything, when the trainer's socket closes, even after a SIGKILL of the trainer.

What does not hold, or holds only in part:

* reads are limited only by file permissions: sandboxed code can read world-readable files;
* the CPU limit of a persistent process (session, reuse worker) is per block through SIGXCPU,
  which the code could ignore; the wall-time limit still ends it;
* concurrent sandboxed processes share one network namespace (without connectivity) and can
  meet through abstract unix sockets; ``/tmp`` and other shared directories are read-only;
* without root, in a user namespace, the code keeps the trainer's uid (with no capabilities),
  so ``RLIMIT_NPROC`` is not applied and files owned by that user outside the read-only mounts
  are not exposed; without namespaces at all (``namespaces=False`` or a host that forbids them)
  the network is reachable, world-writable directories are writable, and stray processes are
  killed by uid (root) or process group (non-root). The server logs each missing guarantee.

``isolate=False`` (reuse mode) trades isolation for speed: programs run one after another in
long-lived workers with fresh globals; a program can leave state behind for the next one.
"""

from typing import TYPE_CHECKING

from sandbox.config import SandboxConfig
from sandbox.result import ExecutionResult, Outcome

if TYPE_CHECKING:
    from sandbox.pool import SandboxPool, SandboxSession

__all__ = ["ExecutionResult", "Outcome", "SandboxConfig", "SandboxPool", "SandboxSession"]


def __getattr__(name: str) -> object:
    """Import the trainer-side pool lazily: template processes import this package too, and
    every module they hold (threads, logging) costs copy-on-write work in each fork."""
    if name in ("SandboxPool", "SandboxSession"):
        from sandbox import pool

        return getattr(pool, name)
    raise AttributeError(f"module 'sandbox' has no attribute {name!r}")

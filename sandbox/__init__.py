"""Sandboxed execution of untrusted, model-written Python code.

Threat model: the code is written by a model under training. It is usually broken, sometimes
pathological (infinite loops, huge allocations, output floods, fork bombs) and, under RL, may
stumble on anything that games its reward: patching builtins, killing its parent, reading
another sample's output or the file of gold answers it is graded on, reaching the network. It
is not assumed to carry kernel exploits: the sandbox uses ordinary kernel mechanisms and no
seccomp filter, so a kernel bug is out of scope. Nothing it does may raise in, slow down
beyond its limits, or corrupt the trainer.

How: ``SandboxPool`` (in the trainer, lazily) starts a server process (a fresh interpreter)
that enters private namespaces, builds the filesystem view and supervises everything; two
template processes import the preloaded modules once (a light one, and a heavy one with sympy
and numpy), enter the view and fork each sandboxed process, a few ahead of need. Code and
output go between the server and the child directly: templates hold no sample's data, so a
fork copies nothing of another sample.

What holds (Linux, trainer running as root, the normal case in training containers):

* every program and every session runs in a fresh process (``isolate=True``), never in one
  that ran another sample's code;
* each process runs under a private uid with no capabilities and ``no_new_privs``, as pid 1 of
  its own pid namespace: killing it kills everything it started; it cannot see or signal the
  trainer, the server or other samples; ``RLIMIT_NPROC`` caps its processes and threads;
* kernel limits: address space (``memory_mb``), CPU seconds, file size, open files, no core
  files; the server enforces wall time with SIGKILL, which no signal handler can dodge;
* it sees nothing but Python (``sandbox.view``): a tmpfs root holding read-only bind mounts of
  the Python installation (prefix, import path, shared libraries and the loader's cache),
  ``/dev/null``, ``/dev/zero``, ``/dev/urandom``, a ``/proc`` that shows each user only its own
  processes, and ``/scratch`` with its own 0700 working directory (``disk_mb`` of tmpfs,
  removed afterwards). The project, datasets, home directories, ``/etc``, ``/tmp`` and
  ``/dev/shm`` are absent (FileNotFoundError), not merely read-only; the templates enter the
  view with ``pivot_root`` once their modules are imported;
* a private network namespace with only a downed loopback: every connect fails, even to
  127.0.0.1;
* no channel between concurrent programs: each enters a Landlock domain of its own
  (``sandbox.landlock``; Linux 6.12+), so it can neither reach an abstract unix socket
  another bound nor signal it, TCP bind and connect are refused, and it may open files only
  under the Python installation (reading), the three devices and ``/proc``, and its own
  working directory, whose name is random; System V IPC and POSIX message queues cannot be
  created (their limits are zero in the server's IPC namespace), and POSIX shared memory has
  no ``/dev/shm``;
* stdout and stderr are captured at the file-descriptor level and cut head+tail to
  ``max_output_bytes``; stdin is empty; the environment is scrubbed;
* results are typed (``ExecutionResult``), never exceptions; the server replaces any dead
  process; it exits, killing everything, when the trainer's socket closes (also after a
  SIGKILL of the trainer); a template's death kills its children (its pid namespace).

What does not hold, or only in part:

* a program can forge its own result (it owns its reporting channel), never another's;
* the CPU limit of a persistent process (session, reuse worker) is re-armed per block through
  SIGXCPU, which the code could ignore; the wall-time limit still ends the block;
* concurrent programs share one (disconnected) network namespace: a UDP port one binds is
  taken for another, a covert channel of a bit at a time (as is contention for CPU or
  memory); ``private_network=True`` gives every program a namespace of its own, at about
  0.3 ms of CPU per program plus the kernel's deferred teardown (14% of throughput);
* without Landlock scopes (Linux < 6.12) each program gets a network namespace of its own
  instead (abstract sockets are per namespace), files are confined by the view and by uids
  only, and a program could read what another opens to everyone in its working directory
  if it learned that directory's random name; the server warns;
* without root, the server runs in a user namespace and each child in a nested one of its
  own (so ``RLIMIT_NPROC`` still counts per child): the code keeps the trainer's uid, without
  capabilities; the view, the read-only mounts and Landlock are what protect that user's
  files (this path is not exercised by the test suite, which runs as root);
* without namespaces (``namespaces=False``, or a host that forbids them, e.g. Docker's default
  seccomp profile) there is no view, no Landlock domain and no private network: reads are
  limited by file permissions only (the benchmark file included), the network is reachable,
  world-writable directories are writable and shared between programs, a Python installed
  under ``/root`` is unreadable to the private uid (only preloaded modules import), and stray
  processes are killed by uid (root) or process group (non-root).

The server logs each missing guarantee; ``SandboxPool.guarantees`` lists what holds.

``isolate=False`` (reuse mode) trades isolation for speed: programs run one after another in
long-lived workers with fresh globals; a program can leave state behind for the next one.
"""

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sandbox.options import SandboxOptions
    from sandbox.pool import SandboxPool, SandboxSession
    from sandbox.result import ExecutionResult, Outcome

__all__ = ["ExecutionResult", "Outcome", "SandboxOptions", "SandboxPool", "SandboxSession"]
_HOMES = {
    "ExecutionResult": "result",
    "Outcome": "result",
    "SandboxOptions": "options",
    "SandboxPool": "pool",
    "SandboxSession": "pool",
}


def __getattr__(name: str) -> object:
    """Import lazily: template processes import this package too, and every module they hold
    (dataclasses, threading, logging) adds copy-on-write work to each fork."""
    if name not in _HOMES:
        raise AttributeError(f"module 'sandbox' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(f"sandbox.{_HOMES[name]}"), name)

"""Confining sandboxed processes: what the template sets once, and what each child sets.

Limits that are the same for every child (address space, file size, process count, no core
files, ``no_new_privs``) are set once in the template and inherited through fork. Each child
then, in order: leaves the template's session, enters a Landlock domain of its own, keeps
only its own descriptors, lowers the open-file limit, unshares the namespaces it needs for
itself (if any), drops to its private uid (or, in a user namespace, drops every capability),
and arms the parent-death signal where no pid namespace kills it with the template (a
credential change would reset that signal, hence the order).
"""

from __future__ import annotations

import fcntl
import math
import os
import resource
import signal
from typing import TYPE_CHECKING

from sandbox.syscalls import (
    CLONE_NEWUSER,
    PR_SET_NAME,
    PR_SET_NO_NEW_PRIVS,
    PR_SET_PDEATHSIG,
    drop_capabilities,
    prctl,
    unshare,
)

if TYPE_CHECKING:
    from sandbox.landlock import Plan

# Where a child finds its control socket (requests in, results out).
CTL_FD = 3


def set_process_name(name: bytes) -> None:
    """What ``ps`` and ``top`` show: tells the server and templates apart from the trainer."""
    prctl(PR_SET_NAME, name)


def die_with_parent() -> None:
    prctl(PR_SET_PDEATHSIG, signal.SIGKILL)


def limit_template(limits: dict, private_uid: bool) -> None:
    """Limits every child inherits. The process cap needs a uid of our own: it counts per
    user (and root, the template itself, is exempt), so it is set only with private uids.
    The CPU limit is per child (``confine``): the template's own CPU time keeps growing."""
    memory = limits["memory_mb"] << 20
    files = limits["disk_mb"] << 20
    for which, value in (
        (resource.RLIMIT_AS, (memory, memory)),
        (resource.RLIMIT_DATA, (memory, memory)),
        (resource.RLIMIT_FSIZE, (files, files)),
        (resource.RLIMIT_CORE, (0, 0)),
        (resource.RLIMIT_MEMLOCK, (0, 0)),
        (resource.RLIMIT_MSGQUEUE, (0, 0)),
    ):
        resource.setrlimit(which, value)
    if private_uid:
        resource.setrlimit(resource.RLIMIT_NPROC, (limits["max_processes"],) * 2)
    prctl(PR_SET_NO_NEW_PRIVS, 1)


def close_cpu_limit(seconds: float) -> None:
    """For a one-shot program: SIGKILL one second after the soft limit (SIGXCPU), which
    ``confine`` set with the hard limit open (a fresh child has used next to no CPU yet)."""
    soft = math.ceil(seconds)
    resource.setrlimit(resource.RLIMIT_CPU, (soft, soft + 1))


def rearm_cpu_limit(seconds: float) -> None:
    """For a session block or reuse program: ``seconds`` more CPU from now until SIGXCPU;
    the hard limit stays open for later blocks (wall time still ends a runaway block)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    soft = math.ceil(usage.ru_utime + usage.ru_stime + seconds)
    resource.setrlimit(resource.RLIMIT_CPU, (soft, resource.RLIM_INFINITY))


def _install_fds(out_fd: int, ctl_fd: int) -> None:
    """stdin from /dev/null, stdout+stderr to the output pipe, fd 3 the control socket."""
    high = [fcntl.fcntl(fd, fcntl.F_DUPFD, 100) for fd in (out_fd, ctl_fd)]
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    for target, source in ((1, high[0]), (2, high[0]), (CTL_FD, high[1])):
        os.dup2(source, target)
    os.closerange(CTL_FD + 1, os.sysconf("SC_OPEN_MAX"))


def _own_user_namespace(max_processes: int) -> None:
    """Without root (we are root of a user namespace): a user namespace per child, in which
    the process cap counts this child's processes only (the kernel counts per namespace)."""
    unshare(CLONE_NEWUSER)
    for name, text in (("setgroups", "deny"), ("uid_map", "0 0 1"), ("gid_map", "0 0 1")):
        with open(f"/proc/self/{name}", "w") as handle:
            handle.write(text)
    resource.setrlimit(resource.RLIMIT_NPROC, (max_processes, max_processes))


def confine(spec: dict, uid: int | None, workdir: str, fds: list[int], plan: Plan | None) -> None:
    """Per-child confinement; raises if any step fails (the child then exits unused)."""
    os.setsid()
    os.setpriority(os.PRIO_PROCESS, 0, spec["nice"])
    if plan is not None:  # before the plan's descriptors are closed with the template's
        plan.restrict(workdir)
    _install_fds(*fds)
    os.chdir(workdir)
    limits = spec["limits"]
    resource.setrlimit(resource.RLIMIT_NOFILE, (limits["max_open_files"],) * 2)
    resource.setrlimit(
        resource.RLIMIT_CPU, (math.ceil(limits["cpu_time_s"]), resource.RLIM_INFINITY)
    )
    if uid is not None:
        if spec["unshare"]:
            unshare(spec["unshare"])
        os.setgroups([])
        os.setresgid(uid, uid, uid)
        os.setresuid(uid, uid, uid)
    elif os.geteuid() == 0:
        _own_user_namespace(limits["max_processes"])
        if spec["unshare"]:
            unshare(spec["unshare"])
        drop_capabilities()
    if not spec["pid_ns"]:
        die_with_parent()
    if not spec["read_only"]:
        # With a read-only /tmp, tempfile falls back to the working directory by itself;
        # setting the variable costs ~100 copy-on-write faults, so only do it when needed.
        os.environ["TMPDIR"] = workdir

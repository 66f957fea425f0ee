"""Linux namespaces and mounts for the sandbox server, through libc (no external tools).

The server enters private mount, network and IPC namespaces once; its template processes and
every sandboxed child inherit them. Each child also gets a pid namespace of its own (see
``zygote``). What could be set up is reported as a ``Guarantees`` record, and what could not
becomes a warning the trainer logs.
"""

from __future__ import annotations

import contextlib
import os
import signal
import stat
import sys
from dataclasses import asdict, dataclass, field

from sandbox import landlock
from sandbox.processes import PACKAGE_ROOT
from sandbox.syscalls import (
    CLONE_NEWIPC,
    CLONE_NEWNET,
    CLONE_NEWNS,
    CLONE_NEWPID,
    CLONE_NEWUSER,
    MS_BIND,
    MS_NOATIME,
    MS_NODEV,
    MS_NODIRATIME,
    MS_NOEXEC,
    MS_NOSUID,
    MS_PRIVATE,
    MS_RDONLY,
    MS_REC,
    MS_RELATIME,
    MS_REMOUNT,
    PR_SET_PDEATHSIG,
    mount,
    prctl,
    setns,
    umount,
    unshare,
)
from sandbox.view import SCRATCH, build

# Per-IPC-namespace limits set to zero in the server's namespace: no System V shared memory,
# message queue or semaphore set, and no POSIX message queue, can be created in it, so two
# programs cannot meet through one (POSIX shared memory needs /dev/shm, absent from the view).
_IPC_LIMITS = {
    "kernel/shmmni": "0",
    "kernel/msgmni": "0",
    "kernel/sem": "0 0 0 0",
    "fs/mqueue/queues_max": "0",
}

# Per-mount flags that must be kept on a remount (the kernel refuses to drop locked ones).
_KEPT_FLAGS = {
    "nosuid": MS_NOSUID,
    "nodev": MS_NODEV,
    "noexec": MS_NOEXEC,
    "noatime": MS_NOATIME,
    "nodiratime": MS_NODIRATIME,
    "relatime": MS_RELATIME,
}


@dataclass
class Guarantees:
    """Which OS-level protections hold in this server (False: the fallback is in use)."""

    pid_namespace: bool = False
    network_namespace: bool = False
    read_only_filesystem: bool = False
    private_uid: bool = False
    user_namespace: bool = False
    minimal_view: bool = False
    own_landlock_domain: bool = False
    no_shared_ipc: bool = False
    scratch: str = ""
    warnings: list[str] = field(default_factory=list)

    def to_wire(self) -> dict:
        return asdict(self)


def _mounts() -> list[tuple[str, list[str], str]]:
    """(mount point, per-mount options, filesystem type) for each mount, parents first."""
    result = []
    with open("/proc/self/mountinfo") as handle:
        for line in handle:
            parts = line.split()
            point = parts[4].encode().decode("unicode_escape")
            fstype = parts[parts.index("-") + 1]
            result.append((point, parts[5].split(","), fstype))
    return result


def _remount_read_only(keep_writable: set[str]) -> list[str]:
    """Remount every mount read-only in this namespace; returns the mount points that refused."""
    refused = []
    for point, options, fstype in _mounts():
        if point in keep_writable or fstype == "proc" or "ro" in options:
            continue
        flags = MS_REMOUNT | MS_BIND | MS_RDONLY
        for name, bit in _KEPT_FLAGS.items():
            if name in options:
                flags |= bit
        try:
            mount(None, point, None, flags)
        except OSError:
            refused.append(point)
    return refused


def _needed_paths() -> list[str]:
    """Directories a sandboxed interpreter must read: the Python installation and this package."""
    here = os.path.dirname(os.path.abspath(__file__))
    candidates = [here, sys.prefix, sys.exec_prefix, sys.base_prefix, *sys.path]
    return sorted({os.path.realpath(p) for p in candidates if p and os.path.isdir(p)})


def _close_ipc() -> None:
    """Forbid IPC objects in this (private) IPC namespace; raises if the kernel refuses."""
    for name, value in _IPC_LIMITS.items():
        with open(f"/proc/sys/{name}", "w") as handle:
            handle.write(value)


def _reachable(path: str) -> bool:
    """Whether a user with no rights of its own can enter ``path`` and each of its parents."""
    parts = path.strip("/").split("/")
    return all(
        os.stat("/" + "/".join(parts[:depth])).st_mode & stat.S_IXOTH
        for depth in range(len(parts) + 1)
    )


def _expose(paths: list[str], hold: str) -> None:
    """Make ``paths`` reachable for unprivileged users without opening their parents.

    A parent that others may not enter (e.g. ``/root`` holding a pyenv install) is covered by a
    small tmpfs that contains only bind mounts of the children on the way to ``paths``; the
    rest of that parent stays hidden.
    """
    wanted: dict[str, set[str]] = {}
    for path in paths:
        parts = path.strip("/").split("/")
        for depth in range(len(parts)):
            parent = "/" + "/".join(parts[:depth])
            wanted.setdefault(os.path.normpath(parent), set()).add(parts[depth])
    for index, parent in enumerate(sorted(wanted, key=lambda p: p.count("/") + (p != "/"))):
        if os.stat(parent).st_mode & stat.S_IXOTH:
            continue
        keep = os.path.join(hold, str(index))
        os.mkdir(keep, 0o700)
        mount(parent, keep, None, MS_BIND | MS_REC)
        mount("tmpfs", parent, "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755,size=64k")
        for child in sorted(wanted[parent]):
            source = os.path.join(keep, child)
            target = os.path.join(parent, child)
            if os.path.isdir(source):
                os.mkdir(target)
            else:
                open(target, "w").close()
            mount(source, target, None, MS_BIND | MS_REC)


def _enter_user_namespace() -> None:
    uid, gid = os.getuid(), os.getgid()
    unshare(CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWNET | CLONE_NEWIPC)
    with open("/proc/self/setgroups", "w") as handle:
        handle.write("deny")
    with open("/proc/self/uid_map", "w") as handle:
        handle.write(f"0 {uid} 1")
    with open("/proc/self/gid_map", "w") as handle:
        handle.write(f"0 {gid} 1")


def _become_pid_namespace_init() -> None:
    """Continue as pid 1 of a new pid namespace owned by our user namespace.

    Without root, the per-child pid namespaces need a parent namespace that our user
    namespace owns (``setns`` back into the host's is refused). The calling process stays
    outside as a shim that only waits; the server goes on in the child, which dies with it.
    """
    unshare(CLONE_NEWPID)
    pid = os.fork()
    if pid:
        os.closerange(3, os.sysconf("SC_OPEN_MAX"))
        _, status = os.waitpid(pid, 0)
        os._exit(os.waitstatus_to_exitcode(status) & 0xFF)
    prctl(PR_SET_PDEATHSIG, signal.SIGKILL)


def _probe_pid_namespace() -> bool:
    own = os.open("/proc/self/ns/pid", os.O_RDONLY)
    try:
        unshare(CLONE_NEWPID)
        setns(own, CLONE_NEWPID)
        return True
    except OSError:
        return False
    finally:
        os.close(own)


@dataclass
class Scratch:
    """Where children get their working directories: a tmpfs when mounts are private."""

    path: str
    mounted: bool
    host_parent: int  # fd of the parent directory as the host sees it, to remove the mount point
    view: str = ""  # root of the minimal filesystem view (``sandbox.view``), if built

    def child_path(self, name: str) -> str:
        """Where a child's working directory ``name`` is, as the child sees it."""
        return os.path.join(SCRATCH if self.view else self.path, name)

    def release(self) -> None:
        """Remove the scratch directory (and unmount its tmpfs) when the server stops."""
        import shutil

        if self.mounted:
            with contextlib.suppress(OSError):
                umount(self.path)
            with contextlib.suppress(OSError):
                os.rmdir(os.path.basename(self.path), dir_fd=self.host_parent)
        else:
            shutil.rmtree(self.path, ignore_errors=True)


def isolate(
    use_namespaces: bool, disk_mb: int, private_network: bool
) -> tuple[Guarantees, Scratch, int]:
    """Enter the namespaces this host allows; describe what holds and what does not.

    Also returns the namespaces each child unshares for itself: a network namespace when no
    Landlock domain keeps programs apart (or when ``private_network`` asks for one), an IPC
    namespace when the shared one could not be closed.
    """
    import tempfile

    guarantees = Guarantees()
    root = os.geteuid() == 0
    path = tempfile.mkdtemp(prefix="sandbox-")
    os.chmod(path, 0o711)
    scratch = Scratch(path, False, os.open(os.path.dirname(path), os.O_RDONLY | os.O_DIRECTORY))
    guarantees.scratch = path
    if not use_namespaces:
        guarantees.warnings.append(
            "namespaces disabled by configuration (namespaces=false): no filesystem view, "
            "Landlock domain or private network; sandboxed code can read every world-readable "
            "file"
        )
    else:
        try:
            if root:
                unshare(CLONE_NEWNS | CLONE_NEWNET | CLONE_NEWIPC)
            else:
                _enter_user_namespace()
                guarantees.user_namespace = True
                with contextlib.suppress(OSError):
                    _become_pid_namespace_init()
            mount(None, "/", None, MS_REC | MS_PRIVATE)
            guarantees.network_namespace = True
        except OSError as exc:
            guarantees.warnings.append(
                f"no mount/network namespace ({exc}): sandboxed code can reach the network, "
                "read every world-readable file and write wherever its user may "
                "(world-writable directories such as /tmp)"
            )
        guarantees.pid_namespace = _probe_pid_namespace()
    guarantees.private_uid = root and not guarantees.user_namespace
    if guarantees.network_namespace:
        mount("tmpfs", path, "tmpfs", MS_NOSUID | MS_NODEV, f"mode=0711,size={disk_mb}m")
        scratch.mounted = True
        if guarantees.private_uid:
            hold = os.path.join(path, ".hold")
            os.mkdir(hold, 0o700)
            _expose(_needed_paths(), hold)
        # As root: a /proc of the host's processes, showing each user only its own. In a user
        # namespace: a /proc of our own pid namespace (hidepid would hide nothing there).
        options = "hidepid=2" if guarantees.private_uid else ""
        try:
            mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, options)
        except OSError as exc:
            guarantees.warnings.append(f"/proc shows every process ({exc})")
        refused = _remount_read_only({path})
        guarantees.read_only_filesystem = not refused
        if refused:
            guarantees.warnings.append(f"could not make read-only: {', '.join(refused)}")
        try:
            scratch.view = build(path, PACKAGE_ROOT, options)
            guarantees.minimal_view = True
        except OSError as exc:
            guarantees.warnings.append(
                f"no minimal filesystem view ({exc}): sandboxed code can read every "
                "world-readable file"
            )
        with contextlib.suppress(OSError):
            _close_ipc()
            guarantees.no_shared_ipc = True
    child_flags = 0
    if guarantees.network_namespace:
        guarantees.own_landlock_domain = landlock.available()
        if private_network or not guarantees.own_landlock_domain:
            child_flags |= CLONE_NEWNET
        if not guarantees.no_shared_ipc:
            child_flags |= CLONE_NEWIPC
            guarantees.no_shared_ipc = True
        if not guarantees.own_landlock_domain:
            guarantees.warnings.append(
                "no Landlock scopes (Linux < 6.12): each program gets a network namespace of "
                "its own instead; a program can still read files another program opens to "
                "everyone in its working directory, if it learns the directory's random name"
            )
    if guarantees.private_uid and not guarantees.read_only_filesystem:
        hidden = [p for p in _needed_paths() if not _reachable(p)]
        if hidden:
            guarantees.warnings.append(
                "sandboxed code runs under a private uid that cannot read "
                f"{', '.join(hidden)}: it can import only the preloaded modules"
            )
    if use_namespaces and not guarantees.pid_namespace:
        guarantees.warnings.append(
            "no pid namespace: stray child processes are killed by user id"
            + ("" if guarantees.private_uid else " only through their process group")
        )
    if not guarantees.private_uid and not guarantees.user_namespace:
        guarantees.warnings.append(
            "neither root nor a user namespace: sandboxed code runs as the trainer's user, "
            "can signal and write what that user can, and has no process limit"
        )
    elif not guarantees.private_uid:
        guarantees.warnings.append(
            "not root: sandboxed code keeps the trainer's user id (in a user namespace of its "
            "own, without capabilities); files are protected by the read-only mounts only"
        )
    return guarantees, scratch, child_flags

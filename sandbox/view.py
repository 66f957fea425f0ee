"""The minimal filesystem a sandboxed process sees: the Python installation, three devices,
``/proc``, and the scratch directory. Everything else (the project, datasets, home
directories, ``/etc``, ``/tmp``, ``/dev/shm``) is absent, not merely read-only.

The server builds the view once, in its private mount namespace: a tmpfs root holding
read-only bind mounts at the same paths as on the host (so the interpreter's compiled-in
paths still work) and the scratch directory at ``/scratch``. Each template enters it with
``pivot_root`` after importing its modules (the project tree holding this package is not in
the view), and every child it forks inherits it.
"""

from __future__ import annotations

import os
import sys

from sandbox.syscalls import (
    CLONE_NEWNS,
    MS_BIND,
    MS_NODEV,
    MS_NOEXEC,
    MS_NOSUID,
    MS_RDONLY,
    MS_REC,
    MS_REMOUNT,
    mount,
    pivot_root,
    umount,
    unshare,
)

SCRATCH = "/scratch"
DEVICES = ("/dev/null", "/dev/zero", "/dev/urandom")
# What the dynamic loader searches (the interpreter's C extensions link against libffi,
# libssl, ...), and its cache; /lib and /lib64 are often links into /usr.
LIBRARIES = ("/lib", "/lib64", "/lib32", "/usr/lib", "/usr/lib64", "/usr/lib32")
LOADER_CACHE = "/etc/ld.so.cache"
_OLD_ROOT = "/.host"
# statvfs flags that are also mount flags (same bits); a remount must keep locked ones.
_KEPT = 2 | 4 | 8 | 1024 | 2048  # nosuid, nodev, noexec, noatime, nodiratime
_ST_RELATIME, _MS_RELATIME = 4096, 1 << 21


def _outermost(paths: set[str]) -> list[str]:
    """The paths that are not inside another one of them."""
    ordered = sorted(paths)
    kept: list[str] = []
    for path in ordered:
        if not any(path == k or path.startswith(k.rstrip("/") + "/") for k in kept):
            kept.append(path)
    return kept


def virtual_environment(executable: str) -> str | None:
    """The virtual environment the interpreter was started from, if any: the folder above
    ``bin/`` that holds ``pyvenv.cfg`` (venv, virtualenv, uv). Found from the path as started,
    not resolved: ``bin/python`` is a link into the base installation, and the server runs
    with ``-S``, so ``sys.prefix`` there is the base installation's, not the environment's."""
    root = os.path.dirname(os.path.dirname(os.path.abspath(executable)))
    return root if os.path.isfile(os.path.join(root, "pyvenv.cfg")) else None


def installation(project: str) -> list[str]:
    """Directories of the running Python installation: the prefixes, the virtual environment
    (``bin/`` with its ``python`` links, ``pyvenv.cfg``, its packages), the directory of the
    interpreter as started and as resolved, and import-path entries inside a prefix or named
    ``site-packages`` or ``dist-packages``. A conda environment or a pyenv- or uv-managed
    Python is its own prefix. Anything that holds the project tree (say, a prefix of ``/``)
    is left out: the view would show the project (its templates then fail to start, visibly);
    an environment inside the project (``.venv/``) is shown alone, the project around it not."""
    prefixes = {sys.prefix, sys.exec_prefix, sys.base_prefix, sys.base_exec_prefix}
    prefixes.add(virtual_environment(sys.executable) or "")
    prefixes = {os.path.realpath(p) for p in prefixes if p}
    found = set(prefixes) | {
        os.path.dirname(os.path.realpath(sys.executable)),
        os.path.realpath(os.path.dirname(os.path.abspath(sys.executable))),
    }
    for entry in sys.path:
        real = os.path.realpath(entry) if entry else ""
        inside = any(real.startswith(p.rstrip("/") + "/") for p in prefixes)
        if real and (inside or os.path.basename(real) in ("site-packages", "dist-packages")):
            found.add(real)
    project = os.path.realpath(project)
    return [
        path
        for path in _outermost({p for p in found if os.path.exists(p)})
        if not (project == path or project.startswith(path.rstrip("/") + "/"))
    ]


def readable(project: str) -> list[str]:
    """Every host path the view shows read-only (devices and /proc aside)."""
    paths = installation(project) + [p for p in LIBRARIES if os.path.isdir(p)]
    if os.path.isfile(LOADER_CACHE):
        paths.append(LOADER_CACHE)
    return paths


def _read_only(target: str, keep_devices: bool) -> None:
    flags = os.statvfs(target).f_flag
    extra = (flags & _KEPT) | (_MS_RELATIME if flags & _ST_RELATIME else 0)
    extra |= MS_NOSUID | (0 if keep_devices else MS_NODEV)
    mount(None, target, None, MS_REMOUNT | MS_BIND | MS_RDONLY | extra)


def _bind(source: str, root: str, writable: bool = False, device: bool = False) -> None:
    """Bind ``source`` at the same path under ``root`` (a link is recreated as a link)."""
    target = root + source
    os.makedirs(os.path.dirname(target), 0o755, exist_ok=True)
    if os.path.islink(source) and os.path.dirname(source) == "/":
        os.symlink(os.readlink(source), target)
        return
    if os.path.isdir(source):
        os.makedirs(target, 0o755, exist_ok=True)
    else:
        open(target, "w").close()
    mount(source, target, None, MS_BIND | (0 if device else MS_REC))
    if not writable:
        _read_only(target, keep_devices=device)


def build(scratch: str, project: str, proc_options: str) -> str:
    """Assemble the view under ``scratch`` (server side); returns its root."""
    root = os.path.join(scratch, ".view")
    os.mkdir(root, 0o700)
    mount("tmpfs", root, "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755,size=1m")
    for path in readable(project):
        _bind(path, root)
    for device in DEVICES:
        _bind(device, root, writable=True, device=True)
    os.mkdir(root + "/proc", 0o555)
    mount("proc", root + "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, proc_options)
    os.mkdir(root + SCRATCH, 0o711)
    mount(scratch, root + SCRATCH, None, MS_BIND)
    os.mkdir(root + _OLD_ROOT, 0o700)
    mount(None, root, None, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV)
    return root


def enter(root: str) -> None:
    """Make the view this process's whole filesystem (template side, before any fork)."""
    unshare(CLONE_NEWNS)
    pivot_root(root, root + _OLD_ROOT)
    os.chdir("/")
    umount(_OLD_ROOT)

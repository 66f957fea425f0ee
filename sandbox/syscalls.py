"""The few Linux system calls Python 3.11's ``os`` lacks, through libc: namespaces, mounts,
``pivot_root``, prctl, capabilities and Landlock. Kept free of heavy imports: template
processes load it too."""

from __future__ import annotations

import ctypes
import os

CLONE_NEWNS = 0x00020000
CLONE_NEWIPC = 0x08000000
CLONE_NEWUSER = 0x10000000
CLONE_NEWPID = 0x20000000
CLONE_NEWNET = 0x40000000

MS_RDONLY = 1
MS_NOSUID = 2
MS_NODEV = 4
MS_NOEXEC = 8
MS_REMOUNT = 32
MS_NOATIME = 1024
MS_NODIRATIME = 2048
MS_BIND = 4096
MS_REC = 16384
MS_PRIVATE = 1 << 18
MS_RELATIME = 1 << 21
MNT_DETACH = 2
_PIVOT_ROOT = {"x86_64": 155, "aarch64": 41}
# Landlock has the same numbers on every architecture.
_LANDLOCK_CREATE_RULESET = ctypes.c_long(444)
_LANDLOCK_ADD_RULE = ctypes.c_long(445)
_LANDLOCK_RESTRICT_SELF = ctypes.c_long(446)
LANDLOCK_CREATE_RULESET_VERSION = 1

PR_SET_PDEATHSIG = 1
PR_SET_NAME = 15
PR_CAPBSET_DROP = 24
PR_SET_NO_NEW_PRIVS = 38
PR_CAP_AMBIENT = 47
PR_CAP_AMBIENT_CLEAR_ALL = 4
_LINUX_CAPABILITY_VERSION_3 = 0x20080522

_libc = ctypes.CDLL(None, use_errno=True)
_libc.mount.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_ulong]
_libc.mount.argtypes += [ctypes.c_char_p]
_libc.umount2.argtypes = [ctypes.c_char_p, ctypes.c_int]
_libc.unshare.argtypes = [ctypes.c_int]
_libc.setns.argtypes = [ctypes.c_int, ctypes.c_int]


def _check(result: int, what: str) -> None:
    if result != 0:
        errno = ctypes.get_errno()
        raise OSError(errno, f"{what}: {os.strerror(errno)}")


def unshare(flags: int) -> None:
    _check(_libc.unshare(flags), "unshare")


def setns(fd: int, nstype: int) -> None:
    _check(_libc.setns(fd, nstype), "setns")


def mount(source: str | None, target: str, fstype: str | None, flags: int, data: str = "") -> None:
    def encode(text: str | None) -> bytes | None:
        return None if text is None else text.encode()

    result = _libc.mount(encode(source), target.encode(), encode(fstype), flags, data.encode())
    _check(result, f"mount {target}")


def umount(target: str) -> None:
    _check(_libc.umount2(target.encode(), MNT_DETACH), f"umount {target}")


def pivot_root(new_root: str, put_old: str) -> None:
    machine = os.uname().machine
    if machine not in _PIVOT_ROOT:
        raise OSError(38, f"pivot_root: unknown system call number on {machine}")
    number = ctypes.c_long(_PIVOT_ROOT[machine])
    _check(_libc.syscall(number, new_root.encode(), put_old.encode()), "pivot_root")


def landlock_abi() -> int:
    """The Landlock ABI version the kernel offers (0: none, or disabled)."""
    flags = ctypes.c_uint32(LANDLOCK_CREATE_RULESET_VERSION)
    return max(_libc.syscall(_LANDLOCK_CREATE_RULESET, None, ctypes.c_size_t(0), flags), 0)


class LandlockCalls:
    """The Landlock system calls for one ruleset layout, with every argument but the ruleset's
    descriptor built ahead (in the template): a child then touches few objects, and each
    object it touches costs a copy-on-write page fault."""

    def __init__(self, attr: bytes, rules: list[bytes]) -> None:
        none = ctypes.c_uint32(0)
        self.create = (_LANDLOCK_CREATE_RULESET, attr, ctypes.c_size_t(len(attr)), none)
        path_beneath = ctypes.c_int(1)
        self.rules = [(_LANDLOCK_ADD_RULE, path_beneath, rule, none) for rule in rules]
        self.none = none

    def restrict_self(self, extra_rule: bytes) -> None:
        """A new domain with the prepared rules and ``extra_rule``; raises on failure."""
        syscall = _libc.syscall
        ruleset = syscall(*self.create)
        _check(0 if ruleset >= 0 else -1, "landlock_create_ruleset")
        try:
            for number, kind, rule, none in self.rules:
                _check(syscall(number, ruleset, kind, rule, none), "landlock_add_rule")
            _check(syscall(_LANDLOCK_ADD_RULE, ruleset, 1, extra_rule, self.none), "add_rule")
            _check(syscall(_LANDLOCK_RESTRICT_SELF, ruleset, self.none), "landlock_restrict_self")
        finally:
            os.close(ruleset)


def prctl(option: int, arg: int | bytes = 0) -> None:
    value = ctypes.c_char_p(arg) if isinstance(arg, bytes) else ctypes.c_ulong(arg)
    _check(_libc.prctl(option, value, 0, 0, 0), f"prctl({option})")


def drop_capabilities() -> None:
    """Lose every capability for good (bounding set, ambient, effective and permitted)."""
    with open("/proc/sys/kernel/cap_last_cap") as handle:
        last = int(handle.read())
    for cap in range(last + 1):
        prctl(PR_CAPBSET_DROP, cap)
    prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL)
    header = (ctypes.c_uint32 * 2)(_LINUX_CAPABILITY_VERSION_3, 0)
    data = (ctypes.c_uint32 * 6)()
    _check(_libc.capset(header, data), "capset")

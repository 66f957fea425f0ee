"""A Landlock domain of its own for every sandboxed process (Linux 6.12+, Landlock ABI 6).

Sibling domains cannot reach each other: a program can neither connect to an abstract unix
socket another program bound nor signal it, and it may open files only for reading under the
Python installation, for reading and writing the three devices and ``/proc`` (whose files
act on the process itself), and for anything in its own working directory; TCP bind and
connect are refused. This closes what the shared network namespace
and scratch filesystem would leave open between concurrent programs, at the cost of a dozen
system calls per child: the template opens the fixed paths once (``Plan``), and each child
only adds its working directory.
"""

from __future__ import annotations

import os
import struct

from sandbox.syscalls import (
    landlock_abi,
    landlock_add_rule,
    landlock_create_ruleset,
    landlock_restrict_self,
)

SCOPES_ABI = 6  # the first ABI that scopes abstract unix sockets and signals
_EXECUTE, _WRITE_FILE, _READ_FILE, _READ_DIR = 1, 2, 4, 8
_REFER, _TRUNCATE = 1 << 13, 1 << 14
_NET_BIND_TCP, _NET_CONNECT_TCP = 1, 2
_SCOPE_ABSTRACT_UNIX_SOCKET, _SCOPE_SIGNAL = 1, 2
_PATH_BENEATH = 1
_RULE = struct.Struct("=Qi")  # struct landlock_path_beneath_attr (packed)


def available() -> bool:
    return landlock_abi() >= SCOPES_ABI


class Plan:
    """The rules every child's domain shares, with ``O_PATH`` descriptors opened once in the
    template (children inherit them through fork and close them in ``confine``)."""

    def __init__(self, readable: list[str], writable: list[str]) -> None:
        # ABI 6 handles filesystem rights up to TRUNCATE and IOCTL_DEV; device ioctls stay
        # unhandled (isatty on /dev/null would otherwise fail).
        self.handled = (1 << 13) - 1 | _REFER | _TRUNCATE
        self.ruleset = struct.pack(
            "=QQQ",
            self.handled,
            _NET_BIND_TCP | _NET_CONNECT_TCP,
            _SCOPE_ABSTRACT_UNIX_SOCKET | _SCOPE_SIGNAL,
        )
        self.rules = []
        for path, rights in [(p, _READ_FILE | _READ_DIR | _EXECUTE) for p in readable] + [
            (p, _READ_FILE | _READ_DIR | _WRITE_FILE | _TRUNCATE) for p in writable
        ]:
            fd = os.open(path, os.O_PATH | os.O_CLOEXEC)
            if not os.path.isdir(path):  # a file rule takes file rights only
                rights &= ~_READ_DIR
            self.rules.append(_RULE.pack(rights, fd))

    def restrict(self, workdir: str) -> None:
        """Enter a fresh domain: the shared rules plus every right in ``workdir``."""
        ruleset = landlock_create_ruleset(self.ruleset)
        own = os.open(workdir, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
        try:
            for rule in self.rules:
                landlock_add_rule(ruleset, _PATH_BENEATH, rule)
            landlock_add_rule(ruleset, _PATH_BENEATH, _RULE.pack(self.handled, own))
            landlock_restrict_self(ruleset)
        finally:
            os.close(own)
            os.close(ruleset)

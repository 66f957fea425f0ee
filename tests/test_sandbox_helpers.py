"""Process-table helpers shared by the sandbox tests (this module holds no tests)."""

from __future__ import annotations

import os
import time
from collections.abc import Callable


def _stat(pid: int) -> tuple[int, int] | None:
    """(parent pid, real uid) of a process, or None if it is gone."""
    try:
        with open(f"/proc/{pid}/stat") as handle:
            parent = int(handle.read().rsplit(")", 1)[1].split()[1])
        with open(f"/proc/{pid}/status") as handle:
            uid = next(int(line.split()[1]) for line in handle if line.startswith("Uid:"))
    except (OSError, ValueError, IndexError, StopIteration):
        return None
    return parent, uid


def process_table() -> dict[int, tuple[int, int]]:
    table = {}
    for name in os.listdir("/proc"):
        if name.isdigit() and (info := _stat(int(name))) is not None:
            table[int(name)] = info
    return table


def descendants(root: int | None = None) -> set[int]:
    """Every live process below ``root`` (default: this test process)."""
    root = os.getpid() if root is None else root
    table = process_table()
    children: dict[int, list[int]] = {}
    for pid, (parent, _) in table.items():
        children.setdefault(parent, []).append(pid)
    found, stack = set(), [root]
    while stack:
        for child in children.get(stack.pop(), []):
            found.add(child)
            stack.append(child)
    return found


def with_uid(uid: int) -> list[int]:
    return [pid for pid, (_, owner) in process_table().items() if owner == uid]


def eventually(condition: Callable[[], bool], timeout: float = 3.0) -> bool:
    """Poll ``condition`` until it holds or ``timeout`` seconds pass."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True

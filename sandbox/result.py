"""Typed results: the trainer never sees an exception from running untrusted code."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum


class Outcome(str, Enum):
    """How an execution ended.

    ``UNAVAILABLE`` means the sandbox itself could not run the code (its server failed to start
    or kept dying); it says nothing about the program and should not count as the model's fault.
    """

    OK = "ok"
    ERROR = "error"
    TIMEOUT = "timeout"
    MEMORY = "memory"
    KILLED = "killed"
    UNAVAILABLE = "unavailable"


@dataclass(frozen=True)
class ExecutionResult:
    """What one program or session block did.

    ``output`` is stdout and stderr as written at the file-descriptor level (so C extensions and
    child processes are captured too), cut to head and tail when longer than the limit
    (``truncated``). In sessions the repr of the block's last expression is part of it, as in
    Jupyter. ``error`` is the last traceback line ("ZeroDivisionError: division by zero") or a
    short reason for a timeout or a kill. ``restarted`` marks a session block that ran in a fresh
    session because the previous one was killed: earlier globals are gone.
    """

    outcome: Outcome
    output: str
    error: str | None = None
    truncated: bool = False
    restarted: bool = False

    @property
    def ok(self) -> bool:
        return self.outcome is Outcome.OK

    def to_wire(self) -> dict:
        return {
            "outcome": self.outcome.value,
            "output": self.output,
            "error": self.error,
            "truncated": self.truncated,
            "restarted": self.restarted,
        }

    @classmethod
    def from_wire(cls, message: dict) -> ExecutionResult:
        return cls(
            outcome=Outcome(message["outcome"]),
            output=message["output"],
            error=message["error"],
            truncated=message["truncated"],
            restarted=message["restarted"],
        )

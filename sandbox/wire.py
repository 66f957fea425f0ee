"""Message formats: JSON frames to the trainer, tagged binary records to templates and children.

Both are length-prefixed. Nothing received is ever unpickled: a child is untrusted, so its
records are plain bytes checked against the known tags. Children and templates use binary
records because every module they touch before forking, or right after, costs copy-on-write
page faults in each fork; the trainer link carries richer messages and uses JSON.
"""

from __future__ import annotations

import enum
import json
import os
import select
import struct
import time

FRAME = struct.Struct(">I")
RECORD = struct.Struct(">IB")
MAX_CLIENT_FRAME = 256 << 20


class Mode(enum.IntEnum):
    """How a child runs the code the server sends it; the value is the record's tag."""

    ONESHOT = 0  # one program, then the process ends
    SESSION = 1  # blocks of one session, sharing their globals
    WORKER = 2  # programs one after another with fresh globals (reuse mode)


# Tags of the records between a child and the server.
KINDS = ("ok", "error", "memory", "timeout")

# Records between the server and a template (one per SOCK_SEQPACKET message).
SPAWN = struct.Struct(">Qq")  # token, uid (-1: keep ours); the working directory follows
SPAWNED = struct.Struct(">Qi")  # token, pid; the pidfd travels as ancillary data
EXITED = struct.Struct(">Qid")  # token, wait status, CPU seconds
FAILED = struct.Struct(">Q")  # token; the error text follows
READY, SPAWNED_TAG, EXITED_TAG, FAILED_TAG = range(4)
MAX_TEMPLATE_MESSAGE = 1 << 16
SETUP_FAILED = 71  # exit status of a child whose confinement failed before running code


class ProtocolError(Exception):
    """A peer sent bytes that are not a well-formed message."""


def encode(message: dict) -> bytes:
    payload = json.dumps(message, separators=(",", ":")).encode()
    return FRAME.pack(len(payload)) + payload


class FrameReader:
    """Turns a byte stream, fed in arbitrary chunks, into decoded JSON messages."""

    def __init__(self, max_frame: int) -> None:
        self.max_frame = max_frame
        self.buffer = bytearray()

    def feed(self, data: bytes) -> list[dict]:
        self.buffer += data
        messages = []
        while len(self.buffer) >= FRAME.size:
            (size,) = FRAME.unpack_from(self.buffer)
            if size > self.max_frame:
                raise ProtocolError(f"frame of {size} bytes exceeds {self.max_frame}")
            end = FRAME.size + size
            if len(self.buffer) < end:
                break
            payload = bytes(self.buffer[FRAME.size : end])
            del self.buffer[:end]
            try:
                message = json.loads(payload)
            except ValueError as exc:
                raise ProtocolError(f"undecodable frame: {exc}") from None
            if not isinstance(message, dict):
                raise ProtocolError("frame is not a JSON object")
            messages.append(message)
        return messages


def record(tag: int, payload: bytes = b"") -> bytes:
    return RECORD.pack(len(payload), tag) + payload


class RecordReader:
    """Splits a byte stream into (tag, payload) records, refusing unknown tags and big ones."""

    def __init__(self, max_payload: int, tags: int) -> None:
        self.max_payload = max_payload
        self.tags = tags
        self.buffer = bytearray()

    def feed(self, data: bytes) -> list[tuple[int, bytes]]:
        self.buffer += data
        records = []
        while len(self.buffer) >= RECORD.size:
            size, tag = RECORD.unpack_from(self.buffer)
            if size > self.max_payload or tag >= self.tags:
                raise ProtocolError(f"bad record (tag {tag}, {size} bytes)")
            end = RECORD.size + size
            if len(self.buffer) < end:
                break
            records.append((tag, bytes(self.buffer[RECORD.size : end])))
            del self.buffer[:end]
        return records


def read_exactly(fd: int, size: int, deadline: float | None = None) -> bytes | None:
    """Exactly ``size`` bytes from a blocking pipe or socket; None at end of stream, or once
    ``deadline`` (``time.monotonic()``) passes without the rest arriving."""
    chunks = []
    while size:
        if deadline is not None:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not select.select([fd], [], [], remaining)[0]:
                return None
        chunk = os.read(fd, min(size, 1 << 20))
        if not chunk:
            return None
        chunks.append(chunk)
        size -= len(chunk)
    return b"".join(chunks)


def read_record(fd: int) -> tuple[int, bytes] | None:
    """Blocking read of exactly one record (child side); None at end of stream."""
    header = read_exactly(fd, RECORD.size)
    if header is None:
        return None
    size, tag = RECORD.unpack(header)
    payload = read_exactly(fd, size)
    return None if payload is None else (tag, payload)


def write_all(fd: int, data: bytes) -> None:
    """Blocking write of a whole message (child side)."""
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]

"""A minimal selector loop for the server: per-fd callbacks and buffered non-blocking writes."""

from __future__ import annotations

import os
import selectors
from collections.abc import Callable


class Loop:
    """A selector with per-fd read and write callbacks."""

    def __init__(self) -> None:
        self.selector = selectors.DefaultSelector()
        self.readers: dict[int, Callable[[], None]] = {}
        self.writers: dict[int, Callable[[], None]] = {}

    def _update(self, fd: int) -> None:
        events = (selectors.EVENT_READ if fd in self.readers else 0) | (
            selectors.EVENT_WRITE if fd in self.writers else 0
        )
        registered = fd in self.selector.get_map()
        if events and registered:
            self.selector.modify(fd, events)
        elif events:
            self.selector.register(fd, events)
        elif registered:
            self.selector.unregister(fd)

    def on_read(self, fd: int, callback: Callable[[], None]) -> None:
        self.readers[fd] = callback
        self._update(fd)

    def want_write(self, fd: int, wanted: bool, callback: Callable[[], None]) -> None:
        if wanted == (fd in self.writers):
            return
        if wanted:
            self.writers[fd] = callback
        else:
            del self.writers[fd]
        self._update(fd)

    def forget(self, fd: int) -> None:
        self.readers.pop(fd, None)
        self.writers.pop(fd, None)
        self._update(fd)

    def poll(self, timeout: float | None) -> None:
        for key, events in self.selector.select(timeout):
            if events & selectors.EVENT_READ and key.fd in self.readers:
                self.readers[key.fd]()
            if events & selectors.EVENT_WRITE and key.fd in self.writers:
                self.writers[key.fd]()


class Writer:
    """Non-blocking buffered writes to a pipe or socket, flushed when the loop says so.

    A peer that stops reading (a hostile child) only grows this buffer; it never blocks the
    server. A broken peer turns further writes into no-ops.
    """

    def __init__(self, fd: int, loop: Loop) -> None:
        self.fd = fd
        self.loop = loop
        self.buffer = bytearray()
        self.broken = False
        os.set_blocking(fd, False)

    def write(self, data: bytes) -> None:
        if self.broken:
            return
        self.buffer += data
        self.flush()

    def flush(self) -> None:
        while self.buffer and not self.broken:
            try:
                sent = os.write(self.fd, self.buffer)
            except BlockingIOError:
                break
            except OSError:
                self.broken = True
                self.buffer.clear()
                break
            del self.buffer[:sent]
        self.loop.want_write(self.fd, bool(self.buffer), self.flush)

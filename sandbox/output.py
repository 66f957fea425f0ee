"""Captured output: the head and the tail of a stream, with what was dropped in between."""

from __future__ import annotations


class OutputBuffer:
    """Keeps the first and last bytes of a stream; counts what falls in between."""

    def __init__(self, limit: int) -> None:
        self.head_size = limit // 2
        self.tail_size = limit - self.head_size
        self.head = bytearray()
        self.tail = bytearray()
        self.total = 0

    def feed(self, data: bytes) -> None:
        self.total += len(data)
        room = self.head_size - len(self.head)
        if room > 0:
            self.head += data[:room]
            data = data[room:]
        if data:
            self.tail += data
            if len(self.tail) > self.tail_size:
                del self.tail[: len(self.tail) - self.tail_size]

    def render(self) -> tuple[str, bool]:
        """The text (UTF-8, invalid bytes replaced) and whether anything was cut out."""
        omitted = self.total - len(self.head) - len(self.tail)
        if omitted <= 0:
            return (bytes(self.head) + bytes(self.tail)).decode(errors="replace"), False
        marker = f"\n... [{omitted} bytes of output omitted] ...\n".encode()
        return (bytes(self.head) + marker + bytes(self.tail)).decode(errors="replace"), True

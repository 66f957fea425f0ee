"""What every sample source is, and how file sources read: ``SampleSource`` (an iterable of
``Sample`` objects), ``JsonlSource`` (a jsonl file, record by record) and the UTF-8 line readers.

File sources name the file and line of a bad record, and either stop there (the default) or
skip it and count it, as the config says: nothing is dropped silently.
"""

from __future__ import annotations

import json
import logging
from abc import ABC, abstractmethod
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal

from checks import InputError, MissingInput
from datamodules.sample import Sample

log = logging.getLogger(__name__)
OnError = Literal["raise", "skip"]


class DataRecordError(InputError):
    """A record that cannot be read, with the file and line it came from."""

    def __init__(self, path: Path, line: int, reason: str) -> None:
        super().__init__(f"{path}:{line}: {reason}")
        self.path, self.line, self.reason = path, line, reason


def numbered_lines(path: str | Path) -> Iterator[tuple[int, bytes]]:
    """The non-blank lines of a text file with their numbers, undecoded: ``decode_utf8`` turns
    each into text, so that a byte that is not UTF-8 is reported with its file and line."""
    with open(path, "rb") as lines:
        for number, raw in enumerate(lines, start=1):
            if raw.strip():
                yield number, raw


def decode_utf8(path: str | Path, raw: bytes, first_line: int = 1) -> str:
    """Text read from ``path`` (a line, or the whole file) as UTF-8; anything else raises
    ``DataRecordError`` naming the file and the line of the first bad byte (text mode would
    name neither)."""
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as error:
        line = first_line + raw.count(b"\n", 0, error.start)
        column = error.start - raw.rfind(b"\n", 0, error.start)
        reason = f"not UTF-8 text (byte {raw[error.start]:#04x} at column {column})"
        raise DataRecordError(Path(path), line, reason) from error


def utf8_lines(path: str | Path) -> Iterator[tuple[int, str]]:
    """The non-blank lines of a UTF-8 text file as ``(number, text)``."""
    for number, raw in numbered_lines(path):
        yield number, decode_utf8(path, raw, number)


class SampleSource(ABC):
    """An iterable of samples; ``skipped`` counts records left out under ``on_error="skip"``."""

    skipped: int = 0

    @abstractmethod
    def __iter__(self) -> Iterator[Sample]: ...


class JsonlSource(SampleSource, ABC):
    """Reads a jsonl file line by line, turning each record into a sample with ``parse_record``."""

    def __init__(self, path: str | Path, on_error: OnError = "raise") -> None:
        self.path = Path(path).expanduser()
        self.on_error = on_error

    @abstractmethod
    def parse_record(self, record: dict[str, Any], line: int) -> Sample: ...

    def parse_line(self, text: str, line: int) -> Sample:
        """One jsonl line as a sample; any problem raises ``DataRecordError`` naming file and line.

        Streaming readers (``datamodules/pipeline/streaming.py``) call this on lines read
        elsewhere."""
        try:
            record = json.loads(text)
            if not isinstance(record, dict):
                raise InputError(f"expected a JSON object, got {type(record).__name__}")
            return self.parse_record(record, line)
        except (ValueError, KeyError, TypeError) as error:
            reason = f"missing field {error}" if isinstance(error, KeyError) else str(error)
            raise DataRecordError(self.path, line, reason) from error

    def __iter__(self) -> Iterator[Sample]:
        if not self.path.is_file():
            raise MissingInput(f"data file not found: {self.path}")
        self.skipped = 0
        for number, raw in numbered_lines(self.path):
            try:
                yield self.parse_line(decode_utf8(self.path, raw, number), number)
            except DataRecordError:
                if self.on_error == "raise":
                    raise
                self.skipped += 1
        if self.skipped:
            log.warning("%s: skipped %d malformed records", self.path, self.skipped)


def required_text(record: dict[str, Any], field: str) -> str:
    """A field that must hold a non-empty string; anything else raises naming the field."""
    value = record[field]
    if not isinstance(value, str) or not value.strip():
        raise InputError(f"field {field!r} must be a non-empty string")
    return value

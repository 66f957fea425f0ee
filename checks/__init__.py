"""What a user's input must satisfy: the error that says it does not, and the range rule of every
settings group.

The entry points print an ``InputError`` as one line naming the place (a recipe key, a file and
line) and let any other error keep its traceback, since it is the code's fault. This package
imports nothing of the project, so every package can raise it."""

from __future__ import annotations

from collections.abc import Iterable


class InputError(ValueError):
    """A recipe value, a data record, an argument or a file the user gave is wrong; the message
    names where. A ``ValueError``, so that callers catching that still catch it."""


class MissingInput(InputError, FileNotFoundError):
    """A file, checkpoint or model the user named is not there."""


class MissingExtra(InputError, ImportError):
    """An optional dependency the recipe needs is not installed; the message says how to."""


def require_at_least(settings: object, minimum: int, names: Iterable[str], group: str) -> None:
    """Raises ``InputError`` naming ``group.name`` for the first field below ``minimum``; a
    field that is None (meaning "no limit" or "the default") passes."""
    for name in names:
        value = getattr(settings, name)
        if value is not None and value < minimum:
            raise InputError(f"{group}.{name} must be >= {minimum}, got {value}")

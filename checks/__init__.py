"""Range checks of settings dataclasses, in one place for every package that has settings.

It imports nothing of the project, so every package can import it: the sandbox, whose only
import from the project this is, and the generation, RL and program-search settings all use the
same rule and the same message."""

from __future__ import annotations

from collections.abc import Iterable


def require_at_least(settings: object, minimum: int, names: Iterable[str], group: str) -> None:
    """Raises ``ValueError`` naming ``group.name`` for the first field below ``minimum``; a
    field that is None (meaning "no limit" or "the default") passes."""
    for name in names:
        value = getattr(settings, name)
        if value is not None and value < minimum:
            raise ValueError(f"{group}.{name} must be >= {minimum}, got {value}")

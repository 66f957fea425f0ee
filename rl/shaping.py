"""Reward shaping on top of the task's score."""

from __future__ import annotations

import torch
from torch import Tensor


def overlong_penalty(lengths: Tensor, max_length: int, cache: int) -> Tensor:
    """DAPO's soft overlong punishment (arXiv 2503.14476; TRL's ``get_soft_overlong_punishment``):
    0 up to ``max_length - cache`` tokens, then falling linearly to -1 at ``max_length`` (and
    staying there), so a response learns it is running long before the budget cuts it."""
    if cache <= 0:
        return torch.zeros_like(lengths, dtype=torch.float)
    start = max_length - cache
    return -(((lengths.float() - start) / cache).clamp(0.0, 1.0))

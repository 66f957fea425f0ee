"""Statistics over the tokens a mask selects (the model's own response tokens)."""

from __future__ import annotations

import torch
from torch import Tensor


def masked_mean(values: Tensor, mask: Tensor, dim: int | None = None) -> Tensor:
    """Mean of ``values`` where ``mask`` is True; 0 where nothing is selected (never NaN)."""
    selected = torch.where(mask.bool(), values, 0.0)  # NaN-safe, unlike values * mask
    total = selected.sum() if dim is None else selected.sum(dim)
    count = mask.to(values.dtype).sum() if dim is None else mask.to(values.dtype).sum(dim)
    return total / count.clamp(min=1.0)


def masked_var(values: Tensor, mask: Tensor) -> Tensor:
    """Unbiased variance over the selected entries (0 with fewer than two)."""
    mean = masked_mean(values, mask)
    count = mask.to(values.dtype).sum()
    squares = masked_mean((values - mean) ** 2, mask)
    return squares * count / (count - 1).clamp(min=1)


def masked_whiten(values: Tensor, mask: Tensor, shift_mean: bool = True) -> Tensor:
    """Zero mean, unit variance over the selected entries; unselected entries become 0.

    Whitening advantages keeps the policy-gradient scale independent of the reward scale."""
    mean, variance = masked_mean(values, mask), masked_var(values, mask)
    whitened = (values - mean) * torch.rsqrt(variance + 1e-8)
    if not shift_mean:
        whitened = whitened + mean
    return torch.where(mask.bool(), whitened, 0.0)

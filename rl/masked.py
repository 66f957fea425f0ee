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


def masked_summary(values: Tensor, mask: Tensor) -> dict[str, float]:
    """Mean, standard deviation, minimum and maximum over the selected entries (all 0 when
    none is selected), for logging."""
    selected = values[mask.bool()].float()
    if not selected.numel():
        return {"mean": 0.0, "std": 0.0, "min": 0.0, "max": 0.0}
    std = selected.std().item() if selected.numel() > 1 else 0.0
    return {
        "mean": selected.mean().item(),
        "std": std,
        "min": selected.min().item(),
        "max": selected.max().item(),
    }


def explained_variance(values: Tensor, returns: Tensor, mask: Tensor) -> float:
    """``1 - Var(returns - values) / Var(returns)`` over the selected entries: 1 for a critic
    that predicts its targets, 0 for one no better than a constant (a head still at zero),
    negative when worse. 0 when the returns do not vary."""
    variance = masked_var(returns, mask)
    if variance.item() == 0.0:
        return 0.0
    return (1.0 - masked_var(returns - values, mask) / variance).item()


def first_selected(values: Tensor, mask: Tensor) -> Tensor:
    """Each row's first selected entry, for the rows that have one: (B, T) → (rows,)."""
    mask = mask.bool()
    rows = mask.any(1)
    first = mask.float().argmax(1)  # argmax returns the first maximum
    return values[rows, first[rows]]

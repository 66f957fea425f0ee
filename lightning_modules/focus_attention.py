"""Focus Attention (HTL, arXiv 2402.15729): in training, program tokens lose sight of the question.

The program should follow the reasoning, not re-read the question. So, during training only, the
query rows of the program (``focus_queries``) lose a random fraction ``c`` of their view of the
question's keys (``focus_keys``), except the first ``sinks`` real tokens of the sequence (attention
sinks). Everything else is the plain causal + padding mask, so ``c = 0`` is exactly dense.

Packed rows (several samples in one row, ``datamodules/pipeline/packing.py``) carry ``segment_ids``:
the mask is then block-diagonal (a token sees only its own sample), the sinks are the first tokens
of each sample, and it is built even when nothing is masked, since the plain 2-D padding mask would
let samples see each other.

The mask is a (B, 1, L, L) tensor that transformers passes unchanged to every layer. SDPA takes it
as booleans (True = attend); eager attention *adds* its mask to the scores, so it gets the
equivalent additive float mask (0 or the dtype's minimum) - a boolean one would be silently wrong.
Other implementations are refused: flash attention cannot take such a mask, and no FlexAttention
block-mask path is built (no GPU to verify it on).

The mask replaces the model's own, so it must carry each layer's own window. A model whose layers
all attend the same way gets one mask: as above when that is full causal attention (Llama), else
composed with the window (Mistral). A model that mixes sliding-window and global layers (Gemma 2
and 3, Qwen2 with ``max_window_layers``) builds one mask per layer type itself and takes them as a
dict keyed by type, so it gets that dict: program tokens lose the question on every layer and
otherwise keep exactly what that layer would see, the window being transformers' own
(``sliding_window_overlay``). Within a window every token also sees itself, so a padding query
past the last real token's window is never a row of no keys (NaNs in SDPA).
"""

from __future__ import annotations

from collections.abc import Mapping

import torch
from torch import Tensor
from transformers import PreTrainedConfig, PreTrainedModel
from transformers.masking_utils import sliding_window_overlay

from checks import InputError

SUPPORTED_ATTENTION = ("sdpa", "eager")
FULL, SLIDING = "full_attention", "sliding_attention"


def sink_positions(attention_mask: Tensor, sinks: int, segment_ids: Tensor | None = None) -> Tensor:
    """The first ``sinks`` real tokens of each row, wherever padding puts them (left or right),
    or of each sample of a packed row."""
    if segment_ids is None:
        return attention_mask.bool() & (attention_mask.cumsum(-1) <= sinks)
    return attention_mask.bool() & (positions_in_segment(segment_ids) < sinks)


def positions_in_segment(segment_ids: Tensor) -> Tensor:
    """Each token's offset from the start of its run of equal segment ids."""
    positions = torch.arange(segment_ids.shape[-1], device=segment_ids.device).expand_as(
        segment_ids
    )
    previous = torch.nn.functional.pad(segment_ids[:, :-1], (1, 0), value=-1)
    starts = torch.where(segment_ids != previous, positions, 0).cummax(-1).values
    return positions - starts


def visible_keys(attention_mask: Tensor, segment_ids: Tensor | None = None) -> Tensor:
    """The (B, L, L) causal mask over real keys; with segments, also within one sample only.

    A padding query in a packed row would then see no key at all, and SDPA turns such a row into
    NaNs that leak through the zero attention weights of later layers: it sees itself instead.
    """
    length, device = attention_mask.shape[1], attention_mask.device
    causal = torch.ones(length, length, dtype=torch.bool, device=device).tril_()
    mask = causal & attention_mask.bool()[:, None, :]
    if segment_ids is None:
        return mask
    mask &= segment_ids[:, :, None] == segment_ids[:, None, :]
    return mask | torch.eye(length, dtype=torch.bool, device=device)


def focus_mask(
    attention_mask: Tensor,
    focus_queries: Tensor,
    focus_keys: Tensor,
    coverage: float,
    sinks: int,
    generator: torch.Generator | None = None,
    segment_ids: Tensor | None = None,
) -> Tensor | None:
    """The (B, 1, L, L) bool mask (True = attend), or None when no sample has a rectangle to mask
    and the rows are not packed (``segment_ids`` is None): the 2-D padding mask is then exact.

    ``focus_keys`` still holds the sinks and may hold padding; both are dropped here. Each entry of
    the (focus query x focus key) rectangle is masked with probability ``coverage``, independently
    per sample; the draw covers only the batch's bounding box of the rectangles, to stay cheap.
    """
    if not 0.0 <= coverage <= 1.0:
        raise ValueError(f"coverage must be in [0, 1], got {coverage}")
    real = attention_mask.bool()
    keys = focus_keys & real & ~sink_positions(attention_mask, sinks, segment_ids)
    length, device = real.shape[1], real.device
    positions = torch.arange(length, device=device)
    rows, cols = focus_queries.any(0), keys.any(0)
    # One host sync for the four bounds; an empty side gives start > stop.
    row_start, row_stop, col_start, col_stop = torch.stack(
        [
            torch.where(rows, positions, length).min(),
            torch.where(rows, positions, -1).max() + 1,
            torch.where(cols, positions, length).min(),
            torch.where(cols, positions, -1).max() + 1,
        ]
    ).tolist()
    if row_stop <= row_start or col_stop <= col_start:
        return None if segment_ids is None else visible_keys(real, segment_ids).unsqueeze(1)
    mask = visible_keys(real, segment_ids)
    rectangle = focus_queries[:, row_start:row_stop, None] & keys[:, None, col_start:col_stop]
    if coverage < 1.0:
        draw = torch.rand(rectangle.shape, generator=generator, device=device)
        rectangle &= draw < coverage
    mask[:, row_start:row_stop, col_start:col_stop] &= ~rectangle
    return mask.unsqueeze(1)


def layer_types(config: PreTrainedConfig) -> list[str]:
    """The kinds of attention the model's layers use, each once, in order of first use."""
    default = FULL if getattr(config, "sliding_window", None) is None else SLIDING
    kinds = list(dict.fromkeys(getattr(config, "layer_types", None) or [default]))
    unknown = set(kinds) - {FULL, SLIDING}
    if unknown:
        raise InputError(
            f"focus attention composes with full and sliding-window layers only; the model has "
            f"{sorted(unknown)}: train it dense (MaskCoverage schedule 'none')."
        )
    return kinds


def windowed(mask: Tensor, config: PreTrainedConfig, kind: str) -> Tensor:
    """The (B, 1, L, L) bool mask as a layer of attention ``kind`` sees it: unchanged for global
    layers; within the config's window (and always the token itself) for sliding ones."""
    if kind == FULL:
        return mask
    positions = torch.arange(mask.shape[-1], device=mask.device)
    queries, keys = positions[:, None], positions[None, :]
    window = sliding_window_overlay(config.sliding_window)(None, None, queries, keys)
    return (mask & window) | (queries == keys)


def additive(mask: Tensor, dtype: torch.dtype) -> Tensor:
    """What eager attention adds to its scores for a bool mask: 0 to attend, the minimum not to."""
    return torch.zeros(mask.shape, dtype=dtype, device=mask.device).masked_fill_(
        ~mask, torch.finfo(dtype).min
    )


def _check_attention(model: PreTrainedModel | None) -> None:
    if model is None:
        return
    implementation = model.config._attn_implementation
    if implementation not in SUPPORTED_ATTENTION:
        raise InputError(
            f"Focus attention needs attn_implementation in {SUPPORTED_ATTENTION}, the model uses "
            f"{implementation!r}: load it with attn_implementation='sdpa', or train dense "
            "(MaskCoverage schedule 'none')."
        )


class FocusAttentionMixin:
    """Mixed into a LightningModule that wraps a HF causal LM (found among its submodules).

    ``focus_coverage`` is set by the MaskCoverage callback before each training step. Draws are
    reproducible: the generator is seeded from torch's initial seed (``seed_everything``), the
    rank, the optimizer step and the micro-batch index within that step.
    """

    focus_sinks: int = 4
    focus_coverage: float = 0.0
    _focus_step: int = -1
    _focus_micro: int = 0

    def focus_attention_mask(self, batch: Mapping[str, Tensor]) -> Tensor | dict[str, Tensor]:
        """What to pass as ``attention_mask=`` to the HF model for this batch.

        Training with coverage > 0 and some focus rows, or packed rows (``segment_ids``): the
        (B, 1, L, L) mask (bool for SDPA, additive float for eager), one per layer type for a
        model that mixes sliding-window and global layers. Otherwise (eval / inference /
        c == 0 / no focus rows) the plain 2-D ``batch["attention_mask"]``, so the model is exactly
        dense.
        """
        padding, segment_ids = batch["attention_mask"], batch.get("segment_ids")
        coverage = self.focus_coverage if self.training else 0.0
        if coverage <= 0.0 and segment_ids is None:
            return padding
        mask = focus_mask(
            padding,
            batch["focus_queries"],
            batch["focus_keys"],
            coverage,
            self.focus_sinks,
            self._focus_generator(padding.device) if coverage > 0.0 else None,
            segment_ids,
        )
        if mask is None:
            return padding
        return self._focus_mask_for_model(mask)

    def check_focus_attention_support(self) -> None:
        """Fail fast (at fit start) when the wrapped model cannot take a per-sample 4-D mask."""
        _check_attention(self._focus_model())

    def _focus_model(self) -> PreTrainedModel | None:
        return next((m for m in self.modules() if isinstance(m, PreTrainedModel)), None)

    def _focus_mask_for_model(self, mask: Tensor) -> Tensor | dict[str, Tensor]:
        """Fit the bool mask to the model's layers and attention (no HF model: torch SDPA's
        convention): one mask, or one per layer type for a model that mixes them."""
        model = self._focus_model()
        if model is None:
            return mask
        _check_attention(model)
        per_type = {kind: windowed(mask, model.config, kind) for kind in layer_types(model.config)}
        eager = model.config._attn_implementation == "eager"
        fitted = {kind: additive(m, model.dtype) if eager else m for kind, m in per_type.items()}
        return next(iter(fitted.values())) if len(fitted) == 1 else fitted

    def _focus_generator(self, device: torch.device) -> torch.Generator:
        """A fresh draw per micro-batch, replayed identically by a resumed or re-seeded run."""
        step = int(getattr(self, "global_step", 0))
        self._focus_micro = self._focus_micro + 1 if step == self._focus_step else 0
        self._focus_step = step
        rank = int(getattr(self, "global_rank", 0))
        seed = hash((torch.initial_seed(), rank, step, self._focus_micro)) & (2**63 - 1)
        return torch.Generator(device=device).manual_seed(seed)

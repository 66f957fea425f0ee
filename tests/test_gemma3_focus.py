"""Focus attention on Gemma 3, whose layers alternate sliding-window and global attention: each
layer gets its own mask, checked against one computed by hand with a window small enough to bite."""

from __future__ import annotations

import pytest
import torch
from torch import Tensor
from transformers import Gemma3ForCausalLM, Gemma3TextConfig

from lightning_modules.focus_attention import focus_mask
from tests.test_focus_attention import VOCAB, Focused, htl_batch, tiny_model

WINDOW = 4
KINDS = ["sliding_attention", "full_attention", "sliding_attention", "full_attention"]
SINKS = 2
# (prompt, reasoning, program) lengths: every row is several windows long.
ROWS = [(10, 6, 5), (6, 4, 3), (8, 8, 8)]


def tiny_gemma(attention: str = "sdpa", kinds: list[str] = KINDS) -> Gemma3ForCausalLM:
    torch.manual_seed(0)
    config = Gemma3TextConfig(
        vocab_size=VOCAB,
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=len(kinds),
        num_attention_heads=4,
        num_key_value_heads=1,
        head_dim=8,
        sliding_window=WINDOW,
        layer_types=kinds,
        max_position_embeddings=128,
    )
    model = Gemma3ForCausalLM(config)
    model.set_attn_implementation(attention)
    return model


def hand_mask(batch: dict[str, Tensor], kind: str, masked: bool = True) -> Tensor:
    """What a layer of ``kind`` sees, entry by entry: causal over real keys, within the last
    WINDOW positions on sliding layers (where a token always sees itself), and, when ``masked``
    (full coverage), never the question's non-sink tokens from a program token."""
    real = batch["attention_mask"].bool()
    rows, length = real.shape
    expected = torch.zeros(rows, 1, length, length, dtype=torch.bool)
    for row in range(rows):
        firsts = real[row].nonzero().flatten().tolist()[:SINKS]
        for query in range(length):
            for key in range(query + 1):
                hidden = (
                    masked
                    and batch["focus_queries"][row, query]
                    and batch["focus_keys"][row, key]
                    and key not in firsts
                )
                in_window = kind == "full_attention" or query - key < WINDOW
                seen = bool(real[row, key]) and in_window and not hidden
                expected[row, 0, query, key] = seen or (kind != "full_attention" and key == query)
    return expected


def zero_coverage_mask(batch: dict[str, Tensor]) -> Tensor:
    """The 4-D mask that hides nothing (the causal padding mask)."""
    return focus_mask(batch["attention_mask"], batch["focus_queries"], batch["focus_keys"], 0, 2)


@pytest.mark.parametrize("side", ["left", "right"])
def test_each_layer_type_gets_its_hand_computed_mask(side: str) -> None:
    batch = htl_batch(ROWS, side=side)
    module = Focused(tiny_gemma(), sinks=SINKS, coverage=1.0).train()
    masks = module.focus_attention_mask(batch)
    assert set(masks) == {"sliding_attention", "full_attention"}
    for kind, mask in masks.items():
        assert torch.equal(mask, hand_mask(batch, kind)), kind
    assert not torch.equal(masks["sliding_attention"], masks["full_attention"])


@pytest.mark.parametrize("side", ["left", "right"])
def test_every_layer_attends_exactly_where_its_mask_allows(side: str) -> None:
    batch = htl_batch(ROWS, side=side)
    module = Focused(tiny_gemma("eager"), sinks=SINKS, coverage=1.0).train()  # eager: the weights
    with torch.no_grad():
        output = module.model(
            input_ids=batch["input_ids"],
            attention_mask=module.focus_attention_mask(batch),
            output_attentions=True,
        )
    real = batch["attention_mask"].bool()
    for kind, weights in zip(KINDS, output.attentions, strict=True):
        attended = (weights > 0).all(1)  # every head, (B, L, L)
        assert torch.equal(attended[real], hand_mask(batch, kind)[:, 0][real]), kind


@pytest.mark.parametrize("attention", ["sdpa", "eager"])
@pytest.mark.parametrize("side", ["left", "right"])
def test_zero_coverage_masks_give_the_models_own_logits(attention: str, side: str) -> None:
    batch = htl_batch(ROWS, side=side)
    module = Focused(tiny_gemma(attention), sinks=SINKS).train()
    unmasked = zero_coverage_mask(batch)
    with torch.no_grad():
        own = module.model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"])
        composed = module.model(
            input_ids=batch["input_ids"], attention_mask=module._focus_mask_for_model(unmasked)
        )
    real = batch["attention_mask"].bool()
    torch.testing.assert_close(composed.logits[real], own.logits[real], rtol=0, atol=1e-6)


@pytest.mark.parametrize("side", ["left", "right"])
def test_eager_attention_gives_the_sdpa_logits_for_the_same_masks(side: str) -> None:
    batch = htl_batch(ROWS, side=side)
    module = Focused(tiny_gemma(), sinks=SINKS, coverage=1.0).train()
    with torch.no_grad():
        sdpa = module(batch)
        module.model.set_attn_implementation("eager")
        eager = module(batch)
        dense = module.eval()(batch)
    real = batch["attention_mask"].bool()
    torch.testing.assert_close(eager[real], sdpa[real], rtol=1e-5, atol=1e-5)
    assert (dense[real] - sdpa[real]).abs().max() > 1e-3  # the mask did something


def test_a_model_with_one_window_for_every_layer_gets_one_windowed_mask() -> None:
    batch = htl_batch(ROWS, side="right")
    module = Focused(tiny_model("mistral", sliding_window=WINDOW), sinks=SINKS).train()
    unmasked = zero_coverage_mask(batch)
    mask = module._focus_mask_for_model(unmasked)
    assert torch.equal(mask, hand_mask(batch, "sliding_attention", masked=False))
    with torch.no_grad():
        own = module.model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"])
        composed = module.model(input_ids=batch["input_ids"], attention_mask=mask)
    real = batch["attention_mask"].bool()
    torch.testing.assert_close(composed.logits[real], own.logits[real], rtol=0, atol=1e-6)


def test_attention_kinds_it_cannot_compose_with_are_refused() -> None:
    module = Focused(tiny_gemma()).train()
    module.model.config.layer_types = ["chunked_attention", *KINDS[1:]]
    with pytest.raises(ValueError, match="chunked_attention"):
        module.focus_attention_mask(htl_batch(ROWS, side="right"))

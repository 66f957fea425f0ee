"""The chunked LM loss (for Gemma 3's 262k-entry vocabulary) is transformers' own loss, gradients
included, with focus masks per layer type, soft-capped logits and LoRA's wrapped embeddings."""

from __future__ import annotations

import pytest
import torch
from torch import Tensor

from lightning_modules.lm_loss import causal_lm_loss
from lightning_modules.models import LoraOptions, add_lora
from tests.test_focus_attention import Focused, htl_batch, tiny_model
from tests.test_gemma3_focus import ROWS, tiny_gemma


def loss_and_gradients(module: Focused, batch: dict[str, Tensor], chunk: int | None):
    module.zero_grad()
    loss = causal_lm_loss(module.model, batch, module.focus_attention_mask(batch), chunk)
    loss.backward()
    named = module.named_parameters()
    return loss.detach(), {name: p.grad.clone() for name, p in named if p.grad is not None}


@pytest.mark.parametrize("family", ["gemma3", "gemma3-softcap", "llama"])
@pytest.mark.parametrize("chunk", [1, 7, 4096])
def test_chunked_loss_is_the_models_own_loss_and_gradients(family: str, chunk: int) -> None:
    model = tiny_model() if family == "llama" else tiny_gemma()
    if family == "gemma3-softcap":
        model.config.final_logit_softcapping = 2.0  # Gemma 2's cap, small enough to bite
    module = Focused(model, coverage=1.0).train()
    batch = htl_batch(ROWS, side="right")
    own, own_gradients = loss_and_gradients(module, batch, None)
    chunked, chunked_gradients = loss_and_gradients(module, batch, chunk)
    torch.testing.assert_close(chunked, own, rtol=1e-5, atol=1e-6)
    assert chunked_gradients.keys() == own_gradients.keys() and own_gradients
    for name, gradient in own_gradients.items():
        torch.testing.assert_close(chunked_gradients[name], gradient, rtol=1e-4, atol=1e-6)


def test_lora_with_trainable_token_rows_gets_the_same_loss() -> None:
    options = LoraOptions(r=4, alpha=8, dropout=0.0)
    module = Focused(add_lora(tiny_gemma(), options, new_token_ids=[60, 61]), coverage=1.0)
    batch = htl_batch(ROWS, side="left")
    own, own_gradients = loss_and_gradients(module.train(), batch, None)
    chunked, chunked_gradients = loss_and_gradients(module, batch, 5)
    torch.testing.assert_close(chunked, own, rtol=1e-5, atol=1e-6)
    assert any("trainable_tokens" in name for name in own_gradients)
    for name, gradient in own_gradients.items():
        torch.testing.assert_close(chunked_gradients[name], gradient, rtol=1e-4, atol=1e-6)

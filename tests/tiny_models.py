"""Tiny random Llamas for the tests: one shape, each test overriding only what it needs (the
``tiny_llama`` fixture of ``conftest.py`` hands out :func:`build_tiny_llama`)."""

from __future__ import annotations

from typing import Any

import torch
from transformers import LlamaConfig, LlamaForCausalLM

# Builds in milliseconds; tests override what they need (wider, deeper, heads, token ids).
TINY_LLAMA: dict[str, Any] = {
    "hidden_size": 32,
    "intermediate_size": 64,
    "num_hidden_layers": 1,
    "num_attention_heads": 2,
    "num_key_value_heads": 2,
    "max_position_embeddings": 512,
}
# The generation tests' model: two layers and grouped-query attention (4 heads, 2 KV heads).
ENGINE = {
    "hidden_size": 64,
    "intermediate_size": 128,
    "num_hidden_layers": 2,
    "num_attention_heads": 4,
}


def build_tiny_llama(vocab_size: int, seed: int = 0, **config: Any) -> LlamaForCausalLM:
    """``TINY_LLAMA`` with ``config`` over it, its weights drawn after seeding with ``seed``."""
    torch.manual_seed(seed)
    return LlamaForCausalLM(LlamaConfig(vocab_size=vocab_size, **(TINY_LLAMA | config)))


def engine_llama(vocab_size: int) -> LlamaForCausalLM:
    """The random model the generation engine's tests run every forward pass of (eval mode)."""
    return build_tiny_llama(vocab_size, seed=1, **ENGINE).eval()
